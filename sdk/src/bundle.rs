//! Proof bundles and their offline verification. A bundle carries everything a verifier needs
//! besides the genesis: the transaction, its receipt, its inclusion proof to the log root, the
//! header holding that root, and the commit certificate over the header; for a participant
//! registered on the ledger, its registration by an agency with its receipt and the proof that
//! its log entry is in the same log, before the transaction (version 3; version 2 carried the
//! registration with its own header and certificate, and is still verified); and where it
//! applies, a state proof: the current value of one state key, or its absence, under the state
//! root of a certified header. Verification does no IO and returns what was proven, or the link
//! that failed.

use minicbor::{Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::block::{CertificateError, CommitCertificate, Header, SetChange, ValidatorSet};
use crate::codec::{self, CodecError};
use crate::genesis::{Genesis, GenesisError};
use crate::hash::Digest;
use crate::ids::{AgencyId, BlockId, ChainId, Height, ParticipantId, TxId};
use crate::keys::{self, PublicKey};
use crate::merkle::{InclusionProof, MerkleError, NodeSource, ProofError, earlier_path};
use crate::state_tree::{StateProof, StateProofError};
use crate::tx::{Body, Change, LogEntry, Outcome, Receipt, SignedTx};

/// The current bundle format version. Version 2 made the transaction optional and added the
/// state proof; version 3 proves the signer's registration under the transaction's own header
/// ([`ProvenRegistration`]) instead of under one of its own.
pub const BUNDLE_VERSION: u32 = 3;

/// The oldest bundle format version still verified: bundles and credentials issued in it stay
/// verifiable.
pub const OLDEST_BUNDLE_VERSION: u32 = 2;

/// One committed transaction with the proofs that it was committed.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
pub struct ProvenTx {
    /// The transaction.
    #[n(0)]
    pub transaction: SignedTx,
    /// Its receipt.
    #[n(1)]
    pub receipt: Receipt,
    /// Inclusion of its log entry in the log of `header`.
    #[n(2)]
    pub inclusion: InclusionProof,
    /// The header whose log root the proof leads to.
    #[n(3)]
    pub header: Header,
    /// The quorum's certificate over that header.
    #[n(4)]
    pub certificate: CommitCertificate,
}

/// A signer's registration, proven under the header of the transaction it signed (bundle version
/// 3): the registration and its receipt, whose log entry lies before the transaction's in the
/// same log. RFC 6962 trees split so that their left part is perfect, so the registration's
/// entry lies in a perfect subtree whose root is one of the hashes of the transaction's inclusion
/// path ([`crate::merkle::SharedSubtree`]); `path` leads from the entry to that root. The
/// transaction's proof, header and certificate then prove both.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
pub struct ProvenRegistration {
    /// The registration.
    #[n(0)]
    pub transaction: SignedTx,
    /// Its receipt.
    #[n(1)]
    pub receipt: Receipt,
    /// The hashes from its log entry up to the root of the subtree the transaction's inclusion
    /// path carries, deepest first.
    #[n(2)]
    pub path: Vec<Digest>,
}

impl ProvenRegistration {
    /// Proves the committed registration `transaction`, with its `receipt`, under the log that
    /// `item` (the inclusion proof of a later transaction) leads to, from the log's stored nodes.
    pub fn prove<S: NodeSource>(
        src: &S,
        transaction: SignedTx,
        receipt: Receipt,
        item: &InclusionProof,
    ) -> Result<Self, ProofError<S::Error>> {
        let path = earlier_path(src, receipt.log_index, item.leaf_index, item.tree_size)?;
        Ok(ProvenRegistration {
            transaction,
            receipt,
            path,
        })
    }
}

/// A signer's registration as a bundle carries it, in either version's form.
#[derive(Clone, Copy, Debug)]
enum Registration<'a> {
    /// Version 2: under its own header and certificate.
    Certified(&'a ProvenTx),
    /// Version 3: under the transaction's header.
    UnderItem(&'a ProvenRegistration),
}

impl<'a> Registration<'a> {
    fn transaction(self) -> &'a SignedTx {
        match self {
            Registration::Certified(proven) => &proven.transaction,
            Registration::UnderItem(proven) => &proven.transaction,
        }
    }

    fn receipt(self) -> &'a Receipt {
        match self {
            Registration::Certified(proven) => &proven.receipt,
            Registration::UnderItem(proven) => &proven.receipt,
        }
    }
}

/// The value of one state key, or its absence, with the proof that the tree under a certified
/// header's state root holds it.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
pub struct ProvenState {
    /// The state key.
    #[n(0)]
    #[cbor(with = "minicbor::bytes")]
    #[serde(with = "hex_bytes")]
    pub key: Vec<u8>,
    /// Its value (canonical CBOR of the record), or none when the key is absent.
    #[n(1)]
    #[cbor(with = "minicbor::bytes")]
    #[serde(with = "hex_bytes_option")]
    pub value: Option<Vec<u8>>,
    /// The proof under `header.state_root`.
    #[n(2)]
    pub proof: StateProof,
    /// The header whose state root the proof leads to: the tip when the bundle was made.
    #[n(3)]
    pub header: Header,
    /// The quorum's certificate over that header.
    #[n(4)]
    pub certificate: CommitCertificate,
}

/// A proof bundle: a transaction, a state value, or both.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
pub struct ProofBundle {
    /// Format version: [`BUNDLE_VERSION`], or [`OLDEST_BUNDLE_VERSION`] for bundles made
    /// before it.
    #[n(0)]
    pub version: u32,
    /// The transaction being proven, if any.
    #[n(1)]
    pub item: Option<ProvenTx>,
    /// Version 2 only: when the signer is a participant registered on the ledger (not a founding
    /// agency), the proof of its registration by an agency, which binds its key, under its own
    /// header and certificate. Version 3 carries [`ProofBundle::registration`] instead.
    #[n(2)]
    pub signer_registration: Option<ProvenTx>,
    /// The state value being proven, if any.
    #[n(3)]
    #[serde(default)]
    pub state: Option<ProvenState>,
    /// The certified changes of the validator set from the genesis up to the latest header in
    /// the bundle, in height order (empty while the founding set is in force).
    #[n(4)]
    #[serde(default)]
    pub validator_changes: Vec<SetChange>,
    /// Version 3: when the signer is a participant registered on the ledger, its registration by
    /// an agency, which binds its key, proven under the transaction's header.
    #[n(5)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration: Option<ProvenRegistration>,
}

/// Byte strings as lowercase hex in JSON.
mod hex_bytes {
    pub fn serialize<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(d)?;
        hex::decode(text).map_err(serde::de::Error::custom)
    }
}

/// Optional byte strings as lowercase hex, or null, in JSON.
mod hex_bytes_option {
    pub fn serialize<S: serde::Serializer>(
        bytes: &Option<Vec<u8>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(b) => s.serialize_some(&hex::encode(b)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        let text = <Option<String> as serde::Deserialize>::deserialize(d)?;
        text.map(|t| hex::decode(t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

impl ProofBundle {
    /// Canonical CBOR bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Decodes canonical CBOR, capped at [`codec::MAX_BUNDLE_BYTES`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, VerifyError> {
        codec::decode(bytes, codec::MAX_BUNDLE_BYTES).map_err(VerifyError::Decode)
    }

    /// The links [`BundleVerifier::verify_traced`] checks for this bundle, in the order it
    /// checks them: the genesis, the encoding, the validator-set changes when the bundle
    /// carries any, then the links of the transaction (with its signer's registration when
    /// the bundle carries one) and of the state value, for the parts the bundle carries.
    pub fn links(&self) -> Vec<Link> {
        let mut links = vec![
            Link::new(Part::Bundle, link::GENESIS),
            Link::new(Part::Bundle, link::ENCODING),
        ];
        if !self.validator_changes.is_empty() {
            links.push(Link::new(Part::Bundle, link::VALIDATOR_SET_CHANGE));
        }
        let transaction = |name| Link::new(Part::Transaction, name);
        if self.item.is_some() {
            links.extend([link::CHAIN, link::SIGNER].map(transaction));
            if self.registration_ref().is_some() {
                links.push(transaction(link::SIGNER_REGISTRATION));
            }
            links.extend(
                [
                    link::SIGNATURE,
                    link::RECEIPT,
                    link::INCLUSION_PROOF,
                    link::HEADER,
                    link::CERTIFICATE,
                ]
                .map(transaction),
            );
        } else if self.registration_ref().is_some() {
            // A registration without a transaction is refused at the signer link.
            links.push(transaction(link::SIGNER));
        }
        if self.state.is_some() {
            links.extend(
                [link::HEADER, link::CERTIFICATE, link::STATE_PROOF]
                    .map(|name| Link::new(Part::State, name)),
            );
        }
        links
    }

    /// The signer's registration, in whichever form the bundle carries it.
    fn registration_ref(&self) -> Option<Registration<'_>> {
        match (&self.signer_registration, &self.registration) {
            (Some(proven), _) => Some(Registration::Certified(proven)),
            (None, Some(proven)) => Some(Registration::UnderItem(proven)),
            (None, None) => None,
        }
    }

    /// The signer's registration the bundle carries (in either version's form): the
    /// registration transaction and its receipt.
    pub fn registration_tx(&self) -> Option<(&SignedTx, &Receipt)> {
        self.registration_ref()
            .map(|registration| (registration.transaction(), registration.receipt()))
    }

    /// Reads a bundle in CBOR or JSON (recognised by its first byte).
    pub fn parse(bytes: &[u8]) -> Result<Self, VerifyError> {
        match bytes.first() {
            Some(b'{') => {
                if bytes.len() > codec::MAX_BUNDLE_BYTES * 3 {
                    return Err(VerifyError::Decode(CodecError::TooLarge {
                        limit: codec::MAX_BUNDLE_BYTES * 3,
                        found: bytes.len(),
                    }));
                }
                serde_json::from_slice(bytes)
                    .map_err(|e| VerifyError::Decode(CodecError::Malformed(e.to_string())))
            }
            _ => Self::from_bytes(bytes),
        }
    }
}

/// What a verified bundle proves: a transaction, a state value, or both.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Proven {
    /// The transaction, when the bundle carries one.
    pub transaction: Option<TxFacts>,
    /// The state value, when the bundle carries a state proof.
    pub state: Option<StateFacts>,
}

/// What a verified state proof proves: in the certified state at `height`, `key` holds `value`,
/// or holds nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StateFacts {
    /// The state key.
    #[serde(serialize_with = "hex_bytes::serialize")]
    pub key: Vec<u8>,
    /// Its value, or none when the key is absent.
    #[serde(serialize_with = "hex_bytes_option::serialize")]
    pub value: Option<Vec<u8>>,
    /// The height of the certified header.
    pub height: Height,
    /// Its block.
    pub block_id: BlockId,
    /// The block's time, milliseconds since the Unix epoch.
    pub block_time_ms: u64,
    /// The state root the proof leads to.
    pub state_root: Digest,
    /// The agencies whose precommits certify the block.
    pub certified_by: Vec<AgencyId>,
}

/// What a verified transaction proof proves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TxFacts {
    /// The transaction id.
    pub tx_id: TxId,
    /// Who signed it.
    pub signer: ParticipantId,
    /// With which key.
    pub signer_key: PublicKey,
    /// How that key is known: a founding agency's admin key in the genesis, or registered on the
    /// ledger by an agency at a height.
    pub signer_key_source: String,
    /// What it did.
    pub body: Body,
    /// Its outcome.
    pub outcome: Outcome,
    /// The height of its block.
    pub height: Height,
    /// Its block.
    pub block_id: BlockId,
    /// The block's time, milliseconds since the Unix epoch.
    pub block_time_ms: u64,
    /// Its position in the log.
    pub log_index: u64,
    /// The log size at that block.
    pub log_size: u64,
    /// The agencies whose precommits certify the block.
    pub certified_by: Vec<AgencyId>,
}

/// The names of the links of a bundle's verification, as [`VerifyError::link`] gives them.
pub mod link {
    /// The genesis: every founder signed it.
    pub const GENESIS: &str = "genesis";
    /// The bundle's encoding, version and content.
    pub const ENCODING: &str = "encoding";
    /// The transaction is for the genesis's chain.
    pub const CHAIN: &str = "chain";
    /// The transaction's signature.
    pub const SIGNATURE: &str = "signature";
    /// The signer's key is known.
    pub const SIGNER: &str = "signer";
    /// The proof of the signer's registration.
    pub const SIGNER_REGISTRATION: &str = "signer registration";
    /// The receipt agrees with the inclusion proof and the header.
    pub const RECEIPT: &str = "receipt";
    /// The inclusion proof leads to the header's log root.
    pub const INCLUSION_PROOF: &str = "inclusion proof";
    /// The header names the validator set in force at its height.
    pub const HEADER: &str = "header";
    /// A quorum of that set certifies the header.
    pub const CERTIFICATE: &str = "certificate";
    /// Each change of the validator set is certified by the set before it.
    pub const VALIDATOR_SET_CHANGE: &str = "validator-set change";
    /// The state proof leads to the header's state root.
    pub const STATE_PROOF: &str = "state proof";
}

/// Which part of a proof bundle (or of the credential carrying it) a link checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// The genesis, the bundle's encoding, and the chain of validator-set changes.
    Bundle,
    /// The transaction and its proofs.
    Transaction,
    /// The state value and its proofs.
    State,
    /// A credential's form and its proof value (`crate::credential`).
    Credential,
    /// A credential's claims, against what its bundle proves.
    Claims,
}

/// One link of a verification: a check, named as a failure of it is named. Within one
/// verification, no two links have the same part and name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Link {
    /// The part it checks.
    pub part: Part,
    /// Its name, one of [`link`] (or `credential` and `proof value` for a credential).
    pub name: &'static str,
}

impl Link {
    /// The link `name` of `part`.
    pub const fn new(part: Part, name: &'static str) -> Self {
        Link { part, name }
    }
}

/// The link of a bundle that failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The genesis itself is not valid.
    #[error("link 'genesis' failed: {0}")]
    Genesis(#[from] GenesisError),
    /// The bundle is not decodable.
    #[error("link 'encoding' failed: {0}")]
    Decode(CodecError),
    /// A bundle with neither a transaction nor a state proof.
    #[error("link 'encoding' failed: the bundle carries neither a transaction nor a state proof")]
    Empty,
    /// Unknown bundle version.
    #[error(
        "link 'encoding' failed: bundle version {0} is not supported (expected {OLDEST_BUNDLE_VERSION} to {BUNDLE_VERSION})"
    )]
    Version(u32),
    /// A part the bundle's version does not have.
    #[error("link 'encoding' failed: {0}")]
    Form(&'static str),
    /// The transaction or header names another federation.
    #[error("link 'chain' failed: {what} is for chain {found}, the genesis is chain {expected}")]
    WrongChain {
        /// Which part.
        what: &'static str,
        /// The genesis's chain id.
        expected: ChainId,
        /// The part's chain id.
        found: ChainId,
    },
    /// The transaction's signature does not verify.
    #[error(
        "link 'signature' failed: the signature of transaction {tx} does not verify against {signer}'s key {key}"
    )]
    Signature {
        /// The transaction.
        tx: TxId,
        /// Its signer.
        signer: ParticipantId,
        /// The key checked.
        key: PublicKey,
    },
    /// The signer's key cannot be established.
    #[error("link 'signer' failed: {0}")]
    Signer(String),
    /// The signer's registration proof failed.
    #[error("link 'signer registration' failed: {0}")]
    Registration(Box<VerifyError>),
    /// The receipt does not match the proof or header.
    #[error("link 'receipt' failed: {0}")]
    Receipt(String),
    /// The inclusion proof does not lead to the header's log root.
    #[error("link 'inclusion proof' failed: {0}")]
    Inclusion(#[from] MerkleError),
    /// The header does not belong to the genesis validator set.
    #[error("link 'header' failed: {0}")]
    Header(String),
    /// The certificate does not certify the header.
    #[error("link 'certificate' failed: {0}")]
    Certificate(#[from] CertificateError),
    /// A validator-set change does not follow from the set in force before it.
    #[error("link 'validator-set change' at height {height} failed: {reason}")]
    SetChange {
        /// The height of the change's header.
        height: Height,
        /// What is wrong.
        reason: String,
    },
    /// The state proof does not prove the bundle's value under the header's state root.
    #[error("link 'state proof' failed: key {key}: {error}")]
    StateProof {
        /// The key, as text when it is printable, else `hex:` and its hex.
        key: String,
        /// Why (boxed: the digests it names would make every verification error large).
        error: Box<StateProofError>,
    },
}

impl VerifyError {
    /// The name of the failed link.
    pub fn link(&self) -> &'static str {
        match self {
            VerifyError::Genesis(_) => link::GENESIS,
            VerifyError::Decode(_)
            | VerifyError::Version(_)
            | VerifyError::Form(_)
            | VerifyError::Empty => link::ENCODING,
            VerifyError::WrongChain { .. } => link::CHAIN,
            VerifyError::Signature { .. } => link::SIGNATURE,
            VerifyError::Signer(_) => link::SIGNER,
            VerifyError::Registration(_) => link::SIGNER_REGISTRATION,
            VerifyError::Receipt(_) => link::RECEIPT,
            VerifyError::Inclusion(_) => link::INCLUSION_PROOF,
            VerifyError::Header(_) => link::HEADER,
            VerifyError::Certificate(_) => link::CERTIFICATE,
            VerifyError::SetChange { .. } => link::VALIDATOR_SET_CHANGE,
            VerifyError::StateProof { .. } => link::STATE_PROOF,
        }
    }
}

/// Checks a certificate over a header under a validator set, given with its hash.
type Certify<'a> = dyn Fn(&Header, &CommitCertificate, &ValidatorSet, &Digest) -> Result<Vec<AgencyId>, VerifyError>
    + 'a;

/// The validator sets in force at each height, from the genesis's founding set through a chain
/// of certified changes ([`SetChange`]), each checked against the set in force before it. This
/// is the light client: with it, a header at any height is checked from the genesis alone.
///
/// The usual light-client limit applies: a quorum of a set that has since been replaced could
/// sign a header that contradicts a later change; a verifier shown only that header cannot tell.
/// `caravan follow` keeps the latest checkpoint and reports such forks with both signed headers.
#[derive(Clone, Debug)]
pub struct ValidatorHistory {
    chain_id: ChainId,
    /// The first height each set certifies, the set, and its hash (headers name sets by it);
    /// heights strictly increasing.
    sets: Vec<(Height, ValidatorSet, Digest)>,
}

impl ValidatorHistory {
    /// The founding set, which certifies the blocks from height 1 on until the first change.
    pub fn from_genesis(genesis: &Genesis, chain_id: ChainId) -> Self {
        let set = genesis.content.validator_set();
        let hash = set.hash();
        ValidatorHistory {
            chain_id,
            sets: vec![(Height(1), set, hash)],
        }
    }

    /// How many changes were followed.
    pub fn changes(&self) -> usize {
        self.sets.len() - 1
    }

    /// The latest set known, and the first height it certifies.
    pub fn latest(&self) -> (Height, &ValidatorSet) {
        let (h, set, _) = self.latest_hashed();
        (h, set)
    }

    /// [`ValidatorHistory::latest`], with the set's hash.
    fn latest_hashed(&self) -> (Height, &ValidatorSet, Digest) {
        let (h, set, hash) = self
            .sets
            .last()
            .expect("a history starts with the founding set");
        (*h, set, *hash)
    }

    /// The set that certifies `height`, and the first height of the set after it, if known.
    pub fn at(&self, height: Height) -> (&ValidatorSet, Option<Height>) {
        let i = self.index_at(height);
        (
            &self.sets[i].1,
            self.sets.get(i + 1).map(|(first, _, _)| *first),
        )
    }

    /// The index in `sets` of the set that certifies `height`.
    fn index_at(&self, height: Height) -> usize {
        self.sets
            .partition_point(|(first, _, _)| *first <= height)
            .max(1)
            - 1
    }

    /// Follows `changes`, in height order, checking each certificate with `certify` (which a
    /// [`BundleVerifier`] uses to remember certified headers).
    fn follow_with(
        &mut self,
        changes: &[SetChange],
        certify: &Certify<'_>,
    ) -> Result<(), VerifyError> {
        for change in changes {
            let height = change.header.height;
            let fail = |reason: String| VerifyError::SetChange { height, reason };
            let (first, current, current_hash) = self.latest_hashed();
            if height < first {
                return Err(fail(format!(
                    "changes must be in height order; the set in force since height {first} cannot be changed at height {height}"
                )));
            }
            if change.header.chain_id != self.chain_id {
                return Err(fail(format!(
                    "header is for chain {}, the genesis is chain {}",
                    change.header.chain_id, self.chain_id
                )));
            }
            if change.header.validators_hash != current_hash {
                return Err(fail(format!(
                    "header names validator set {}, the set in force is {}: a change before it is missing",
                    change.header.validators_hash, current_hash
                )));
            }
            if change.header.next_validators_hash != change.validators.hash() {
                return Err(fail(format!(
                    "header commits to next validator set {}, the change carries set {}",
                    change.header.next_validators_hash,
                    change.validators.hash()
                )));
            }
            let next_hash = change.validators.hash();
            if next_hash == current_hash {
                return Err(fail("the change does not change the set".into()));
            }
            change.validators.check().map_err(fail)?;
            certify(&change.header, &change.certificate, current, &current_hash)
                .map_err(|e| fail(format!("the outgoing set's certificate fails: {e}")))?;
            self.sets
                .push((height.next(), change.validators.clone(), next_hash));
        }
        Ok(())
    }

    /// Follows `changes`, in height order, each certified by the set in force before it.
    pub fn follow(&mut self, changes: &[SetChange]) -> Result<(), VerifyError> {
        let chain_id = self.chain_id;
        self.follow_with(changes, &|header, certificate, set, _| {
            Ok(certificate.verify(&chain_id, header.height, &header.id(), set)?)
        })
    }

    /// Checks that `header` is consistent with the known sets: it names the set in force at its
    /// height, and as next set the one a known change introduces (or the same set). Returns the
    /// set that must certify it.
    pub fn expected_set(&self, header: &Header) -> Result<&ValidatorSet, VerifyError> {
        Ok(self.expected_set_hashed(header)?.0)
    }

    /// [`ValidatorHistory::expected_set`], with the set's hash.
    fn expected_set_hashed(&self, header: &Header) -> Result<(&ValidatorSet, Digest), VerifyError> {
        if header.chain_id != self.chain_id {
            return Err(VerifyError::WrongChain {
                what: "header",
                expected: self.chain_id,
                found: header.chain_id,
            });
        }
        let i = self.index_at(header.height);
        let (_, set, hash) = &self.sets[i];
        if header.validators_hash != *hash {
            return Err(VerifyError::Header(format!(
                "header at height {} names validator set {}, the set in force at that height after {} certified change(s) is {}: the chain of validator-set changes skips a change, or the header is forged",
                header.height,
                header.validators_hash,
                self.changes(),
                hash
            )));
        }
        let expected_next = match self.sets.get(i + 1) {
            Some((first, _, next)) if *first == header.height.next() => *next,
            _ => *hash,
        };
        if header.next_validators_hash != expected_next {
            return Err(VerifyError::Header(format!(
                "header at height {} names next validator set {}, which no certified change in the bundle introduces",
                header.height, header.next_validators_hash
            )));
        }
        if set.get(&header.proposer).is_none() {
            return Err(VerifyError::Header(format!(
                "proposer {} of height {} is not a validator of that height",
                header.proposer, header.height
            )));
        }
        Ok((set, *hash))
    }
}

/// Checks a certified header against a validator history: chain, validator set and quorum
/// certificate. Returns the agencies that certified it.
pub fn verify_certified_header(
    history: &ValidatorHistory,
    header: &Header,
    certificate: &CommitCertificate,
) -> Result<Vec<AgencyId>, VerifyError> {
    let set = history.expected_set(header)?;
    Ok(certificate.verify(&history.chain_id, header.height, &header.id(), set)?)
}

/// Checks that the certified checkpoint `new` extends the certified checkpoint `old` (no history
/// was rewritten between them), given a consistency proof between their log sizes and the
/// validator-set changes up to `new`.
pub fn verify_extension(
    genesis: &Genesis,
    changes: &[SetChange],
    old: (&Header, &CommitCertificate),
    new: (&Header, &CommitCertificate),
    proof: &crate::merkle::ConsistencyProof,
) -> Result<(), VerifyError> {
    let chain_id = genesis.verify()?;
    let mut history = ValidatorHistory::from_genesis(genesis, chain_id);
    history.follow(changes)?;
    verify_certified_header(&history, old.0, old.1)?;
    verify_certified_header(&history, new.0, new.1)?;
    if proof.old_size != old.0.log_size || proof.new_size != new.0.log_size {
        return Err(VerifyError::Receipt(format!(
            "consistency proof is for log sizes {} -> {}, the checkpoints have {} -> {}",
            proof.old_size, proof.new_size, old.0.log_size, new.0.log_size
        )));
    }
    proof.verify(&old.0.log_root, &new.0.log_root)?;
    Ok(())
}

/// Records each link passed, by name, for [`BundleVerifier::verify_traced`].
type Pass<'p> = dyn FnMut(&'static str) + 'p;

/// A transaction signature to check: the key, the signed digest, the signature.
type SignatureCheck = (PublicKey, Digest, keys::Signature);

/// Checks that `tx` is for `chain_id` and signed with `key`, returning its id. With `deferred`,
/// the signature is not checked but added to it.
fn check_signature(
    chain_id: &ChainId,
    tx: &SignedTx,
    key: &PublicKey,
    deferred: Option<&mut Vec<SignatureCheck>>,
) -> Result<TxId, VerifyError> {
    if &tx.tx.chain_id != chain_id {
        return Err(VerifyError::WrongChain {
            what: "transaction",
            expected: *chain_id,
            found: tx.tx.chain_id,
        });
    }
    let (tx_id, digest) = tx.tx.id_and_signing_digest();
    match deferred {
        Some(deferred) => deferred.push((*key, digest, tx.signature)),
        None => key
            .verify(&digest, &tx.signature)
            .map_err(|_| VerifyError::Signature {
                tx: tx_id,
                signer: tx.tx.signer.clone(),
                key: *key,
            })?,
    }
    Ok(tx_id)
}

/// Verifies a registration proven under the header of `item`, the transaction its registrant
/// signed, given the key its registrar signs with: its signature, that its log entry is before
/// the transaction's, and that its path leads to the subtree root the transaction's inclusion
/// path carries. Binding to the log root comes with the transaction's own proof, which the
/// caller always checks after: damage to that proof (its position or size against the
/// receipt and header, or a path that does not lead to the header's log root) is left for the
/// transaction's own links to name.
fn verify_under_item(
    chain_id: &ChainId,
    registration: &ProvenRegistration,
    item: &ProvenTx,
    key: &PublicKey,
    deferred: Option<&mut Vec<SignatureCheck>>,
) -> Result<(), VerifyError> {
    let tx_id = check_signature(chain_id, &registration.transaction, key, deferred)?;
    let proof = &item.inclusion;
    if proof.leaf_index != item.receipt.log_index || proof.tree_size != item.header.log_size {
        // The transaction's receipt link fails.
        return Ok(());
    }
    let receipt = &registration.receipt;
    if receipt.log_index >= proof.leaf_index {
        return Err(VerifyError::Receipt(format!(
            "the registration is at log position {}, not before the transaction at log position {}",
            receipt.log_index, proof.leaf_index
        )));
    }
    let leaf = LogEntry {
        tx_id,
        receipt: receipt.clone(),
    }
    .leaf_hash();
    match proof.verify_earlier(receipt.log_index, &leaf, &registration.path) {
        Ok(()) => Ok(()),
        Err(e) => {
            let item_leaf = LogEntry {
                tx_id: item.transaction.id(),
                receipt: item.receipt.clone(),
            }
            .leaf_hash();
            if proof.verify(&item_leaf, &item.header.log_root).is_err() {
                // The transaction's inclusion proof link fails.
                Ok(())
            } else {
                Err(e.into())
            }
        }
    }
}

/// Verifies the proofs of one transaction, given the key its signer signs with, calling
/// `pass` with each link it passes after the chain: signature, receipt, inclusion proof, header
/// and certificate. With `deferred`, the signature is not checked but added to it, and counts as
/// passed: the caller checks it later ([`BundleVerifier::verify_many`]).
fn verify_proven(
    verifier: &BundleVerifier<'_>,
    history: &ValidatorHistory,
    chain_id: &ChainId,
    proven: &ProvenTx,
    key: &PublicKey,
    pass: &mut Pass<'_>,
    deferred: Option<&mut Vec<SignatureCheck>>,
) -> Result<Vec<AgencyId>, VerifyError> {
    let tx_id = check_signature(chain_id, &proven.transaction, key, deferred)?;
    pass(link::SIGNATURE);
    let receipt = &proven.receipt;
    if receipt.height != proven.header.height {
        return Err(VerifyError::Receipt(format!(
            "receipt says height {}, the header is height {}",
            receipt.height, proven.header.height
        )));
    }
    if receipt.log_index != proven.inclusion.leaf_index {
        return Err(VerifyError::Receipt(format!(
            "receipt says log position {}, the proof is for position {}",
            receipt.log_index, proven.inclusion.leaf_index
        )));
    }
    if proven.inclusion.tree_size != proven.header.log_size {
        return Err(VerifyError::Receipt(format!(
            "proof is for a log of {} entries, the header's log has {}",
            proven.inclusion.tree_size, proven.header.log_size
        )));
    }
    pass(link::RECEIPT);
    let leaf = LogEntry {
        tx_id,
        receipt: receipt.clone(),
    }
    .leaf_hash();
    proven.inclusion.verify(&leaf, &proven.header.log_root)?;
    pass(link::INCLUSION_PROOF);
    let (set, set_hash) = history.expected_set_hashed(&proven.header)?;
    pass(link::HEADER);
    let certified_by = verifier.certified(&proven.header, &proven.certificate, set, &set_hash)?;
    pass(link::CERTIFICATE);
    Ok(certified_by)
}

/// Verifies `bundle` against `genesis`, offline. To verify many bundles, a [`BundleVerifier`]
/// checks the genesis and each certified header once.
pub fn verify_bundle(genesis: &Genesis, bundle: &ProofBundle) -> Result<Proven, VerifyError> {
    BundleVerifier::new(genesis)?.verify(bundle)
}

/// Verifies many bundles against one genesis, offline: the genesis is checked once, and each
/// certified header (a header with one exact certificate) once, remembered by the hash of both.
/// A bundle whose block was seen before then costs one signature check and a few hashes.
/// Each answer is the one [`verify_bundle`] gives.
pub struct BundleVerifier<'g> {
    genesis: &'g Genesis,
    chain_id: ChainId,
    /// The genesis's history, which each bundle's validator-set changes extend.
    founding: ValidatorHistory,
    headers: std::sync::Mutex<std::collections::HashMap<[u8; 32], Vec<AgencyId>>>,
}

/// Certified headers remembered at most by a [`BundleVerifier`] (emptied when full).
const REMEMBERED_HEADERS: usize = 4096;

impl<'g> BundleVerifier<'g> {
    /// Checks `genesis` (its founders' signatures) once.
    pub fn new(genesis: &'g Genesis) -> Result<Self, VerifyError> {
        let chain_id = genesis.verify()?;
        Ok(BundleVerifier {
            genesis,
            chain_id,
            founding: ValidatorHistory::from_genesis(genesis, chain_id),
            headers: Default::default(),
        })
    }

    /// Checks `certificate` over `header` under `set`, whose hash is `set_hash` (the caller has
    /// matched it with the header's `validators_hash`), remembering the answer.
    fn certified(
        &self,
        header: &Header,
        certificate: &CommitCertificate,
        set: &ValidatorSet,
        set_hash: &Digest,
    ) -> Result<Vec<AgencyId>, VerifyError> {
        let id = header.id();
        let mut hasher = blake3::Hasher::new();
        hasher.update(id.0.as_bytes());
        hasher.update(set_hash.as_bytes());
        hasher.update(&codec::encode(certificate));
        let key: [u8; 32] = hasher.finalize().into();
        if let Ok(known) = self.headers.lock()
            && let Some(signers) = known.get(&key)
        {
            return Ok(signers.clone());
        }
        let signers = certificate.verify(&self.chain_id, header.height, &id, set)?;
        if let Ok(mut known) = self.headers.lock() {
            if known.len() >= REMEMBERED_HEADERS {
                known.clear();
            }
            known.insert(key, signers.clone());
        }
        Ok(signers)
    }

    /// The genesis this verifier checked.
    pub fn genesis(&self) -> &'g Genesis {
        self.genesis
    }

    /// The genesis's chain id.
    pub fn chain_id(&self) -> ChainId {
        self.chain_id
    }

    /// Verifies one bundle: its transaction and its state proof, whichever it carries.
    pub fn verify(&self, bundle: &ProofBundle) -> Result<Proven, VerifyError> {
        self.verify_traced(bundle, &mut Vec::new())
    }

    /// Verifies one bundle as [`BundleVerifier::verify`] does, appending to `passed` each link
    /// as it passes, in order. When the bundle verifies, `passed` ends with all of
    /// [`ProofBundle::links`]; when it does not, with a prefix of them, and the failed link is
    /// the next one (the genesis passed when this verifier was made).
    pub fn verify_traced(
        &self,
        bundle: &ProofBundle,
        passed: &mut Vec<Link>,
    ) -> Result<Proven, VerifyError> {
        passed.push(Link::new(Part::Bundle, link::GENESIS));
        self.verify_after_genesis(bundle, passed)
    }

    /// Verifies many bundles: each answer is the one [`BundleVerifier::verify`] gives for that
    /// bundle, in order. The transactions' signatures (and their signers' registrations') are
    /// checked together, in batches ([`keys::verify_many`], the rule single checks follow), at
    /// about half the cost of one check each: everything else about each bundle is checked
    /// first with its signatures assumed good, and a bundle one of whose signatures then fails
    /// is verified again alone, which names the link that failed as `verify` does.
    pub fn verify_many(&self, bundles: &[ProofBundle]) -> Vec<Result<Proven, VerifyError>> {
        let mut signatures = Vec::with_capacity(bundles.len());
        let provisional: Vec<_> = bundles
            .iter()
            .map(|bundle| {
                let first = signatures.len();
                let result = self.verify_deferring(bundle, &mut Vec::new(), Some(&mut signatures));
                (first..signatures.len(), result)
            })
            .collect();
        let good = keys::verify_many(&signatures);
        bundles
            .iter()
            .zip(provisional)
            .map(|(bundle, (checks, result))| {
                // With every signature good, the check alone took the path just taken.
                if good[checks].iter().all(|ok| *ok) {
                    result
                } else {
                    self.verify(bundle)
                }
            })
            .collect()
    }

    /// Verifies one bundle from its encoding on, appending each link passed to `passed`.
    pub(crate) fn verify_after_genesis(
        &self,
        bundle: &ProofBundle,
        passed: &mut Vec<Link>,
    ) -> Result<Proven, VerifyError> {
        self.verify_deferring(bundle, passed, None)
    }

    /// [`BundleVerifier::verify_after_genesis`], the transactions' signatures added to
    /// `deferred` instead of checked when it is given.
    fn verify_deferring(
        &self,
        bundle: &ProofBundle,
        passed: &mut Vec<Link>,
        deferred: Option<&mut Vec<SignatureCheck>>,
    ) -> Result<Proven, VerifyError> {
        match (
            bundle.version,
            &bundle.signer_registration,
            &bundle.registration,
        ) {
            (BUNDLE_VERSION, Some(_), _) => {
                return Err(VerifyError::Form(
                    "a version 3 bundle proves its signer's registration under the transaction's header, in 'registration'; 'signer_registration' is version 2's",
                ));
            }
            (OLDEST_BUNDLE_VERSION, _, Some(_)) => {
                return Err(VerifyError::Form(
                    "a version 2 bundle proves its signer's registration under its own header, in 'signer_registration'; 'registration' is version 3's",
                ));
            }
            (OLDEST_BUNDLE_VERSION | BUNDLE_VERSION, _, _) => {}
            (version, _, _) => return Err(VerifyError::Version(version)),
        }
        if bundle.item.is_none() && bundle.state.is_none() {
            return Err(VerifyError::Empty);
        }
        passed.push(Link::new(Part::Bundle, link::ENCODING));
        let mut history = self.founding.clone();
        history.follow_with(
            &bundle.validator_changes,
            &|header, certificate, set, set_hash| {
                self.certified(header, certificate, set, set_hash)
            },
        )?;
        if !bundle.validator_changes.is_empty() {
            passed.push(Link::new(Part::Bundle, link::VALIDATOR_SET_CHANGE));
        }
        let transaction = match &bundle.item {
            Some(item) => Some(self.verify_item(
                item,
                bundle.registration_ref(),
                &history,
                &mut |name| passed.push(Link::new(Part::Transaction, name)),
                deferred,
            )?),
            None if bundle.registration_ref().is_some() => {
                return Err(VerifyError::Signer(
                    "the bundle carries a signer registration but no transaction".into(),
                ));
            }
            None => None,
        };
        let state = match &bundle.state {
            Some(state) => Some(self.verify_state_passing(state, &history, &mut |name| {
                passed.push(Link::new(Part::State, name))
            })?),
            None => None,
        };
        Ok(Proven { transaction, state })
    }

    /// Verifies a state proof: its header is certified, and the proof leads from the key and
    /// value (or absence) to the header's state root.
    pub fn verify_state(
        &self,
        state: &ProvenState,
        history: &ValidatorHistory,
    ) -> Result<StateFacts, VerifyError> {
        self.verify_state_passing(state, history, &mut |_| {})
    }

    /// [`BundleVerifier::verify_state`], calling `pass` with each link it passes: header,
    /// certificate, state proof.
    fn verify_state_passing(
        &self,
        state: &ProvenState,
        history: &ValidatorHistory,
        pass: &mut Pass<'_>,
    ) -> Result<StateFacts, VerifyError> {
        let (set, set_hash) = history.expected_set_hashed(&state.header)?;
        pass(link::HEADER);
        let certified_by = self.certified(&state.header, &state.certificate, set, &set_hash)?;
        pass(link::CERTIFICATE);
        state
            .proof
            .verify(&state.header.state_root, &state.key, state.value.as_deref())
            .map_err(|error| VerifyError::StateProof {
                key: printable_key(&state.key),
                error: Box::new(error),
            })?;
        pass(link::STATE_PROOF);
        Ok(StateFacts {
            key: state.key.clone(),
            value: state.value.clone(),
            height: state.header.height,
            block_id: state.header.id(),
            block_time_ms: state.header.time_ms,
            state_root: state.header.state_root,
            certified_by,
        })
    }

    /// Verifies a transaction and its signer's registration, calling `pass` with each link it
    /// passes: chain, signer, signer registration (when there is one), then the transaction's
    /// proofs.
    fn verify_item(
        &self,
        item: &ProvenTx,
        signer_registration: Option<Registration<'_>>,
        history: &ValidatorHistory,
        pass: &mut Pass<'_>,
        mut deferred: Option<&mut Vec<SignatureCheck>>,
    ) -> Result<TxFacts, VerifyError> {
        let genesis = self.genesis;
        let chain_id = self.chain_id;
        if item.transaction.tx.chain_id != chain_id {
            return Err(VerifyError::WrongChain {
                what: "transaction",
                expected: chain_id,
                found: item.transaction.tx.chain_id,
            });
        }
        pass(link::CHAIN);
        let signer = &item.transaction.tx.signer;
        let founder = genesis
            .content
            .agencies
            .iter()
            .find(|card| card.agency.as_str() == signer.as_str());
        let (key, source) = match (founder, signer_registration) {
            (Some(card), None) => {
                pass(link::SIGNER);
                (
                    card.admin_key,
                    format!(
                        "admin key of founding agency {}, in the genesis",
                        card.agency
                    ),
                )
            }
            (Some(_), Some(_)) => {
                return Err(VerifyError::Signer(format!(
                    "{signer} is a founding agency, whose key is in the genesis; the bundle must not carry a registration"
                )));
            }
            (None, None) => {
                return Err(VerifyError::Signer(format!(
                    "{signer} is not a founding agency and the bundle carries no proof of its registration"
                )));
            }
            (None, Some(registration)) => {
                // The signer is not a founder and the bundle carries its registration: from
                // here on, whatever fails is the registration's link.
                pass(link::SIGNER);
                let registrar = &registration.transaction().tx.signer;
                let card = genesis
                .content
                .agencies
                .iter()
                .find(|card| card.agency.as_str() == registrar.as_str())
                .ok_or_else(|| {
                    VerifyError::Registration(Box::new(VerifyError::Signer(format!(
                        "registration of {signer} is signed by {registrar}, which is not a founding agency"
                    ))))
                })?;
                match registration {
                    Registration::Certified(proven) => verify_proven(
                        self,
                        history,
                        &chain_id,
                        proven,
                        &card.admin_key,
                        &mut |_| {},
                        deferred.as_deref_mut(),
                    )
                    .map(drop),
                    Registration::UnderItem(proven) => verify_under_item(
                        &chain_id,
                        proven,
                        item,
                        &card.admin_key,
                        deferred.as_deref_mut(),
                    ),
                }
                .map_err(|e| VerifyError::Registration(Box::new(e)))?;
                let (transaction, receipt) = (registration.transaction(), registration.receipt());
                if receipt.outcome != Outcome::Accepted {
                    return Err(VerifyError::Registration(Box::new(VerifyError::Receipt(
                        "the registration was rejected by the ledger".into(),
                    ))));
                }
                let registered = match &transaction.tx.body {
                    Body::RegisterParticipant { id, public_key, .. }
                    | Body::RegisterEnterprise { id, public_key, .. }
                        if id == signer =>
                    {
                        Some(*public_key)
                    }
                    // An agency admitted by governance: its key is in the proposal, and the
                    // ledger accepts its transactions only once the change is enacted.
                    Body::ProposeChange { change } => match &**change {
                        Change::AddAgency { card } if card.agency.as_str() == signer.as_str() => {
                            Some(card.admin_key)
                        }
                        _ => None,
                    },
                    _ => None,
                };
                match registered {
                    Some(public_key) => {
                        if receipt.height >= item.receipt.height
                            && !(receipt.height == item.receipt.height
                                && receipt.index < item.receipt.index)
                        {
                            return Err(VerifyError::Registration(Box::new(VerifyError::Receipt(
                                format!(
                                    "{signer} was registered at height {} position {}, not before the transaction at height {} position {}",
                                    receipt.height,
                                    receipt.index,
                                    item.receipt.height,
                                    item.receipt.index
                                ),
                            ))));
                        }
                        pass(link::SIGNER_REGISTRATION);
                        (
                            public_key,
                            format!(
                                "registered on the ledger by {} at height {}",
                                registrar, receipt.height
                            ),
                        )
                    }
                    None => {
                        return Err(VerifyError::Registration(Box::new(VerifyError::Signer(
                            format!("the registration transaction does not register {signer}"),
                        ))));
                    }
                }
            }
        };
        let certified_by = verify_proven(self, history, &chain_id, item, &key, pass, deferred)?;
        Ok(TxFacts {
            tx_id: item.transaction.id(),
            signer: signer.clone(),
            signer_key: key,
            signer_key_source: source,
            body: item.transaction.tx.body.clone(),
            outcome: item.receipt.outcome.clone(),
            height: item.header.height,
            block_id: item.header.id(),
            block_time_ms: item.header.time_ms,
            log_index: item.receipt.log_index,
            log_size: item.header.log_size,
            certified_by,
        })
    }
}

/// A state key for messages: as text when it is printable ASCII, else `hex:` and its hex. Keys
/// are a prefix and text parts, or raw 32-byte ids after the prefix.
pub fn printable_key(key: &[u8]) -> String {
    if key.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        String::from_utf8_lossy(key).into_owned()
    } else {
        format!("hex:{}", hex::encode(key))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::block::{CommitSignature, VoteKind, vote_digest};
    use crate::genesis::tests::test_genesis;
    use crate::hash::Digest;
    use crate::ids::Nonce;
    use crate::keys::Keypair;
    use crate::merkle::{MemoryLog, inclusion_proof};
    use crate::tx::{Role, UnsignedTx};

    /// A ledger built by hand, one block per transaction in the order given, each block
    /// certified by a quorum of the genesis validators (`validator_keys`); returns each
    /// transaction with its proofs against its own block.
    pub(crate) fn prove_in_blocks(
        genesis: &Genesis,
        validator_keys: &[Keypair],
        transactions: Vec<SignedTx>,
    ) -> Vec<ProvenTx> {
        let chain_id = genesis.chain_id();
        let validators = genesis.content.validator_set();
        let mut log = MemoryLog::new();
        let mut parent = BlockId(Digest::ZERO);
        let mut proven = Vec::new();
        for (i, tx) in transactions.into_iter().enumerate() {
            let height = Height(i as u64 + 1);
            let receipt = Receipt {
                height,
                index: 0,
                log_index: i as u64,
                outcome: Outcome::Accepted,
            };
            log.append(
                LogEntry {
                    tx_id: tx.id(),
                    receipt: receipt.clone(),
                }
                .leaf_hash(),
            );
            let header = Header {
                chain_id,
                height,
                time_ms: 1_000 * (i as u64 + 1),
                parent,
                transactions_root: crate::block::transactions_root(std::slice::from_ref(&tx)),
                transaction_count: 1,
                log_root: log.root(),
                log_size: log.size(),
                state_root: Digest([i as u8; 32]),
                validators_hash: validators.hash(),
                next_validators_hash: validators.hash(),
                proposer: validators.validators[0].public_key,
            };
            parent = header.id();
            let digest = vote_digest(
                &chain_id,
                VoteKind::Precommit,
                height,
                0,
                Some(&header.id()),
            );
            let certificate = CommitCertificate {
                height,
                round: 0,
                block_id: header.id(),
                signatures: validator_keys[..3]
                    .iter()
                    .map(|validator| CommitSignature {
                        validator: validator.public(),
                        signature: validator.sign(&digest),
                    })
                    .collect(),
            };
            let inclusion = inclusion_proof(&log, i as u64, log.size()).expect("proof");
            proven.push(ProvenTx {
                transaction: tx,
                receipt,
                inclusion,
                header,
                certificate,
            });
        }
        proven
    }

    /// The registration `proven[registration]` proven under the header of `item` (bundle
    /// version 3), from the log `prove_in_blocks` built: one entry per transaction, in order.
    pub(crate) fn registration_under(
        proven: &[ProvenTx],
        registration: usize,
        item: &ProvenTx,
    ) -> ProvenRegistration {
        let mut log = MemoryLog::new();
        for entry in &proven[..item.inclusion.tree_size as usize] {
            log.append(
                LogEntry {
                    tx_id: entry.transaction.id(),
                    receipt: entry.receipt.clone(),
                }
                .leaf_hash(),
            );
        }
        let registration = &proven[registration];
        ProvenRegistration::prove(
            &log,
            registration.transaction.clone(),
            registration.receipt.clone(),
            &item.inclusion,
        )
        .expect("the registration is before the item")
    }

    /// A ledger built by hand: an agency registers a participant (block 1), another agency
    /// anchors five records (blocks 2 to 6), the participant anchors a record (block 7);
    /// returns the genesis and the participant's record's bundle (the current version: the
    /// registration proven under the record's header, by a path of 2 hashes).
    pub(crate) fn sample_bundle() -> (Genesis, ProofBundle, Vec<Keypair>) {
        let (genesis, mut bundle, validator_keys) = sample_bundle_v2();
        let (_, keys) = test_genesis(4);
        let mut transactions = vec![
            bundle
                .signer_registration
                .take()
                .expect("registration")
                .transaction,
        ];
        transactions.extend((1..=5).map(|n| {
            UnsignedTx {
                chain_id: genesis.chain_id(),
                signer: ParticipantId::from(&genesis.content.agencies[1].agency),
                nonce: Nonce(n),
                body: Body::AnchorRecord {
                    kind: "note".into(),
                    document_hash: Digest([n as u8; 32]),
                    metadata: Vec::new(),
                },
            }
            .sign(&keys[1].1)
        }));
        transactions.push(bundle.item.take().expect("item").transaction);
        let proven = prove_in_blocks(&genesis, &validator_keys, transactions);
        let item = proven.last().expect("record").clone();
        bundle.version = BUNDLE_VERSION;
        bundle.registration = Some(registration_under(&proven, 0, &item));
        bundle.item = Some(item);
        (genesis, bundle, validator_keys)
    }

    /// A two-block ledger built by hand: an agency registers a participant (block 1), the
    /// participant anchors a record (block 2); returns the genesis and the record's bundle in
    /// version 2, the registration under its own header and certificate.
    pub(crate) fn sample_bundle_v2() -> (Genesis, ProofBundle, Vec<Keypair>) {
        let (genesis, keys) = test_genesis(4);
        let chain_id = genesis.chain_id();
        let participant = Keypair::from_seed(&[77; 32]);
        let registrar = &genesis.content.agencies[0];
        let registration = UnsignedTx {
            chain_id,
            signer: ParticipantId::from(&registrar.agency),
            nonce: Nonce(1),
            body: Body::RegisterParticipant {
                id: ParticipantId::new("CN-EXPORTER-1").expect("id"),
                name: "Exporter".into(),
                roles: vec![Role::Enterprise],
                public_key: participant.public(),
            },
        }
        .sign(&keys[0].1);
        let record = UnsignedTx {
            chain_id,
            signer: ParticipantId::new("CN-EXPORTER-1").expect("id"),
            nonce: Nonce(1),
            body: Body::AnchorRecord {
                kind: "commercial_invoice".into(),
                document_hash: Digest([5; 32]),
                metadata: vec![("number".into(), "INV-1".into())],
            },
        }
        .sign(&participant);
        let validator_keys: Vec<Keypair> = keys.into_iter().map(|(v, _)| v).collect();
        let mut proven = prove_in_blocks(&genesis, &validator_keys, vec![registration, record]);
        let item = proven.pop().expect("record");
        let registration = proven.pop().expect("registration");
        let bundle = ProofBundle {
            version: OLDEST_BUNDLE_VERSION,
            item: Some(item),
            signer_registration: Some(registration),
            state: None,
            validator_changes: Vec::new(),
            registration: None,
        };
        (genesis, bundle, validator_keys)
    }

    /// A certified header at `height` whose state root is the tree over `entries`, and the
    /// state bundle of `key` under it.
    pub(crate) fn state_bundle(
        genesis: &Genesis,
        keys: &[(Keypair, Keypair)],
        height: u64,
        entries: &[(Vec<u8>, Vec<u8>)],
        key: &[u8],
    ) -> ProofBundle {
        let chain_id = genesis.chain_id();
        let validators = genesis.content.validator_set();
        let leaves: Vec<_> = entries
            .iter()
            .map(|(k, v)| {
                (
                    crate::state_tree::key_hash(k),
                    crate::state_tree::value_hash(v),
                )
            })
            .collect();
        let header = Header {
            chain_id,
            height: Height(height),
            time_ms: 1_000 * height,
            parent: BlockId(Digest([height as u8; 32])),
            transactions_root: crate::block::transactions_root(&[]),
            transaction_count: 0,
            log_root: Digest([7; 32]),
            log_size: 3,
            state_root: crate::state_tree::root_of(&leaves),
            validators_hash: validators.hash(),
            next_validators_hash: validators.hash(),
            proposer: validators.validators[0].public_key,
        };
        let digest = vote_digest(
            &chain_id,
            VoteKind::Precommit,
            header.height,
            0,
            Some(&header.id()),
        );
        let certificate = CommitCertificate {
            height: header.height,
            round: 0,
            block_id: header.id(),
            signatures: keys[..3]
                .iter()
                .map(|(validator, _)| CommitSignature {
                    validator: validator.public(),
                    signature: validator.sign(&digest),
                })
                .collect(),
        };
        let value = entries
            .iter()
            .find(|(k, _)| k.as_slice() == key)
            .map(|(_, v)| v.clone());
        ProofBundle {
            version: BUNDLE_VERSION,
            item: None,
            signer_registration: None,
            registration: None,
            state: Some(ProvenState {
                key: key.to_vec(),
                value,
                proof: crate::state_tree::prove_from_entries(entries, key),
                header,
                certificate,
            }),
            validator_changes: Vec::new(),
        }
    }

    fn sample_entries(revoked: bool) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut entries: Vec<(Vec<u8>, Vec<u8>)> = (0..30)
            .map(|i| (format!("e/SCO-CN-{i:06}").into_bytes(), vec![i as u8; 40]))
            .collect();
        let attestation = if revoked {
            b"revoked".to_vec()
        } else {
            b"live".to_vec()
        };
        entries.push((b"c/attestation-1".to_vec(), attestation));
        entries
    }

    #[test]
    fn state_bundles_prove_presence_and_absence() {
        let (genesis, keys) = test_genesis(4);
        let entries = sample_entries(false);
        let present = state_bundle(&genesis, &keys, 5, &entries, b"c/attestation-1");
        let proven = verify_bundle(&genesis, &present).expect("presence verifies");
        assert!(proven.transaction.is_none());
        let state = proven.state.expect("state");
        assert_eq!(state.value.as_deref(), Some(b"live".as_slice()));
        assert_eq!(state.height, Height(5));
        assert_eq!(state.certified_by.len(), 3);

        let absent = state_bundle(&genesis, &keys, 5, &entries, b"c/never-written");
        let state = verify_bundle(&genesis, &absent)
            .expect("absence verifies")
            .state
            .expect("state");
        assert_eq!(state.value, None);

        // CBOR and JSON round trips.
        for bundle in [&present, &absent] {
            let back = ProofBundle::from_bytes(&bundle.to_bytes()).expect("cbor");
            assert_eq!(&back, bundle);
            let json = serde_json::to_vec(bundle).expect("json");
            assert_eq!(&ProofBundle::parse(&json).expect("json back"), bundle);
        }
    }

    #[test]
    fn state_bundles_name_the_failed_link() {
        let (genesis, keys) = test_genesis(4);
        let before = sample_entries(false);
        let after = sample_entries(true);
        let old = state_bundle(&genesis, &keys, 5, &before, b"c/attestation-1");
        let new = state_bundle(&genesis, &keys, 6, &after, b"c/attestation-1");
        let link = |b: &ProofBundle| verify_bundle(&genesis, b).err().map(|e| e.link());

        // The old value claimed under the new header: the proof leads to another root.
        let mut b = new.clone();
        if let (Some(state), Some(old_state)) = (b.state.as_mut(), old.state.as_ref()) {
            state.value = old_state.value.clone();
            state.proof = old_state.proof.clone();
        }
        assert_eq!(link(&b), Some("state proof"));
        let message = verify_bundle(&genesis, &b)
            .expect_err("refused")
            .to_string();
        assert!(message.contains("link 'state proof' failed"), "{message}");

        // The value edited, or claimed absent.
        let mut b = new.clone();
        if let Some(state) = b.state.as_mut() {
            state.value = Some(b"live".to_vec());
        }
        assert_eq!(link(&b), Some("state proof"));
        let mut b = new.clone();
        if let Some(state) = b.state.as_mut() {
            state.value = None;
        }
        assert_eq!(link(&b), Some("state proof"));

        // The header's state root changed: the certificate no longer covers the header.
        let mut b = new.clone();
        if let Some(state) = b.state.as_mut() {
            state.header.state_root = old.state.as_ref().expect("old").header.state_root;
        }
        assert_eq!(link(&b), Some("certificate"));

        // A certificate short of a quorum.
        let mut b = new.clone();
        if let Some(state) = b.state.as_mut() {
            state.certificate.signatures.truncate(2);
        }
        assert_eq!(link(&b), Some("certificate"));

        // Neither a transaction nor a state proof.
        let mut b = new.clone();
        b.state = None;
        assert_eq!(link(&b), Some("encoding"));

        // Every single bit flip of the encoded bundle is refused, but the one that turns
        // version 3 into version 2: the two differ only in how a signer's registration is
        // proven, so a state bundle of one is the same state bundle of the other.
        let bytes = new.to_bytes();
        assert_eq!(bytes[1], 3, "the version, after the array's head");
        for position in 0..bytes.len() {
            let mut changed = bytes.clone();
            changed[position] ^= 0x01;
            let verdict =
                ProofBundle::from_bytes(&changed).and_then(|b| verify_bundle(&genesis, &b));
            if position == 1 {
                let proven = verdict.expect("the same state bundle, in version 2");
                assert_eq!(proven, verify_bundle(&genesis, &new).expect("verifies"));
            } else {
                assert!(verdict.is_err(), "flipping byte {position} still verifies");
            }
        }
    }

    /// A certified change of the validator set at `height`: agency 3 leaves, a new agency
    /// joins; certified by a quorum of the founders.
    fn set_change(genesis: &Genesis, keys: &[(Keypair, Keypair)], height: u64) -> SetChange {
        let founders = genesis.content.validator_set();
        let joiner = Keypair::from_seed(&[201; 32]);
        let mut members: Vec<crate::block::Validator> = founders
            .validators
            .iter()
            .filter(|v| v.public_key != keys[3].0.public())
            .cloned()
            .collect();
        members.push(crate::block::Validator {
            agency: AgencyId::new("AG-NEW").expect("id"),
            public_key: joiner.public(),
            power: 1,
        });
        let next = ValidatorSet::new(members);
        let header = Header {
            chain_id: genesis.chain_id(),
            height: Height(height),
            time_ms: 1_000 * height,
            parent: BlockId(Digest([9; 32])),
            transactions_root: crate::block::transactions_root(&[]),
            transaction_count: 0,
            log_root: Digest([8; 32]),
            log_size: 2,
            state_root: Digest([6; 32]),
            validators_hash: founders.hash(),
            next_validators_hash: next.hash(),
            proposer: founders.validators[0].public_key,
        };
        let digest = vote_digest(
            &genesis.chain_id(),
            VoteKind::Precommit,
            header.height,
            0,
            Some(&header.id()),
        );
        SetChange {
            certificate: CommitCertificate {
                height: header.height,
                round: 0,
                block_id: header.id(),
                signatures: keys[..3]
                    .iter()
                    .map(|(validator, _)| CommitSignature {
                        validator: validator.public(),
                        signature: validator.sign(&digest),
                    })
                    .collect(),
            },
            header,
            validators: next,
        }
    }

    /// Bundles of every shape, each verifying against the genesis returned: a registered
    /// participant's transaction, a founder's, a state value, a transaction with a state value,
    /// a transaction after a change of the validator set, and a registered participant's
    /// transaction in a version 2 bundle.
    fn bundles_of_every_shape() -> (Genesis, Vec<(&'static str, ProofBundle)>) {
        let (genesis, keys) = test_genesis(4);
        let (sample_genesis, registered, _) = sample_bundle();
        assert_eq!(sample_genesis, genesis, "the same test genesis");
        let founder_tx = UnsignedTx {
            chain_id: genesis.chain_id(),
            signer: ParticipantId::from(&genesis.content.agencies[1].agency),
            nonce: Nonce(1),
            body: Body::AnchorRecord {
                kind: "note".into(),
                document_hash: Digest([4; 32]),
                metadata: Vec::new(),
            },
        }
        .sign(&keys[1].1);
        let validator_keys: Vec<Keypair> = keys.iter().map(|(v, _)| v.clone()).collect();
        let founder = ProofBundle {
            version: BUNDLE_VERSION,
            item: prove_in_blocks(&genesis, &validator_keys, vec![founder_tx]).pop(),
            signer_registration: None,
            state: None,
            validator_changes: Vec::new(),
            registration: None,
        };
        let state = state_bundle(
            &genesis,
            &keys,
            5,
            &sample_entries(false),
            b"c/attestation-1",
        );
        let mut both = registered.clone();
        both.state = state.state.clone();
        let mut changed = registered.clone();
        changed.validator_changes = vec![set_change(&genesis, &keys, 9)];
        let bundles = vec![
            ("registered participant", registered),
            ("founder", founder),
            ("state", state),
            ("transaction and state", both),
            ("after a set change", changed),
            ("registered participant, version 2", sample_bundle_v2().1),
        ];
        (genesis, bundles)
    }

    #[test]
    fn the_trace_of_a_verified_bundle_is_its_plan() {
        let (genesis, bundles) = bundles_of_every_shape();
        let verifier = BundleVerifier::new(&genesis).expect("genesis");
        for (shape, bundle) in &bundles {
            let mut passed = Vec::new();
            verifier
                .verify_traced(bundle, &mut passed)
                .unwrap_or_else(|e| panic!("{shape}: {e}"));
            assert_eq!(&passed, &bundle.links(), "{shape}");
            let unique: std::collections::HashSet<_> = passed.iter().collect();
            assert_eq!(unique.len(), passed.len(), "{shape}: a link twice");
        }
        let names = |b: &ProofBundle| b.links().iter().map(|l| l.name).collect::<Vec<_>>();
        assert_eq!(
            names(&bundles[0].1),
            [
                "genesis",
                "encoding",
                "chain",
                "signer",
                "signer registration",
                "signature",
                "receipt",
                "inclusion proof",
                "header",
                "certificate"
            ]
        );
        assert_eq!(
            names(&bundles[2].1),
            [
                "genesis",
                "encoding",
                "header",
                "certificate",
                "state proof"
            ]
        );
        assert!(names(&bundles[4].1).contains(&"validator-set change"));
        assert_eq!(
            serde_json::to_value(Link::new(Part::State, link::STATE_PROOF)).expect("json"),
            serde_json::json!({"part": "state", "name": "state proof"})
        );
    }

    #[test]
    fn the_failed_link_is_the_next_link_of_the_plan() {
        let (genesis, bundles) = bundles_of_every_shape();
        let [registered, _, state, both, changed, v2] = bundles
            .into_iter()
            .map(|(_, b)| b)
            .collect::<Vec<_>>()
            .try_into()
            .expect("six shapes");
        type Damage = fn(&mut ProofBundle);
        let cases: Vec<(&str, Part, &str, ProofBundle, Damage)> = vec![
            (
                "version",
                Part::Bundle,
                link::ENCODING,
                registered.clone(),
                |b| b.version = 1,
            ),
            (
                "empty",
                Part::Bundle,
                link::ENCODING,
                changed.clone(),
                |b| {
                    b.item = None;
                    b.registration = None;
                },
            ),
            (
                "version 3 with version 2's registration",
                Part::Bundle,
                link::ENCODING,
                registered.clone(),
                |b| b.signer_registration = sample_bundle_v2().1.signer_registration,
            ),
            (
                "version 2 with version 3's registration",
                Part::Bundle,
                link::ENCODING,
                v2.clone(),
                |b| b.registration = sample_bundle().1.registration,
            ),
            (
                "set change",
                Part::Bundle,
                link::VALIDATOR_SET_CHANGE,
                changed.clone(),
                |b| b.validator_changes[0].certificate.signatures.truncate(2),
            ),
            (
                "registration alone",
                Part::Transaction,
                link::SIGNER,
                both.clone(),
                |b| b.item = None,
            ),
            (
                "no registration",
                Part::Transaction,
                link::SIGNER,
                registered.clone(),
                |b| b.registration = None,
            ),
            (
                "no registration, version 2",
                Part::Transaction,
                link::SIGNER,
                v2.clone(),
                |b| b.signer_registration = None,
            ),
            (
                "registration's path",
                Part::Transaction,
                link::SIGNER_REGISTRATION,
                registered.clone(),
                |b| {
                    if let Some(r) = b.registration.as_mut() {
                        r.path[1].0[5] ^= 1;
                    }
                },
            ),
            // Damage to the transaction's own proof is named at its own links, also where the
            // registration's path meets it.
            (
                "the transaction's path where the registration's meets it",
                Part::Transaction,
                link::INCLUSION_PROOF,
                registered.clone(),
                |b| {
                    if let Some(i) = b.item.as_mut() {
                        i.inclusion.path[1].0[5] ^= 1;
                    }
                },
            ),
            (
                "the transaction's proof for another position",
                Part::Transaction,
                link::RECEIPT,
                registered.clone(),
                |b| {
                    if let Some(i) = b.item.as_mut() {
                        i.inclusion.leaf_index = 0;
                    }
                },
            ),
            (
                "the transaction's proof for another log size",
                Part::Transaction,
                link::RECEIPT,
                registered.clone(),
                |b| {
                    if let Some(i) = b.item.as_mut() {
                        i.inclusion.tree_size += 1;
                    }
                },
            ),
            (
                "registration not before the transaction",
                Part::Transaction,
                link::SIGNER_REGISTRATION,
                registered.clone(),
                |b| {
                    if let Some(r) = b.registration.as_mut() {
                        r.receipt.log_index = 6;
                    }
                },
            ),
            (
                "registration's signature",
                Part::Transaction,
                link::SIGNER_REGISTRATION,
                registered.clone(),
                |b| {
                    if let Some(r) = b.registration.as_mut() {
                        r.transaction.signature.0[7] ^= 1;
                    }
                },
            ),
            (
                "registration, version 2",
                Part::Transaction,
                link::SIGNER_REGISTRATION,
                v2.clone(),
                |b| {
                    if let Some(r) = b.signer_registration.as_mut() {
                        r.certificate.signatures[1].signature.0[5] ^= 1;
                    }
                },
            ),
            (
                "signature",
                Part::Transaction,
                link::SIGNATURE,
                registered.clone(),
                |b| {
                    if let Some(i) = b.item.as_mut() {
                        i.transaction.signature.0[0] ^= 1;
                    }
                },
            ),
            (
                "receipt",
                Part::Transaction,
                link::RECEIPT,
                registered.clone(),
                |b| {
                    if let Some(i) = b.item.as_mut() {
                        i.receipt.log_index += 1;
                    }
                },
            ),
            (
                "inclusion",
                Part::Transaction,
                link::INCLUSION_PROOF,
                registered.clone(),
                |b| {
                    if let Some(i) = b.item.as_mut() {
                        i.inclusion.path[0].0[0] ^= 1;
                    }
                },
            ),
            (
                "header",
                Part::Transaction,
                link::HEADER,
                registered.clone(),
                |b| {
                    if let Some(i) = b.item.as_mut() {
                        i.header.validators_hash = Digest([1; 32]);
                    }
                },
            ),
            (
                "certificate",
                Part::Transaction,
                link::CERTIFICATE,
                both.clone(),
                |b| {
                    if let Some(i) = b.item.as_mut() {
                        i.certificate.signatures.truncate(2);
                    }
                },
            ),
            (
                "state header",
                Part::State,
                link::HEADER,
                both.clone(),
                |b| {
                    if let Some(s) = b.state.as_mut() {
                        s.header.validators_hash = Digest([1; 32]);
                    }
                },
            ),
            (
                "state certificate",
                Part::State,
                link::CERTIFICATE,
                both.clone(),
                |b| {
                    if let Some(s) = b.state.as_mut() {
                        s.certificate.signatures.truncate(2);
                    }
                },
            ),
            (
                "state proof",
                Part::State,
                link::STATE_PROOF,
                state.clone(),
                |b| {
                    if let Some(s) = b.state.as_mut() {
                        s.value = Some(b"forged".to_vec());
                    }
                },
            ),
        ];
        let verifier = BundleVerifier::new(&genesis).expect("genesis");
        for (what, part, name, mut bundle, damage) in cases {
            damage(&mut bundle);
            let plan = bundle.links();
            let mut passed = Vec::new();
            let e = verifier
                .verify_traced(&bundle, &mut passed)
                .expect_err(what);
            assert!(
                plan.starts_with(&passed),
                "{what}: {passed:?} is not a prefix of {plan:?}"
            );
            assert_eq!(
                plan.get(passed.len()),
                Some(&Link::new(part, name)),
                "{what}: {e}"
            );
            assert_eq!(e.link(), name, "{what}: {e}");
        }

        // Another federation: the transaction's chain, right after the encoding.
        let (mut other, _) = test_genesis(4);
        other.content.chain_name = "another".into();
        for (i, (_, admin)) in test_genesis(4).1.iter().enumerate() {
            let id = other.content.agencies[i].agency.clone();
            other.sign(&id, admin).expect("sign");
        }
        let mut passed = Vec::new();
        let e = BundleVerifier::new(&other)
            .expect("genesis")
            .verify_traced(&registered, &mut passed)
            .expect_err("another chain");
        assert_eq!(e.link(), link::CHAIN);
        assert_eq!(
            registered.links()[passed.len()],
            Link::new(Part::Transaction, link::CHAIN)
        );
    }

    #[test]
    fn a_good_bundle_verifies() {
        for (version, (genesis, bundle, _), height) in [
            (BUNDLE_VERSION, sample_bundle(), 7),
            (OLDEST_BUNDLE_VERSION, sample_bundle_v2(), 2),
        ] {
            assert_eq!(bundle.version, version);
            let proven = verify_bundle(&genesis, &bundle).expect("verifies");
            assert!(proven.state.is_none());
            let proven = proven.transaction.expect("a transaction");
            assert_eq!(proven.height, Height(height));
            assert_eq!(proven.certified_by.len(), 3);
            assert_eq!(
                proven.signer_key_source,
                "registered on the ledger by AG-0 at height 1"
            );
            let json = serde_json::to_vec(&bundle).expect("json");
            let parsed = ProofBundle::parse(&json).expect("parse json");
            assert_eq!(parsed, bundle);
            let decoded = ProofBundle::from_bytes(&bundle.to_bytes()).expect("canonical CBOR");
            assert_eq!(decoded, bundle);
            assert!(verify_bundle(&genesis, &parsed).is_ok());
            let (registration, receipt) = bundle.registration_tx().expect("a registration");
            assert_eq!(receipt.log_index, 0);
            assert!(matches!(
                registration.tx.body,
                Body::RegisterParticipant { .. }
            ));
        }
        // Version 3 proves the registration without a header and certificate of its own, and
        // a version 2 bundle without a registration is encoded as before version 3 existed.
        let (genesis, v2, _) = sample_bundle_v2();
        let registration = v2.signer_registration.clone().expect("registration");
        let item = v2.item.clone().expect("item");
        let mut v3 = v2.clone();
        v3.version = BUNDLE_VERSION;
        v3.signer_registration = None;
        v3.registration = Some(registration_under(
            &[registration.clone(), item.clone()],
            0,
            &item,
        ));
        verify_bundle(&genesis, &v3).expect("the same ledger's bundle in version 3");
        let own = codec::encode(&registration.header).len()
            + codec::encode(&registration.certificate).len();
        // Less its inclusion proof (4 bytes for a leaf alone), plus the empty path and the
        // null left in version 2's place.
        assert_eq!(v3.to_bytes().len(), v2.to_bytes().len() - own - 4 + 1 + 1);
        let mut founder = v2.clone();
        founder.signer_registration = None;
        let bytes = founder.to_bytes();
        assert_eq!(
            bytes[0], 0x85,
            "an array of five members, as version 2 wrote it"
        );
    }

    #[test]
    fn a_version_2_bundle_written_before_version_3_still_verifies() {
        // Written by the code of the last version 2 commit (3b976ea): the sample bundle.
        let cbor = include_bytes!("testdata/bundle-v2.cbor");
        let json = include_bytes!("testdata/bundle-v2.json");
        let (genesis, v2, _) = sample_bundle_v2();
        for bytes in [&cbor[..], &json[..]] {
            let bundle = ProofBundle::parse(bytes).expect("reads");
            assert_eq!(bundle, v2);
            let proven = verify_bundle(&genesis, &bundle).expect("verifies");
            assert_eq!(
                proven.transaction.expect("a transaction").signer_key_source,
                "registered on the ledger by AG-0 at height 1"
            );
        }
        assert_eq!(v2.to_bytes(), cbor, "version 2 is encoded as it was");
    }

    #[test]
    fn every_single_byte_change_is_refused() {
        for (genesis, bundle, _) in [sample_bundle(), sample_bundle_v2()] {
            every_byte_change_is_refused(&genesis, &bundle);
        }
    }

    fn every_byte_change_is_refused(genesis: &Genesis, bundle: &ProofBundle) {
        let bytes = bundle.to_bytes();
        for position in 0..bytes.len() {
            for flip in [0x01u8, 0x80] {
                let mut changed = bytes.clone();
                changed[position] ^= flip;
                let verdict =
                    ProofBundle::from_bytes(&changed).and_then(|b| verify_bundle(genesis, &b));
                assert!(
                    verdict.is_err(),
                    "flipping bit {flip:#x} of byte {position} still verifies"
                );
            }
        }
    }

    #[test]
    fn a_shared_verifier_remembers_headers_but_judges_every_bundle_alike() {
        let (genesis, bundle, _) = sample_bundle();
        let verifier = BundleVerifier::new(&genesis).expect("genesis");
        // The good bundle, twice: the second time its headers are remembered.
        for _ in 0..2 {
            let proven = verifier.verify(&bundle).expect("verifies");
            assert_eq!(proven, verify_bundle(&genesis, &bundle).expect("verifies"));
        }
        // Damage after the headers are remembered is still found, each at the same link as
        // with a fresh verification: another certificate for a remembered header is checked
        // afresh, and the transaction's own signature is always checked.
        let mut damaged = Vec::new();
        let mut b = bundle.clone();
        b.item.as_mut().expect("item").certificate.signatures[0]
            .signature
            .0[9] ^= 1;
        damaged.push(b);
        let mut b = bundle.clone();
        b.item
            .as_mut()
            .expect("item")
            .certificate
            .signatures
            .truncate(2);
        damaged.push(b);
        let mut b = bundle.clone();
        b.item.as_mut().expect("item").transaction.signature.0[0] ^= 1;
        damaged.push(b);
        let mut b = bundle.clone();
        b.item.as_mut().expect("item").receipt.log_index += 1;
        damaged.push(b);
        for b in &damaged {
            let shared = verifier.verify(b).err().map(|e| e.link());
            let fresh = verify_bundle(&genesis, b).err().map(|e| e.link());
            assert!(shared.is_some(), "a damaged bundle verifies");
            assert_eq!(shared, fresh);
        }
    }

    #[test]
    fn many_bundles_get_the_answers_each_gets_alone() {
        let (genesis, shapes) = bundles_of_every_shape();
        let (_, registered, _) = sample_bundle();
        let damage = |change: &dyn Fn(&mut ProofBundle)| {
            let mut b = registered.clone();
            change(&mut b);
            b
        };
        let damaged = [
            // Its own signature, its registration's, both.
            damage(&|b| b.item.as_mut().expect("item").transaction.signature.0[3] ^= 1),
            damage(&|b| {
                b.registration
                    .as_mut()
                    .expect("registration")
                    .transaction
                    .signature
                    .0[40] ^= 1
            }),
            damage(&|b| {
                b.item.as_mut().expect("item").transaction.signature.0[63] ^= 0x10;
                b.registration
                    .as_mut()
                    .expect("registration")
                    .transaction
                    .signature
                    .0[0] ^= 1;
            }),
            // A bad signature and a later link broken too: the signature is the link named.
            damage(&|b| {
                let item = b.item.as_mut().expect("item");
                item.transaction.signature.0[5] ^= 1;
                item.receipt.log_index += 1;
            }),
            // The same in the registration: its signature is the link named within it.
            damage(&|b| {
                let registration = b.registration.as_mut().expect("registration");
                registration.transaction.signature.0[11] ^= 1;
                registration.receipt.log_index += 1;
            }),
            // A version 2 bundle's registration's signature.
            {
                let mut b = sample_bundle_v2().1;
                b.signer_registration
                    .as_mut()
                    .expect("registration")
                    .transaction
                    .signature
                    .0[2] ^= 1;
                b
            },
            // A later link broken with good signatures, and a bundle refused before them.
            damage(&|b| b.item.as_mut().expect("item").receipt.log_index += 1),
            damage(&|b| b.version += 1),
            // Signed by another key.
            damage(&|b| {
                let tx = &mut b.item.as_mut().expect("item").transaction;
                tx.signature = Keypair::from_seed(&[9; 32]).sign(&tx.tx.signing_digest());
            }),
        ];
        // Good and damaged bundles interleaved, enough signatures for batches that fail.
        let mut bundles = Vec::new();
        for round in 0..3 {
            bundles.extend(shapes.iter().map(|(_, b)| b.clone()));
            bundles.push(damaged[round * 2 % damaged.len()].clone());
        }
        bundles.extend(damaged.iter().cloned());
        bundles.extend(shapes.iter().map(|(_, b)| b.clone()));
        let verifier = BundleVerifier::new(&genesis).expect("genesis");
        let many = verifier.verify_many(&bundles);
        assert_eq!(many.len(), bundles.len());
        let answer = |r: &Result<Proven, VerifyError>| match r {
            Ok(proven) => Ok(proven.clone()),
            Err(e) => Err((e.link(), e.to_string())),
        };
        for (i, (bundle, result)) in bundles.iter().zip(&many).enumerate() {
            let alone = verify_bundle(&genesis, bundle);
            assert_eq!(answer(result), answer(&alone), "bundle {i}");
        }
        let good = 4 * shapes.len();
        assert_eq!(many.iter().filter(|r| r.is_ok()).count(), good);
        let links: Vec<&str> = many[bundles.len() - shapes.len() - damaged.len()..]
            .iter()
            .take(damaged.len())
            .map(|r| r.as_ref().expect_err("damaged").link())
            .collect();
        assert_eq!(
            links,
            [
                link::SIGNATURE,
                link::SIGNER_REGISTRATION,
                link::SIGNER_REGISTRATION,
                link::SIGNATURE,
                link::SIGNER_REGISTRATION,
                link::SIGNER_REGISTRATION,
                link::RECEIPT,
                link::ENCODING,
                link::SIGNATURE,
            ]
        );
        // None, and one alone.
        assert!(verifier.verify_many(&[]).is_empty());
        assert_eq!(
            answer(&verifier.verify_many(&damaged[..1])[0]),
            answer(&verify_bundle(&genesis, &damaged[0]))
        );
    }

    #[test]
    fn each_link_is_named() {
        let (genesis, bundle, keys) = sample_bundle();
        let link = |b: &ProofBundle| verify_bundle(&genesis, b).err().map(|e| e.link());

        let mut b = bundle.clone();
        b.item.as_mut().expect("item").transaction.signature.0[0] ^= 1;
        assert_eq!(link(&b), Some("signature"));

        let mut b = bundle.clone();
        b.item.as_mut().expect("item").inclusion.path[0].0[0] ^= 1;
        assert_eq!(link(&b), Some("inclusion proof"));

        let mut b = bundle.clone();
        b.item.as_mut().expect("item").receipt.log_index += 1;
        assert_eq!(link(&b), Some("receipt"));

        let mut b = bundle.clone();
        b.item
            .as_mut()
            .expect("item")
            .certificate
            .signatures
            .truncate(2);
        assert_eq!(link(&b), Some("certificate"));

        let mut b = bundle.clone();
        let outsider = Keypair::from_seed(&[200; 32]);
        b.item.as_mut().expect("item").certificate.signatures[0].validator = outsider.public();
        assert!(matches!(
            verify_bundle(&genesis, &b),
            Err(VerifyError::Certificate(
                CertificateError::UnknownValidator(_)
            ))
        ));

        let mut b = bundle.clone();
        b.item.as_mut().expect("item").header.validators_hash = Digest([1; 32]);
        assert_eq!(link(&b), Some("header"));

        let mut b = bundle.clone();
        b.registration = None;
        assert_eq!(link(&b), Some("signer"));

        let mut b = bundle.clone();
        let item_position = b.item.as_ref().expect("item").receipt.log_index;
        b.registration
            .as_mut()
            .expect("registration")
            .receipt
            .log_index = item_position;
        assert_eq!(
            verify_bundle(&genesis, &b)
                .expect_err("not before")
                .to_string(),
            "link 'signer registration' failed: link 'receipt' failed: the registration is at log position 6, not before the transaction at log position 6"
        );

        let mut b = bundle.clone();
        if let Some(r) = b.registration.as_mut() {
            r.transaction.signature.0[5] ^= 1;
        }
        assert_eq!(link(&b), Some("signer registration"));

        // Another federation's genesis: the chain link fails.
        let (mut other, _) = test_genesis(4);
        other.content.chain_name = "another".into();
        let (other_keys, admins): (Vec<_>, Vec<_>) = test_genesis(4).1.into_iter().unzip();
        let _ = other_keys;
        for (i, admin) in admins.iter().enumerate() {
            let id = other.content.agencies[i].agency.clone();
            other.sign(&id, admin).expect("sign");
        }
        assert_eq!(
            verify_bundle(&other, &bundle).err().map(|e| e.link()),
            Some("chain")
        );

        // An unsigned genesis is refused before anything else.
        let mut unsigned = genesis.clone();
        unsigned.signatures.clear();
        assert_eq!(
            verify_bundle(&unsigned, &bundle).err().map(|e| e.link()),
            Some("genesis")
        );
        let _ = keys;
    }
}
