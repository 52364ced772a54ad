//! Following a federation's checkpoints, as a transparency-log monitor does: each new certified
//! checkpoint is checked from the genesis (through the chain of validator-set changes) and
//! against the last one kept, with a Merkle consistency proof between their logs. Two certified
//! checkpoints that cannot both be true are evidence of a fork, kept with both signed headers.

use serde::{Deserialize, Serialize};

use crate::api::Checkpoint;
use crate::bundle::{ValidatorHistory, VerifyError, verify_certified_header};
use crate::ids::Height;
use crate::merkle::ConsistencyProof;

/// What a new checkpoint says about the last one kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// No checkpoint was kept before.
    First,
    /// The same header as the one kept.
    Unchanged,
    /// A later header whose log extends the kept one's.
    Extended {
        /// The kept height.
        from: Height,
        /// The new height.
        to: Height,
    },
    /// An earlier header (the node is behind the checkpoint kept); the kept one stays.
    Behind {
        /// The node's height.
        height: Height,
    },
}

/// Two certified checkpoints that cannot both belong to one history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForkEvidence {
    /// Why they conflict.
    pub reason: String,
    /// The checkpoint kept before.
    pub kept: Checkpoint,
    /// The conflicting one.
    pub shown: Checkpoint,
}

/// Why a checkpoint was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// The new checkpoint is not certified from the genesis (a bad or forged answer, not a fork:
    /// no quorum signed it).
    #[error("the checkpoint shown does not verify from the genesis: {0}")]
    Invalid(#[from] VerifyError),
    /// A later checkpoint came without the consistency proof that it extends the kept one.
    #[error("no consistency proof from log size {from} to {to}")]
    MissingProof {
        /// The kept log size.
        from: u64,
        /// The new log size.
        to: u64,
    },
    /// Both checkpoints are certified and they conflict.
    #[error("FORK: {}", .0.reason)]
    Fork(Box<ForkEvidence>),
}

/// Checks `shown` against the genesis (through `history`) and against `kept`. For a later
/// checkpoint, `proof` must be the consistency proof from `kept`'s log size to `shown`'s.
pub fn check(
    history: &ValidatorHistory,
    kept: Option<&Checkpoint>,
    shown: &Checkpoint,
    proof: Option<&ConsistencyProof>,
) -> Result<Step, FollowError> {
    verify_certified_header(history, &shown.header, &shown.certificate)?;
    let Some(kept) = kept else {
        return Ok(Step::First);
    };
    let fork = |reason: String| {
        FollowError::Fork(Box::new(ForkEvidence {
            reason,
            kept: kept.clone(),
            shown: shown.clone(),
        }))
    };
    let (old, new) = (&kept.header, &shown.header);
    if new.height == old.height {
        return if new.id() == old.id() {
            Ok(Step::Unchanged)
        } else {
            Err(fork(format!(
                "two certified headers at height {}: {} and {}",
                new.height,
                old.id(),
                new.id()
            )))
        };
    }
    if new.height < old.height {
        return Ok(Step::Behind { height: new.height });
    }
    if new.log_size < old.log_size {
        return Err(fork(format!(
            "the log shrank from {} entries at height {} to {} at height {}",
            old.log_size, old.height, new.log_size, new.height
        )));
    }
    let proof = proof.ok_or(FollowError::MissingProof {
        from: old.log_size,
        to: new.log_size,
    })?;
    if proof.old_size != old.log_size || proof.new_size != new.log_size {
        return Err(FollowError::MissingProof {
            from: old.log_size,
            to: new.log_size,
        });
    }
    if let Err(e) = proof.verify(&old.log_root, &new.log_root) {
        return Err(fork(format!(
            "the log at height {} does not extend the log at height {}: {e}",
            new.height, old.height
        )));
    }
    Ok(Step::Extended {
        from: old.height,
        to: new.height,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::{CommitCertificate, CommitSignature, Header, VoteKind, vote_digest};
    use crate::genesis::tests::test_genesis;
    use crate::hash::Digest;
    use crate::ids::BlockId;
    use crate::keys::Keypair;
    use crate::merkle::{MemoryLog, consistency_proof};

    /// A certified checkpoint over `log`, signed by the first three of `keys`.
    fn checkpoint(
        genesis: &crate::genesis::Genesis,
        keys: &[Keypair],
        height: u64,
        log: &MemoryLog,
        salt: u8,
    ) -> Checkpoint {
        let chain_id = genesis.chain_id();
        let set = genesis.content.validator_set();
        let header = Header {
            chain_id,
            height: Height(height),
            time_ms: 1_000 * height,
            parent: BlockId(Digest([salt; 32])),
            transactions_root: Digest([salt; 32]),
            transaction_count: 0,
            log_root: log.root(),
            log_size: log.size(),
            state_root: Digest([salt; 32]),
            validators_hash: set.hash(),
            next_validators_hash: set.hash(),
            proposer: set.validators[0].public_key,
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
                .map(|k| CommitSignature {
                    validator: k.public(),
                    signature: k.sign(&digest),
                })
                .collect(),
        };
        Checkpoint {
            header,
            certificate,
        }
    }

    fn log_of(leaves: &[u8]) -> MemoryLog {
        let mut log = MemoryLog::new();
        for leaf in leaves {
            log.append(Digest([*leaf; 32]));
        }
        log
    }

    #[test]
    fn a_monitor_accepts_extensions_and_keeps_both_headers_of_a_fork() {
        let (genesis, keys) = test_genesis(4);
        let validators: Vec<Keypair> = keys.into_iter().map(|(v, _)| v).collect();
        let history = ValidatorHistory::from_genesis(&genesis, genesis.chain_id());
        let short = log_of(&[1, 2, 3]);
        let long = log_of(&[1, 2, 3, 4, 5]);
        let forked = log_of(&[1, 2, 9, 4, 5]);
        let first = checkpoint(&genesis, &validators, 3, &short, 1);
        assert_eq!(
            check(&history, None, &first, None).expect("first"),
            Step::First
        );
        assert_eq!(
            check(&history, Some(&first), &first, None).expect("same"),
            Step::Unchanged
        );
        // A later checkpoint whose log extends the kept one.
        let later = checkpoint(&genesis, &validators, 5, &long, 2);
        let proof = consistency_proof(&long, 3, 5).expect("proof");
        assert_eq!(
            check(&history, Some(&first), &later, Some(&proof)).expect("extends"),
            Step::Extended {
                from: Height(3),
                to: Height(5)
            }
        );
        assert!(matches!(
            check(&history, Some(&first), &later, None),
            Err(FollowError::MissingProof { from: 3, to: 5 })
        ));
        assert_eq!(
            check(&history, Some(&later), &first, None).expect("behind"),
            Step::Behind { height: Height(3) }
        );
        // A certified later checkpoint whose log rewrote history: the proof cannot lead from
        // the kept root to it.
        let rewritten = checkpoint(&genesis, &validators, 5, &forked, 3);
        let proof = consistency_proof(&forked, 3, 5).expect("proof");
        match check(&history, Some(&first), &rewritten, Some(&proof)) {
            Err(FollowError::Fork(evidence)) => {
                assert_eq!(evidence.kept, first);
                assert_eq!(evidence.shown, rewritten);
                assert!(
                    evidence.reason.contains("does not extend"),
                    "{}",
                    evidence.reason
                );
            }
            other => panic!("expected a fork, got {other:?}"),
        }
        // Two certified headers at one height.
        let twin = checkpoint(&genesis, &validators, 5, &long, 4);
        match check(&history, Some(&later), &twin, None) {
            Err(FollowError::Fork(evidence)) => {
                assert!(
                    evidence.reason.contains("two certified headers"),
                    "{}",
                    evidence.reason
                );
            }
            other => panic!("expected a fork, got {other:?}"),
        }
        // A checkpoint no quorum signed is refused, not taken for a fork.
        let mut unsigned = twin.clone();
        unsigned.certificate.signatures.truncate(2);
        assert!(matches!(
            check(&history, Some(&later), &unsigned, None),
            Err(FollowError::Invalid(_))
        ));
    }
}

#[cfg(test)]
mod history_tests {
    use crate::block::{
        CertificateError, CommitCertificate, CommitSignature, Header, SetChange, Validator,
        ValidatorSet, VoteKind, vote_digest,
    };
    use crate::bundle::{ValidatorHistory, VerifyError, verify_certified_header};
    use crate::genesis::tests::test_genesis;
    use crate::hash::Digest;
    use crate::ids::{AgencyId, BlockId, Height};
    use crate::keys::Keypair;

    fn header(
        genesis: &crate::genesis::Genesis,
        height: u64,
        set: &ValidatorSet,
        next: &ValidatorSet,
    ) -> Header {
        Header {
            chain_id: genesis.chain_id(),
            height: Height(height),
            time_ms: height,
            parent: BlockId(Digest([height as u8; 32])),
            transactions_root: Digest::ZERO,
            transaction_count: 0,
            log_root: Digest::ZERO,
            log_size: 0,
            state_root: Digest::ZERO,
            validators_hash: set.hash(),
            next_validators_hash: next.hash(),
            proposer: set.validators[0].public_key,
        }
    }

    fn certify(
        genesis: &crate::genesis::Genesis,
        header: &Header,
        signers: &[&Keypair],
    ) -> CommitCertificate {
        let digest = vote_digest(
            &genesis.chain_id(),
            VoteKind::Precommit,
            header.height,
            0,
            Some(&header.id()),
        );
        CommitCertificate {
            height: header.height,
            round: 0,
            block_id: header.id(),
            signatures: signers
                .iter()
                .map(|k| CommitSignature {
                    validator: k.public(),
                    signature: k.sign(&digest),
                })
                .collect(),
        }
    }

    #[test]
    fn the_light_client_follows_certified_changes_and_names_the_broken_link() {
        let (genesis, keys) = test_genesis(4);
        let v: Vec<Keypair> = keys.into_iter().map(|(v, _)| v).collect();
        let founders = genesis.content.validator_set();
        // Agency 3 leaves and a new agency joins, from height 6 on.
        let joiner = Keypair::from_seed(&[200; 32]);
        let mut members: Vec<Validator> = founders
            .validators
            .iter()
            .filter(|x| x.public_key != v[3].public())
            .cloned()
            .collect();
        members.push(Validator {
            agency: AgencyId::new("AG-NEW").expect("id"),
            public_key: joiner.public(),
            power: 1,
        });
        let next = ValidatorSet::new(members);
        let last_of_founders = header(&genesis, 5, &founders, &next);
        let change = SetChange {
            certificate: certify(&genesis, &last_of_founders, &[&v[0], &v[1], &v[2]]),
            header: last_of_founders,
            validators: next.clone(),
        };
        let later = header(&genesis, 9, &next, &next);
        let later_cert = certify(&genesis, &later, &[&v[0], &v[1], &joiner]);

        let mut history = ValidatorHistory::from_genesis(&genesis, genesis.chain_id());
        history
            .follow(std::slice::from_ref(&change))
            .expect("a certified change");
        assert_eq!(history.changes(), 1);
        verify_certified_header(&history, &later, &later_cert).expect("certified by the new set");
        // The change's own header, and an earlier one, still check under the founders.
        verify_certified_header(&history, &change.header, &change.certificate)
            .expect("the change header");

        // Without the change, the later header names a set nobody introduced.
        let bare = ValidatorHistory::from_genesis(&genesis, genesis.chain_id());
        let err = verify_certified_header(&bare, &later, &later_cert).expect_err("skipped change");
        assert!(matches!(err, VerifyError::Header(_)), "{err}");
        assert!(err.to_string().contains("skips a change"), "{err}");

        // A removed agency's precommit does not count.
        let by_removed = certify(&genesis, &later, &[&v[0], &v[1], &v[3]]);
        let err =
            verify_certified_header(&history, &later, &by_removed).expect_err("removed signer");
        assert!(
            matches!(
                err,
                VerifyError::Certificate(CertificateError::UnknownValidator(_))
            ),
            "{err}"
        );

        // A forged change: another set than the header commits to.
        let mut forged = change.clone();
        forged.validators = founders.clone();
        let err = ValidatorHistory::from_genesis(&genesis, genesis.chain_id())
            .follow(&[forged])
            .expect_err("forged change");
        assert_eq!(err.link(), "validator-set change", "{err}");

        // A change certified by the incoming set instead of the outgoing one.
        let mut self_certified = change.clone();
        self_certified.certificate = certify(&genesis, &change.header, &[&v[0], &v[1], &joiner]);
        let err = ValidatorHistory::from_genesis(&genesis, genesis.chain_id())
            .follow(&[self_certified])
            .expect_err("certified by the wrong set");
        assert_eq!(err.link(), "validator-set change", "{err}");
        assert!(err.to_string().contains("certificate"), "{err}");
    }
}
