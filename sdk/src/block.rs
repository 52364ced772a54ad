//! Blocks, validator sets and commit certificates. The block id that validators precommit is the
//! hash of the header; a certificate is a quorum (more than two thirds of the voting power) of
//! precommit signatures for that id, each attributable to an agency's validator key.

use std::collections::BTreeSet;

use minicbor::{Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::codec;
use crate::hash::{Digest, Domain, hash, hash_parts};
use crate::ids::{AgencyId, BlockId, ChainId, Height, TxId};
use crate::keys::{PublicKey, Signature};
use crate::tx::SignedTx;

/// A block header.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
pub struct Header {
    /// The federation.
    #[n(0)]
    pub chain_id: ChainId,
    /// This block's height (the first block is 1).
    #[n(1)]
    pub height: Height,
    /// The proposer's clock, milliseconds since the Unix epoch; never earlier than the parent's.
    #[n(2)]
    pub time_ms: u64,
    /// The previous block's id ([`Digest::ZERO`] for height 1).
    #[n(3)]
    pub parent: BlockId,
    /// Root over this block's transaction ids.
    #[n(4)]
    pub transactions_root: Digest,
    /// How many transactions this block holds.
    #[n(5)]
    pub transaction_count: u32,
    /// Root of the Merkle log of every transaction committed up to and including this block.
    #[n(6)]
    pub log_root: Digest,
    /// Size of that log.
    #[n(7)]
    pub log_size: u64,
    /// Commitment to the state after this block.
    #[n(8)]
    pub state_root: Digest,
    /// Hash of the validator set that certifies this block.
    #[n(9)]
    pub validators_hash: Digest,
    /// Hash of the validator set that certifies the next block.
    #[n(10)]
    pub next_validators_hash: Digest,
    /// The proposer's validator key.
    #[n(11)]
    pub proposer: PublicKey,
}

impl Header {
    /// The block id: the hash of the canonical header.
    pub fn id(&self) -> BlockId {
        BlockId(hash(Domain::Header, &codec::encode(self)))
    }
}

/// A header and its transactions.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
pub struct Block {
    /// The header.
    #[n(0)]
    pub header: Header,
    /// The ordered transactions.
    #[n(1)]
    pub transactions: Vec<SignedTx>,
}

impl Block {
    /// The block id.
    pub fn id(&self) -> BlockId {
        self.header.id()
    }
}

/// The root over a block's transaction ids, in order.
pub fn transactions_root(transactions: &[SignedTx]) -> Digest {
    let ids: Vec<TxId> = transactions.iter().map(|t| t.id()).collect();
    transactions_root_of_ids(&ids)
}

/// [`transactions_root`] from the transactions' ids, in block order.
pub fn transactions_root_of_ids(ids: &[TxId]) -> Digest {
    let parts: Vec<&[u8]> = ids.iter().map(|id| id.0.as_bytes().as_slice()).collect();
    hash_parts(Domain::TransactionsRoot, &parts)
}

/// A validator: an agency's consensus key and its voting power.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
pub struct Validator {
    /// The agency.
    #[n(0)]
    pub agency: AgencyId,
    /// Its validator key (also its consensus address).
    #[n(1)]
    pub public_key: PublicKey,
    /// Its voting power.
    #[n(2)]
    pub power: u64,
}

/// The validators of a height, sorted by public key.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(transparent)]
#[serde(transparent)]
pub struct ValidatorSet {
    /// The validators.
    #[n(0)]
    pub validators: Vec<Validator>,
}

impl ValidatorSet {
    /// A set from validators in any order (sorted here by key).
    pub fn new(mut validators: Vec<Validator>) -> Self {
        validators.sort_by_key(|v| v.public_key);
        ValidatorSet { validators }
    }

    /// The hash that headers carry.
    pub fn hash(&self) -> Digest {
        hash(Domain::ValidatorSet, &codec::encode(self))
    }

    /// Sum of voting power.
    pub fn total_power(&self) -> u64 {
        self.validators.iter().map(|v| v.power).sum()
    }

    /// The smallest voting power that is more than two thirds of the total.
    pub fn quorum_power(&self) -> u64 {
        self.total_power() * 2 / 3 + 1
    }

    /// The validator with key `key`.
    pub fn get(&self, key: &PublicKey) -> Option<&Validator> {
        self.validators.iter().find(|v| &v.public_key == key)
    }
}

/// A certified change of the validator set: the last header the outgoing set certifies, whose
/// `next_validators_hash` commits to the incoming set, with its certificate and that set. A chain
/// of these from the genesis lets a verifier holding only the genesis check a header at any
/// height.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
pub struct SetChange {
    /// The last header of the outgoing set.
    #[n(0)]
    pub header: Header,
    /// The outgoing set's certificate over it.
    #[n(1)]
    pub certificate: CommitCertificate,
    /// The incoming set, which certifies the blocks from `header.height + 1` on.
    #[n(2)]
    pub validators: ValidatorSet,
}

impl ValidatorSet {
    /// Checks the set's own rules: not empty, sorted by key, keys unique, every power positive.
    pub fn check(&self) -> Result<(), String> {
        if self.validators.is_empty() {
            return Err("the validator set is empty".into());
        }
        if !self
            .validators
            .windows(2)
            .all(|w| w[0].public_key < w[1].public_key)
        {
            return Err("validators must be sorted by key, each key once".into());
        }
        if let Some(v) = self.validators.iter().find(|v| v.power == 0) {
            return Err(format!("validator {} has no voting power", v.agency));
        }
        Ok(())
    }
}

/// Whether a vote is a prevote or a precommit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(index_only)]
#[serde(rename_all = "snake_case")]
pub enum VoteKind {
    /// First voting step.
    #[n(0)]
    Prevote,
    /// Second voting step; a quorum of these commits a block.
    #[n(1)]
    Precommit,
}

#[derive(Encode)]
#[cbor(array)]
struct VoteContent<'a> {
    #[n(0)]
    chain_id: &'a ChainId,
    #[n(1)]
    kind: VoteKind,
    #[n(2)]
    height: Height,
    #[n(3)]
    round: i64,
    #[n(4)]
    block: Option<&'a BlockId>,
}

#[derive(Encode)]
#[cbor(array)]
struct ProposalContent<'a> {
    #[n(0)]
    chain_id: &'a ChainId,
    #[n(1)]
    height: u64,
    #[n(2)]
    round: i64,
    #[n(3)]
    block: &'a BlockId,
    #[n(4)]
    pol_round: i64,
}

/// The digest a proposer signs for a proposal of `block` at `height` and `round`, with its
/// proof-of-lock round (-1 for none).
pub fn proposal_digest(
    chain_id: &ChainId,
    height: Height,
    round: i64,
    block: &BlockId,
    pol_round: i64,
) -> Digest {
    hash(
        Domain::Proposal,
        &codec::encode(&ProposalContent {
            chain_id,
            height: height.0,
            round,
            block,
            pol_round,
        }),
    )
}

/// The digest a validator signs when it votes: for `block` (or nil) at `height` and `round`
/// (-1 for nil round) on chain `chain_id`.
pub fn vote_digest(
    chain_id: &ChainId,
    kind: VoteKind,
    height: Height,
    round: i64,
    block: Option<&BlockId>,
) -> Digest {
    let content = VoteContent {
        chain_id,
        kind,
        height,
        round,
        block,
    };
    hash(Domain::Vote, &codec::encode(&content))
}

/// One validator's precommit signature.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
pub struct CommitSignature {
    /// The validator's key.
    #[n(0)]
    pub validator: PublicKey,
    /// Its precommit signature.
    #[n(1)]
    pub signature: Signature,
}

/// A quorum of precommits for one block.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
pub struct CommitCertificate {
    /// The height.
    #[n(0)]
    pub height: Height,
    /// The round it was decided in.
    #[n(1)]
    pub round: u32,
    /// The decided block.
    #[n(2)]
    pub block_id: BlockId,
    /// The signatures.
    #[n(3)]
    pub signatures: Vec<CommitSignature>,
}

/// Why a certificate does not certify a block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// It is for another block or height.
    #[error(
        "certificate is for block {found_block} at height {found_height}, expected block {expected_block} at height {expected_height}"
    )]
    WrongBlock {
        /// Expected block.
        expected_block: BlockId,
        /// Expected height.
        expected_height: Height,
        /// Certified block.
        found_block: BlockId,
        /// Certified height.
        found_height: Height,
    },
    /// A signer is not in the validator set.
    #[error("certificate signature by {0}, which is not a validator of this height")]
    UnknownValidator(PublicKey),
    /// A validator signed twice.
    #[error("validator {0} appears twice in the certificate")]
    Duplicate(PublicKey),
    /// A signature does not verify.
    #[error("precommit signature of {agency} ({key}) does not verify")]
    BadSignature {
        /// The agency.
        agency: AgencyId,
        /// Its key.
        key: PublicKey,
    },
    /// Not enough power signed.
    #[error("certificate carries voting power {found} of {total}; a quorum needs {needed}")]
    NoQuorum {
        /// Power that signed.
        found: u64,
        /// Power needed.
        needed: u64,
        /// Total power.
        total: u64,
    },
}

impl CommitCertificate {
    /// Checks that this certificate commits `block` at `height` on `chain_id` under `validators`:
    /// every signature must verify (none is ignored) and the signers must hold a quorum.
    /// Returns the agencies that signed.
    pub fn verify(
        &self,
        chain_id: &ChainId,
        height: Height,
        block: &BlockId,
        validators: &ValidatorSet,
    ) -> Result<Vec<AgencyId>, CertificateError> {
        if self.height != height || &self.block_id != block {
            return Err(CertificateError::WrongBlock {
                expected_block: *block,
                expected_height: height,
                found_block: self.block_id,
                found_height: self.height,
            });
        }
        let digest = vote_digest(
            chain_id,
            VoteKind::Precommit,
            height,
            i64::from(self.round),
            Some(block),
        );
        let mut seen = BTreeSet::new();
        let mut power = 0u64;
        let mut agencies = Vec::with_capacity(self.signatures.len());
        for sig in &self.signatures {
            let validator = validators
                .get(&sig.validator)
                .ok_or(CertificateError::UnknownValidator(sig.validator))?;
            if !seen.insert(sig.validator) {
                return Err(CertificateError::Duplicate(sig.validator));
            }
            sig.validator.verify(&digest, &sig.signature).map_err(|_| {
                CertificateError::BadSignature {
                    agency: validator.agency.clone(),
                    key: sig.validator,
                }
            })?;
            power += validator.power;
            agencies.push(validator.agency.clone());
        }
        let needed = validators.quorum_power();
        if power < needed {
            return Err(CertificateError::NoQuorum {
                found: power,
                needed,
                total: validators.total_power(),
            });
        }
        Ok(agencies)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Keypair;

    fn set(keys: &[Keypair]) -> ValidatorSet {
        ValidatorSet::new(
            keys.iter()
                .enumerate()
                .map(|(i, k)| Validator {
                    agency: AgencyId::new(format!("AG-{i}")).expect("id"),
                    public_key: k.public(),
                    power: 1,
                })
                .collect(),
        )
    }

    fn certificate(keys: &[Keypair], chain: &ChainId, block: &BlockId) -> CommitCertificate {
        let digest = vote_digest(chain, VoteKind::Precommit, Height(5), 0, Some(block));
        CommitCertificate {
            height: Height(5),
            round: 0,
            block_id: *block,
            signatures: keys
                .iter()
                .map(|k| CommitSignature {
                    validator: k.public(),
                    signature: k.sign(&digest),
                })
                .collect(),
        }
    }

    #[test]
    fn quorum_table() {
        // (validators, signers, certifies?)
        let table = [
            (1, 1, true),
            (3, 2, false),
            (3, 3, true),
            (4, 2, false),
            (4, 3, true),
            (4, 4, true),
            (7, 4, false),
            (7, 5, true),
        ];
        let chain = ChainId(Digest([9; 32]));
        let block = BlockId(Digest([8; 32]));
        for (n, signers, ok) in table {
            let keys: Vec<Keypair> = (0..n)
                .map(|i| Keypair::from_seed(&[i as u8 + 1; 32]))
                .collect();
            let validators = set(&keys);
            let cert = certificate(&keys[..signers], &chain, &block);
            assert_eq!(
                cert.verify(&chain, Height(5), &block, &validators).is_ok(),
                ok,
                "{n} validators, {signers} signers"
            );
        }
    }

    #[test]
    fn certificate_failures_are_named() {
        let keys: Vec<Keypair> = (0..4).map(|i| Keypair::from_seed(&[i + 1; 32])).collect();
        let validators = set(&keys);
        let chain = ChainId(Digest([9; 32]));
        let block = BlockId(Digest([8; 32]));
        let good = certificate(&keys[..3], &chain, &block);
        let other_chain = ChainId(Digest([7; 32]));
        assert!(matches!(
            good.verify(&other_chain, Height(5), &block, &validators),
            Err(CertificateError::BadSignature { .. })
        ));
        assert!(matches!(
            good.verify(&chain, Height(6), &block, &validators),
            Err(CertificateError::WrongBlock { .. })
        ));
        let mut dup = good.clone();
        dup.signatures.push(dup.signatures[0].clone());
        assert!(matches!(
            dup.verify(&chain, Height(5), &block, &validators),
            Err(CertificateError::Duplicate(_))
        ));
        let outsider = Keypair::from_seed(&[99; 32]);
        let mut unknown = good.clone();
        unknown.signatures[0].validator = outsider.public();
        assert!(matches!(
            unknown.verify(&chain, Height(5), &block, &validators),
            Err(CertificateError::UnknownValidator(_))
        ));
    }
}
