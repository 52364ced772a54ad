//! Evidence that a validator equivocated: two signed consensus messages for the same height and
//! round (and, for votes, the same step) that name different blocks. Each message carries what
//! its signer signed, so anyone holding the validator's public key checks the evidence offline:
//! both signatures hold and the two messages conflict. A validator that signs both cannot deny
//! either.
//!
//! Votes are signed over [`vote_digest`], the same digest as a commit certificate's precommits;
//! proposals over [`proposal_digest`].

use minicbor::{Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::block::{VoteKind, proposal_digest, vote_digest};
use crate::ids::{BlockId, ChainId, Height};
use crate::keys::{PublicKey, Signature};

/// A signed vote as evidence carries it: what was signed, and the signature.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
pub struct SignedVote {
    /// Prevote or precommit.
    #[n(0)]
    pub kind: VoteKind,
    /// The height voted at.
    #[n(1)]
    pub height: Height,
    /// The round.
    #[n(2)]
    pub round: i64,
    /// The block voted for; `None` is a nil vote.
    #[n(3)]
    pub block: Option<BlockId>,
    /// The validator's signature over [`vote_digest`].
    #[n(4)]
    pub signature: Signature,
}

/// A signed proposal as evidence carries it.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
pub struct SignedProposal {
    /// The height proposed at.
    #[n(0)]
    pub height: Height,
    /// The round.
    #[n(1)]
    pub round: i64,
    /// The proposed block.
    #[n(2)]
    pub block: BlockId,
    /// The proof-of-lock round (-1 for none).
    #[n(3)]
    pub pol_round: i64,
    /// The proposer's signature over [`proposal_digest`].
    #[n(4)]
    pub signature: Signature,
}

/// Two conflicting signed messages from one validator.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Equivocation {
    /// Two votes of the same step, height and round for different blocks (or a block and nil).
    #[n(0)]
    Votes {
        /// The validator's key.
        #[n(0)]
        validator: PublicKey,
        /// One vote.
        #[n(1)]
        first: SignedVote,
        /// The other.
        #[n(2)]
        second: SignedVote,
    },
    /// Two proposals of the same height and round for different blocks.
    #[n(1)]
    Proposals {
        /// The proposer's key.
        #[n(0)]
        validator: PublicKey,
        /// One proposal.
        #[n(1)]
        first: SignedProposal,
        /// The other.
        #[n(2)]
        second: SignedProposal,
    },
}

/// Why evidence does not prove an equivocation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    /// The two messages are not for the same height, round or step.
    #[error("the two messages are not for the same {0}: they do not conflict")]
    NotSameSlot(&'static str),
    /// The two messages name the same block.
    #[error("the two messages name the same block: they do not conflict")]
    SameBlock,
    /// A signature does not verify under the validator's key.
    #[error("the {0} message's signature does not verify under validator key {1}")]
    BadSignature(&'static str, PublicKey),
}

impl Equivocation {
    /// The validator that signed both messages.
    pub fn validator(&self) -> PublicKey {
        match self {
            Equivocation::Votes { validator, .. } | Equivocation::Proposals { validator, .. } => {
                *validator
            }
        }
    }

    /// The height and round both messages are for.
    pub fn slot(&self) -> (Height, i64) {
        match self {
            Equivocation::Votes { first, .. } => (first.height, first.round),
            Equivocation::Proposals { first, .. } => (first.height, first.round),
        }
    }

    /// `prevote`, `precommit` or `proposal`.
    pub fn step(&self) -> &'static str {
        match self {
            Equivocation::Votes { first, .. } => match first.kind {
                VoteKind::Prevote => "prevote",
                VoteKind::Precommit => "precommit",
            },
            Equivocation::Proposals { .. } => "proposal",
        }
    }

    /// Checks that both messages are signed by the validator in federation `chain_id` and
    /// conflict.
    pub fn verify(&self, chain_id: &ChainId) -> Result<(), EvidenceError> {
        match self {
            Equivocation::Votes {
                validator,
                first,
                second,
            } => {
                if first.height != second.height {
                    return Err(EvidenceError::NotSameSlot("height"));
                }
                if first.round != second.round {
                    return Err(EvidenceError::NotSameSlot("round"));
                }
                if first.kind != second.kind {
                    return Err(EvidenceError::NotSameSlot("step"));
                }
                if first.block == second.block {
                    return Err(EvidenceError::SameBlock);
                }
                for (which, vote) in [("first", first), ("second", second)] {
                    let digest = vote_digest(
                        chain_id,
                        vote.kind,
                        vote.height,
                        vote.round,
                        vote.block.as_ref(),
                    );
                    validator
                        .verify(&digest, &vote.signature)
                        .map_err(|_| EvidenceError::BadSignature(which, *validator))?;
                }
                Ok(())
            }
            Equivocation::Proposals {
                validator,
                first,
                second,
            } => {
                if first.height != second.height {
                    return Err(EvidenceError::NotSameSlot("height"));
                }
                if first.round != second.round {
                    return Err(EvidenceError::NotSameSlot("round"));
                }
                if first.block == second.block {
                    return Err(EvidenceError::SameBlock);
                }
                for (which, p) in [("first", first), ("second", second)] {
                    let digest =
                        proposal_digest(chain_id, p.height, p.round, &p.block, p.pol_round);
                    validator
                        .verify(&digest, &p.signature)
                        .map_err(|_| EvidenceError::BadSignature(which, *validator))?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Digest;
    use crate::keys::Keypair;

    fn vote(key: &Keypair, kind: VoteKind, h: u64, round: i64, block: Option<u8>) -> SignedVote {
        let chain = ChainId(Digest([7; 32]));
        let block = block.map(|b| BlockId(Digest([b; 32])));
        SignedVote {
            kind,
            height: Height(h),
            round,
            block,
            signature: key.sign(&vote_digest(&chain, kind, Height(h), round, block.as_ref())),
        }
    }

    fn proposal(key: &Keypair, h: u64, round: i64, block: u8) -> SignedProposal {
        let chain = ChainId(Digest([7; 32]));
        let block = BlockId(Digest([block; 32]));
        SignedProposal {
            height: Height(h),
            round,
            block,
            pol_round: -1,
            signature: key.sign(&proposal_digest(&chain, Height(h), round, &block, -1)),
        }
    }

    #[test]
    fn conflicting_signed_messages_prove_equivocation_and_nothing_else_does() {
        let chain = ChainId(Digest([7; 32]));
        let key = Keypair::from_seed(&[1; 32]);
        let other = Keypair::from_seed(&[2; 32]);
        let votes = |first, second| Equivocation::Votes {
            validator: key.public(),
            first,
            second,
        };
        let p = VoteKind::Prevote;
        assert_eq!(
            votes(vote(&key, p, 5, 0, Some(1)), vote(&key, p, 5, 0, Some(2))).verify(&chain),
            Ok(())
        );
        // A block and nil conflict too.
        assert_eq!(
            votes(vote(&key, p, 5, 0, Some(1)), vote(&key, p, 5, 0, None)).verify(&chain),
            Ok(())
        );
        assert_eq!(
            votes(vote(&key, p, 5, 0, Some(1)), vote(&key, p, 5, 0, Some(1))).verify(&chain),
            Err(EvidenceError::SameBlock)
        );
        assert_eq!(
            votes(vote(&key, p, 5, 0, Some(1)), vote(&key, p, 6, 0, Some(2))).verify(&chain),
            Err(EvidenceError::NotSameSlot("height"))
        );
        assert_eq!(
            votes(vote(&key, p, 5, 0, Some(1)), vote(&key, p, 5, 1, Some(2))).verify(&chain),
            Err(EvidenceError::NotSameSlot("round"))
        );
        assert_eq!(
            votes(
                vote(&key, p, 5, 0, Some(1)),
                vote(&key, VoteKind::Precommit, 5, 0, Some(2))
            )
            .verify(&chain),
            Err(EvidenceError::NotSameSlot("step"))
        );
        // Signed by someone else: no evidence against this validator.
        assert_eq!(
            votes(vote(&key, p, 5, 0, Some(1)), vote(&other, p, 5, 0, Some(2))).verify(&chain),
            Err(EvidenceError::BadSignature("second", key.public()))
        );
        // Evidence from another federation does not hold here.
        let elsewhere = ChainId(Digest([8; 32]));
        assert!(
            votes(vote(&key, p, 5, 0, Some(1)), vote(&key, p, 5, 0, Some(2)))
                .verify(&elsewhere)
                .is_err()
        );

        let proposals = |first, second| Equivocation::Proposals {
            validator: key.public(),
            first,
            second,
        };
        assert_eq!(
            proposals(proposal(&key, 9, 2, 1), proposal(&key, 9, 2, 3)).verify(&chain),
            Ok(())
        );
        assert_eq!(
            proposals(proposal(&key, 9, 2, 1), proposal(&key, 9, 2, 1)).verify(&chain),
            Err(EvidenceError::SameBlock)
        );
        let mut forged = proposal(&key, 9, 2, 3);
        forged.signature.0[5] ^= 1;
        assert_eq!(
            proposals(proposal(&key, 9, 2, 1), forged).verify(&chain),
            Err(EvidenceError::BadSignature("second", key.public()))
        );
    }

    #[test]
    fn evidence_round_trips_in_cbor_and_json() {
        let key = Keypair::from_seed(&[1; 32]);
        let e = Equivocation::Votes {
            validator: key.public(),
            first: vote(&key, VoteKind::Precommit, 3, 1, Some(4)),
            second: vote(&key, VoteKind::Precommit, 3, 1, None),
        };
        let bytes = crate::codec::encode(&e);
        let back: Equivocation = crate::codec::decode(&bytes, 4096).expect("cbor");
        assert_eq!(back, e);
        let json = serde_json::to_string(&e).expect("json");
        assert!(json.contains("\"kind\":\"votes\""), "{json}");
        let back: Equivocation = serde_json::from_str(&json).expect("from json");
        assert_eq!(back, e);
    }
}
