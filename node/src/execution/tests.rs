//! Execution tests: table-driven, against state held in memory.

use std::collections::BTreeMap;

use caravan_sdk::block::Block;
use caravan_sdk::codec;
use caravan_sdk::hash::Digest;
use caravan_sdk::ids::{BlockId, ChainId, Height, Nonce, ParticipantId, TxId};
use caravan_sdk::keys::{Keypair, PublicKey};
use caravan_sdk::tx::{Body, Outcome, RejectReason, Role, SignedTx, UnsignedTx};

use super::*;
use crate::execution::Entries;

/// Committed state in memory.
pub(crate) struct MemState {
    pub(crate) entries: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl StateView for MemState {
    type Error = std::convert::Infallible;
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Self::Error> {
        Ok(self.entries.get(key).cloned())
    }
    fn scan(&self, prefix: &[u8]) -> Result<Entries, Self::Error> {
        Ok(self
            .entries
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
    fn tx_committed(&self, _: &TxId) -> Result<bool, Self::Error> {
        Ok(false)
    }
}

const CHAIN: ChainId = ChainId(Digest([4; 32]));

fn setup() -> (MemState, Keypair, PublicKey) {
    let agency = Keypair::from_seed(&[1; 32]);
    let proposer = Keypair::from_seed(&[2; 32]).public();
    let mut entries = BTreeMap::new();
    entries.insert(
        keys::participant(&ParticipantId::new("CN-QDG-CUSTOMS").expect("id")),
        codec::encode(&Participant {
            name: "Qingdao".into(),
            roles: vec![Role::Registry, Role::Customs],
            public_key: agency.public(),
            registered_at: Height(0),
            registered_by_tx: None,
        }),
    );
    (MemState { entries }, agency, proposer)
}

fn register(agency: &Keypair, nonce: u64, id: &str, key: &Keypair) -> SignedTx {
    UnsignedTx {
        chain_id: CHAIN,
        signer: ParticipantId::new("CN-QDG-CUSTOMS").expect("id"),
        nonce: Nonce(nonce),
        body: Body::RegisterParticipant {
            id: ParticipantId::new(id).expect("id"),
            name: id.into(),
            roles: vec![Role::Enterprise],
            public_key: key.public(),
        },
    }
    .sign(agency)
}

fn anchor(signer: &str, key: &Keypair, nonce: u64) -> SignedTx {
    UnsignedTx {
        chain_id: CHAIN,
        signer: ParticipantId::new(signer).expect("id"),
        nonce: Nonce(nonce),
        body: Body::AnchorRecord {
            kind: "generic".into(),
            document_hash: Digest([nonce as u8; 32]),
            metadata: vec![],
        },
    }
    .sign(key)
}

#[test]
fn later_transactions_see_earlier_ones_in_the_same_block() {
    let (state, agency, proposer) = setup();
    let exporter = Keypair::from_seed(&[3; 32]);
    let txs = vec![
        register(&agency, 1, "EXP-1", &exporter),
        anchor("EXP-1", &exporter, 1),
    ];
    let (block, effects) = build_block(
        &state,
        &CHAIN,
        &Tip::genesis(&CHAIN),
        5,
        Digest::ZERO,
        proposer,
        txs,
    )
    .expect("build");
    assert!(
        effects
            .receipts
            .iter()
            .all(|r| r.outcome == Outcome::Accepted)
    );
    let exp_key = keys::participant(&ParticipantId::new("EXP-1").expect("id"));
    assert!(
        effects
            .writes
            .iter()
            .any(|(k, v)| k == &exp_key && v.is_some())
    );
    assert_eq!(block.header.log_size, 2);
    // Re-execution by another validator agrees on every field.
    let again = verify_block(
        &state,
        &CHAIN,
        &Tip::genesis(&CHAIN),
        Digest::ZERO,
        &block,
        10,
    )
    .expect("verify");
    assert_eq!(again.tip, effects.tip);
}

#[test]
fn ordered_conflicts_get_rejected_receipts() {
    let (state, agency, proposer) = setup();
    let a = Keypair::from_seed(&[3; 32]);
    let b = Keypair::from_seed(&[4; 32]);
    // The same participant id twice, and the same nonce twice.
    let txs = vec![
        register(&agency, 1, "EXP-1", &a),
        register(&agency, 2, "EXP-1", &b),
        register(&agency, 2, "EXP-2", &b),
    ];
    let (_, effects) = build_block(
        &state,
        &CHAIN,
        &Tip::genesis(&CHAIN),
        5,
        Digest::ZERO,
        proposer,
        txs,
    )
    .expect("build");
    let reasons: Vec<Option<RejectReason>> = effects
        .receipts
        .iter()
        .map(|r| match &r.outcome {
            Outcome::Accepted => None,
            Outcome::Rejected { rejection } => Some(rejection.reason),
        })
        .collect();
    assert_eq!(
        reasons,
        vec![
            None,
            Some(RejectReason::DuplicateParticipant),
            Some(RejectReason::NonceUsed)
        ]
    );
}

#[test]
fn blocks_with_inadmissible_transactions_are_invalid() {
    let (state, agency, proposer) = setup();
    let exporter = Keypair::from_seed(&[3; 32]);
    let good = register(&agency, 1, "EXP-1", &exporter);
    let mut forged = good.clone();
    forged.signature.0[0] ^= 1;
    let replay = vec![good.clone(), good.clone()];
    let impostor = vec![anchor("CN-QDG-CUSTOMS", &exporter, 9)];
    for (txs, reason) in [
        (vec![forged], RejectReason::BadSignature),
        (replay, RejectReason::Replayed),
        (impostor, RejectReason::BadSignature),
        (
            vec![anchor("NOBODY", &exporter, 1)],
            RejectReason::UnknownSigner,
        ),
    ] {
        match build_block(
            &state,
            &CHAIN,
            &Tip::genesis(&CHAIN),
            5,
            Digest::ZERO,
            proposer,
            txs,
        ) {
            Err(BlockError::Inadmissible { rejection, .. }) => {
                assert_eq!(rejection.reason, reason)
            }
            other => panic!(
                "expected {reason:?}, got {:?}",
                other.map(|(b, _)| b.header.height)
            ),
        }
    }
}

#[test]
fn every_header_field_is_checked() {
    let (state, agency, proposer) = setup();
    let exporter = Keypair::from_seed(&[3; 32]);
    let (block, _) = build_block(
        &state,
        &CHAIN,
        &Tip::genesis(&CHAIN),
        5,
        Digest::ZERO,
        proposer,
        vec![register(&agency, 1, "EXP-1", &exporter)],
    )
    .expect("build");
    let tip = Tip::genesis(&CHAIN);
    type Mutation = Box<dyn Fn(&mut Block)>;
    let mutations: Vec<(&str, Mutation)> = vec![
        (
            "chain_id",
            Box::new(|b| b.header.chain_id = ChainId(Digest([9; 32]))),
        ),
        ("height", Box::new(|b| b.header.height = Height(2))),
        (
            "parent",
            Box::new(|b| b.header.parent = BlockId(Digest([1; 32]))),
        ),
        ("time_ms", Box::new(|b| b.header.time_ms = 1_000_000_000)),
        (
            "validators_hash",
            Box::new(|b| b.header.validators_hash = Digest([1; 32])),
        ),
        (
            "transaction_count",
            Box::new(|b| b.header.transaction_count = 2),
        ),
        (
            "transactions_root",
            Box::new(|b| b.header.transactions_root = Digest([1; 32])),
        ),
        (
            "log_root",
            Box::new(|b| b.header.log_root = Digest([1; 32])),
        ),
        ("log_root", Box::new(|b| b.header.log_size = 7)),
        (
            "state_root",
            Box::new(|b| b.header.state_root = Digest([1; 32])),
        ),
    ];
    for (field, mutate) in mutations {
        let mut bad = block.clone();
        mutate(&mut bad);
        match verify_block(&state, &CHAIN, &tip, Digest::ZERO, &bad, 10) {
            Err(BlockError::Mismatch { field: found, .. }) => assert_eq!(found, field),
            other => panic!(
                "{field}: expected a mismatch, got {:?}",
                other.map(|e| e.tip.height)
            ),
        }
    }
}
