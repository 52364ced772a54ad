//! Proof bundles and their offline verification. A bundle carries everything a verifier needs
//! besides the genesis: the transaction, its receipt, its inclusion proof to the log root, the
//! header holding that root, and the commit certificate over the header; for a participant
//! registered on the ledger, the same chain of proofs for its registration by an agency; and
//! where it applies, a state proof: the current value of one state key, or its absence, under
//! the state root of a certified header. Verification does no IO and returns what was proven, or
//! the link that failed.

use minicbor::{Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::block::{CertificateError, CommitCertificate, Header, SetChange, ValidatorSet};
use crate::codec::{self, CodecError};
use crate::genesis::{Genesis, GenesisError};
use crate::hash::Digest;
use crate::ids::{AgencyId, BlockId, ChainId, Height, ParticipantId, TxId};
use crate::keys::PublicKey;
use crate::merkle::{InclusionProof, MerkleError};
use crate::state_tree::{StateProof, StateProofError};
use crate::tx::{Body, Change, LogEntry, Outcome, Receipt, SignedTx};

/// The current bundle format version. Version 2 made the transaction optional and added the
/// state proof.
pub const BUNDLE_VERSION: u32 = 2;

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
    /// Format version, [`BUNDLE_VERSION`].
    #[n(0)]
    pub version: u32,
    /// The transaction being proven, if any.
    #[n(1)]
    pub item: Option<ProvenTx>,
    /// When the signer is a participant registered on the ledger (not a founding agency), the
    /// proof of its registration by an agency, which binds its key.
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
        "link 'encoding' failed: bundle version {0} is not supported (expected {BUNDLE_VERSION})"
    )]
    Version(u32),
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
            VerifyError::Genesis(_) => "genesis",
            VerifyError::Decode(_) | VerifyError::Version(_) | VerifyError::Empty => "encoding",
            VerifyError::WrongChain { .. } => "chain",
            VerifyError::Signature { .. } => "signature",
            VerifyError::Signer(_) => "signer",
            VerifyError::Registration(_) => "signer registration",
            VerifyError::Receipt(_) => "receipt",
            VerifyError::Inclusion(_) => "inclusion proof",
            VerifyError::Header(_) => "header",
            VerifyError::Certificate(_) => "certificate",
            VerifyError::SetChange { .. } => "validator-set change",
            VerifyError::StateProof { .. } => "state proof",
        }
    }
}

/// Checks a certificate over a header under a validator set.
type Certify<'a> =
    dyn Fn(&Header, &CommitCertificate, &ValidatorSet) -> Result<Vec<AgencyId>, VerifyError> + 'a;

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
    /// The first height each set certifies, and the set; heights strictly increasing.
    sets: Vec<(Height, ValidatorSet)>,
}

impl ValidatorHistory {
    /// The founding set, which certifies the blocks from height 1 on until the first change.
    pub fn from_genesis(genesis: &Genesis, chain_id: ChainId) -> Self {
        ValidatorHistory {
            chain_id,
            sets: vec![(Height(1), genesis.content.validator_set())],
        }
    }

    /// How many changes were followed.
    pub fn changes(&self) -> usize {
        self.sets.len() - 1
    }

    /// The latest set known, and the first height it certifies.
    pub fn latest(&self) -> (Height, &ValidatorSet) {
        let (h, set) = self
            .sets
            .last()
            .expect("a history starts with the founding set");
        (*h, set)
    }

    /// The set that certifies `height`, and the first height of the set after it, if known.
    pub fn at(&self, height: Height) -> (&ValidatorSet, Option<Height>) {
        let i = self
            .sets
            .partition_point(|(first, _)| *first <= height)
            .max(1)
            - 1;
        (
            &self.sets[i].1,
            self.sets.get(i + 1).map(|(first, _)| *first),
        )
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
            let (first, current) = self.latest();
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
            if change.header.validators_hash != current.hash() {
                return Err(fail(format!(
                    "header names validator set {}, the set in force is {}: a change before it is missing",
                    change.header.validators_hash,
                    current.hash()
                )));
            }
            if change.header.next_validators_hash != change.validators.hash() {
                return Err(fail(format!(
                    "header commits to next validator set {}, the change carries set {}",
                    change.header.next_validators_hash,
                    change.validators.hash()
                )));
            }
            if change.validators.hash() == current.hash() {
                return Err(fail("the change does not change the set".into()));
            }
            change.validators.check().map_err(fail)?;
            certify(&change.header, &change.certificate, current)
                .map_err(|e| fail(format!("the outgoing set's certificate fails: {e}")))?;
            self.sets.push((height.next(), change.validators.clone()));
        }
        Ok(())
    }

    /// Follows `changes`, in height order, each certified by the set in force before it.
    pub fn follow(&mut self, changes: &[SetChange]) -> Result<(), VerifyError> {
        let chain_id = self.chain_id;
        self.follow_with(changes, &|header, certificate, set| {
            Ok(certificate.verify(&chain_id, header.height, &header.id(), set)?)
        })
    }

    /// Checks that `header` is consistent with the known sets: it names the set in force at its
    /// height, and as next set the one a known change introduces (or the same set). Returns the
    /// set that must certify it.
    pub fn expected_set(&self, header: &Header) -> Result<&ValidatorSet, VerifyError> {
        if header.chain_id != self.chain_id {
            return Err(VerifyError::WrongChain {
                what: "header",
                expected: self.chain_id,
                found: header.chain_id,
            });
        }
        let (set, next_first) = self.at(header.height);
        if header.validators_hash != set.hash() {
            return Err(VerifyError::Header(format!(
                "header at height {} names validator set {}, the set in force at that height after {} certified change(s) is {}: the chain of validator-set changes skips a change, or the header is forged",
                header.height,
                header.validators_hash,
                self.changes(),
                set.hash()
            )));
        }
        let expected_next = match next_first {
            Some(first) if first == header.height.next() => self.at(first).0.hash(),
            _ => set.hash(),
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
        Ok(set)
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

/// Verifies the proofs of one transaction, given the key its signer signs with.
fn verify_proven(
    verifier: &BundleVerifier<'_>,
    history: &ValidatorHistory,
    chain_id: &ChainId,
    proven: &ProvenTx,
    key: &PublicKey,
) -> Result<Vec<AgencyId>, VerifyError> {
    let tx = &proven.transaction;
    if &tx.tx.chain_id != chain_id {
        return Err(VerifyError::WrongChain {
            what: "transaction",
            expected: *chain_id,
            found: tx.tx.chain_id,
        });
    }
    let tx_id = tx.id();
    tx.verify_signature(key)
        .map_err(|_| VerifyError::Signature {
            tx: tx_id,
            signer: tx.tx.signer.clone(),
            key: *key,
        })?;
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
    let leaf = LogEntry {
        tx_id,
        receipt: receipt.clone(),
    }
    .leaf_hash();
    proven.inclusion.verify(&leaf, &proven.header.log_root)?;
    let set = history.expected_set(&proven.header)?;
    verifier.certified(&proven.header, &proven.certificate, set)
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
            headers: Default::default(),
        })
    }

    /// Checks `certificate` over `header` under `set` (which the caller has matched with the
    /// header's `validators_hash`), remembering the answer.
    fn certified(
        &self,
        header: &Header,
        certificate: &CommitCertificate,
        set: &ValidatorSet,
    ) -> Result<Vec<AgencyId>, VerifyError> {
        let mut hasher = blake3::Hasher::new();
        hasher.update(header.id().0.as_bytes());
        hasher.update(set.hash().as_bytes());
        hasher.update(&codec::encode(certificate));
        let key: [u8; 32] = hasher.finalize().into();
        if let Ok(known) = self.headers.lock()
            && let Some(signers) = known.get(&key)
        {
            return Ok(signers.clone());
        }
        let signers = certificate.verify(&self.chain_id, header.height, &header.id(), set)?;
        if let Ok(mut known) = self.headers.lock() {
            if known.len() >= REMEMBERED_HEADERS {
                known.clear();
            }
            known.insert(key, signers.clone());
        }
        Ok(signers)
    }

    /// Verifies one bundle: its transaction and its state proof, whichever it carries.
    pub fn verify(&self, bundle: &ProofBundle) -> Result<Proven, VerifyError> {
        if bundle.version != BUNDLE_VERSION {
            return Err(VerifyError::Version(bundle.version));
        }
        let mut history = ValidatorHistory::from_genesis(self.genesis, self.chain_id);
        history.follow_with(&bundle.validator_changes, &|header, certificate, set| {
            self.certified(header, certificate, set)
        })?;
        if bundle.item.is_none() && bundle.state.is_none() {
            return Err(VerifyError::Empty);
        }
        let transaction = match &bundle.item {
            Some(item) => {
                Some(self.verify_item(item, bundle.signer_registration.as_ref(), &history)?)
            }
            None if bundle.signer_registration.is_some() => {
                return Err(VerifyError::Signer(
                    "the bundle carries a signer registration but no transaction".into(),
                ));
            }
            None => None,
        };
        let state = match &bundle.state {
            Some(state) => Some(self.verify_state(state, &history)?),
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
        let set = history.expected_set(&state.header)?;
        let certified_by = self.certified(&state.header, &state.certificate, set)?;
        state
            .proof
            .verify(&state.header.state_root, &state.key, state.value.as_deref())
            .map_err(|error| VerifyError::StateProof {
                key: printable_key(&state.key),
                error: Box::new(error),
            })?;
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

    /// Verifies a transaction and its signer's registration.
    fn verify_item(
        &self,
        item: &ProvenTx,
        signer_registration: Option<&ProvenTx>,
        history: &ValidatorHistory,
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
        let signer = &item.transaction.tx.signer;
        let founder = genesis
            .content
            .agencies
            .iter()
            .find(|card| card.agency.as_str() == signer.as_str());
        let (key, source) = match (founder, signer_registration) {
            (Some(card), None) => (
                card.admin_key,
                format!(
                    "admin key of founding agency {}, in the genesis",
                    card.agency
                ),
            ),
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
                let registrar = &registration.transaction.tx.signer;
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
                verify_proven(self, history, &chain_id, registration, &card.admin_key)
                    .map_err(|e| VerifyError::Registration(Box::new(e)))?;
                if registration.receipt.outcome != Outcome::Accepted {
                    return Err(VerifyError::Registration(Box::new(VerifyError::Receipt(
                        "the registration was rejected by the ledger".into(),
                    ))));
                }
                let registered = match &registration.transaction.tx.body {
                    Body::RegisterParticipant { id, public_key, .. }
                    | Body::RegisterEnterprise { id, public_key, .. }
                        if id == signer =>
                    {
                        Some(*public_key)
                    }
                    // An agency admitted by governance: its key is in the proposal, and the
                    // ledger accepts its transactions only once the change is enacted.
                    Body::ProposeChange {
                        change: Change::AddAgency { card },
                    } if card.agency.as_str() == signer.as_str() => Some(card.admin_key),
                    _ => None,
                };
                match registered {
                    Some(public_key) => {
                        if registration.receipt.height >= item.receipt.height
                            && !(registration.receipt.height == item.receipt.height
                                && registration.receipt.index < item.receipt.index)
                        {
                            return Err(VerifyError::Registration(Box::new(VerifyError::Receipt(
                                format!(
                                    "{signer} was registered at height {} position {}, not before the transaction at height {} position {}",
                                    registration.receipt.height,
                                    registration.receipt.index,
                                    item.receipt.height,
                                    item.receipt.index
                                ),
                            ))));
                        }
                        (
                            public_key,
                            format!(
                                "registered on the ledger by {} at height {}",
                                registrar, registration.receipt.height
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
        let certified_by = verify_proven(self, history, &chain_id, item, &key)?;
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

    /// A two-block ledger built by hand: an agency registers a participant (block 1), the
    /// participant anchors a record (block 2); returns the genesis and the record's bundle.
    pub(crate) fn sample_bundle() -> (Genesis, ProofBundle, Vec<Keypair>) {
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
            version: BUNDLE_VERSION,
            item: Some(item),
            signer_registration: Some(registration),
            state: None,
            validator_changes: Vec::new(),
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

        // Every single bit flip of the encoded bundle is refused.
        let bytes = new.to_bytes();
        for position in 0..bytes.len() {
            let mut changed = bytes.clone();
            changed[position] ^= 0x01;
            let verdict =
                ProofBundle::from_bytes(&changed).and_then(|b| verify_bundle(&genesis, &b));
            assert!(verdict.is_err(), "flipping byte {position} still verifies");
        }
    }

    #[test]
    fn a_good_bundle_verifies() {
        let (genesis, bundle, _) = sample_bundle();
        let proven = verify_bundle(&genesis, &bundle).expect("verifies");
        assert!(proven.state.is_none());
        let proven = proven.transaction.expect("a transaction");
        assert_eq!(proven.height, Height(2));
        assert_eq!(proven.certified_by.len(), 3);
        assert!(proven.signer_key_source.contains("AG-0"));
        let json = serde_json::to_vec(&bundle).expect("json");
        assert!(verify_bundle(&genesis, &ProofBundle::parse(&json).expect("parse json")).is_ok());
    }

    #[test]
    fn every_single_byte_change_is_refused() {
        let (genesis, bundle, _) = sample_bundle();
        let bytes = bundle.to_bytes();
        for position in 0..bytes.len() {
            for flip in [0x01u8, 0x80] {
                let mut changed = bytes.clone();
                changed[position] ^= flip;
                let verdict =
                    ProofBundle::from_bytes(&changed).and_then(|b| verify_bundle(&genesis, &b));
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
        b.signer_registration = None;
        assert_eq!(link(&b), Some("signer"));

        let mut b = bundle.clone();
        if let Some(r) = b.signer_registration.as_mut() {
            r.certificate.signatures[1].signature.0[5] ^= 1;
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
