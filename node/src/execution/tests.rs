//! Execution tests: table-driven, against state held in memory.

use std::collections::BTreeMap;
use std::sync::Arc;

use caravan_sdk::block::Block;
use caravan_sdk::codec;
use caravan_sdk::genesis::{MemberCard, Params};
use caravan_sdk::hash::Digest;
use caravan_sdk::ids::AgencyId;
use caravan_sdk::ids::{BlockId, ChainId, Height, Nonce, ParticipantId, TxId};
use caravan_sdk::keys::{Keypair, PublicKey};
use caravan_sdk::tx::{Body, Outcome, RejectReason, Role, SignedTx, UnsignedTx};

use super::*;
use crate::execution::Entries;
use crate::execution::state_tree::{self, MemoryTree, NodePos, NodeWrite, TreeNodes};

/// Committed state in memory, with its state tree.
pub(crate) struct MemState {
    pub(crate) entries: BTreeMap<Vec<u8>, Vec<u8>>,
    pub(crate) tree: MemoryTree,
}

impl MemState {
    /// The state holding `entries`, with its tree built.
    pub(crate) fn new(entries: BTreeMap<Vec<u8>, Vec<u8>>) -> Self {
        let mut state = MemState {
            entries: BTreeMap::new(),
            tree: MemoryTree::default(),
        };
        let writes: Vec<_> = entries.into_iter().map(|(k, v)| (k, Some(v))).collect();
        let (_, nodes) = state_tree::apply(&state.tree, &state_tree::tree_writes(&writes))
            .expect("genesis tree");
        state.commit(writes, &nodes);
        state
    }

    /// Applies a block's state writes and tree nodes, as the store does.
    pub(crate) fn commit(&mut self, writes: Vec<(Vec<u8>, Option<Vec<u8>>)>, nodes: &[NodeWrite]) {
        for (key, value) in writes {
            match value {
                Some(v) => self.entries.insert(key, v),
                None => self.entries.remove(&key),
            };
        }
        self.tree.write(nodes);
    }

    /// Writes one entry outside any block (test setup), keeping the tree in step.
    pub(crate) fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        let writes = vec![(key, Some(value))];
        let (_, nodes) =
            state_tree::apply(&self.tree, &state_tree::tree_writes(&writes)).expect("tree");
        self.commit(writes, &nodes);
    }

    /// The tip before the first block over this state.
    pub(crate) fn genesis_tip(&self) -> Tip {
        Tip::genesis(state_tree::root(&self.tree).expect("root"))
    }

    /// The root of a tree built from scratch over the entries.
    pub(crate) fn root_from_scratch(&self) -> Digest {
        let leaves: Vec<_> = self
            .entries
            .iter()
            .filter(|(k, _)| state_tree::in_tree(k))
            .map(|(k, v)| {
                (
                    caravan_sdk::state_tree::key_hash(k),
                    caravan_sdk::state_tree::value_hash(v),
                )
            })
            .collect();
        caravan_sdk::state_tree::root_of(&leaves)
    }
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
    fn tree_node(&self, pos: &NodePos) -> Result<Option<Vec<u8>>, Self::Error> {
        self.tree.tree_node(pos)
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
            agency: true,
        }),
    );
    let card = MemberCard {
        agency: AgencyId::new("CN-QDG-CUSTOMS").expect("id"),
        name: "Qingdao".into(),
        country: "CN".into(),
        roles: vec![Role::Registry, Role::Customs],
        validator_key: proposer,
        network_key: Keypair::from_seed(&[5; 32]).public(),
        admin_key: agency.public(),
        p2p_address: "127.0.0.1:1".into(),
        api_url: "http://127.0.0.1:2".into(),
    };
    entries.insert(
        governance::gkeys::member(&card.agency),
        codec::encode(&card),
    );
    entries.insert(
        governance::gkeys::validators(),
        codec::encode(&governance::set_of(std::slice::from_ref(&card))),
    );
    entries.insert(
        governance::gkeys::params(),
        codec::encode(&Params::default()),
    );
    (MemState::new(entries), agency, proposer)
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

/// `signer` anchors a generic record, with `nonce`, signed by `key` (for any test of the crate).
pub(crate) fn anchor(signer: &str, key: &Keypair, nonce: u64) -> SignedTx {
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

/// Builds a block from all of `txs`: a candidate that no block may carry refuses the block (as
/// re-execution by another validator would), instead of being dropped as a proposer does.
#[allow(clippy::too_many_arguments)]
fn build_all<V: StateView>(
    view: &V,
    chain_id: &ChainId,
    parent: &Tip,
    time_ms: u64,
    proposer: PublicKey,
    txs: Vec<SignedTx>,
    verified: &Verified,
) -> Result<(Block, BlockEffects), BlockError> {
    execute(
        view,
        chain_id,
        parent,
        parent.height.next(),
        BlockId(Digest::ZERO),
        time_ms.max(parent.time_ms),
        &txs,
        verified,
    )?;
    let built = build_block(view, chain_id, parent, time_ms, proposer, txs, verified)?;
    assert!(built.dropped.is_empty());
    Ok((built.block, built.effects))
}

#[test]
fn the_proposer_drops_candidates_no_block_may_carry() {
    let (state, agency, proposer) = setup();
    let exporter = Keypair::from_seed(&[3; 32]);
    let good = register(&agency, 1, "EXP-1", &exporter);
    let mut forged = register(&agency, 2, "EXP-2", &exporter);
    forged.signature.0[0] ^= 1;
    let stranger = anchor("NOBODY", &exporter, 1);
    let later = anchor("EXP-1", &exporter, 1);
    let built = build_block(
        &state,
        &CHAIN,
        &state.genesis_tip(),
        5,
        proposer,
        vec![
            forged.clone(),
            good.clone(),
            stranger.clone(),
            later.clone(),
        ],
        &Verified::new(64),
    )
    .expect("build");
    assert_eq!(built.dropped, vec![forged, stranger]);
    assert_eq!(built.block.transactions, vec![good, later]);
    let indexes: Vec<u32> = built.effects.receipts.iter().map(|r| r.index).collect();
    assert_eq!(indexes, vec![0, 1]);
    // Another validator re-executes the block as built and agrees on every field.
    let again = verify_block(
        &state,
        &CHAIN,
        &state.genesis_tip(),
        &built.block,
        10,
        &Verified::new(64),
    )
    .expect("verify");
    assert_eq!(again.tip, built.effects.tip);
}

#[test]
fn the_state_root_is_the_tree_over_the_whole_state() {
    let (mut state, agency, proposer) = setup();
    let parent = state.genesis_tip();
    assert_eq!(parent.state_root, state.root_from_scratch());
    let exporter = Keypair::from_seed(&[3; 32]);
    let (block, effects) = build_all(
        &state,
        &CHAIN,
        &parent,
        5,
        proposer,
        vec![register(&agency, 1, "EXP-1", &exporter)],
        &Verified::new(64),
    )
    .expect("build");
    assert_ne!(block.header.state_root, parent.state_root);
    state.commit(effects.writes, &effects.tree_nodes);
    assert_eq!(block.header.state_root, state.root_from_scratch());
    // The stored tree proves the new participant present and a key never written absent.
    let key = keys::participant(&ParticipantId::new("EXP-1").expect("id"));
    let value = state.entries.get(&key).cloned();
    assert!(value.is_some());
    state_tree::prove(&state.tree, &key)
        .expect("prove")
        .verify(&block.header.state_root, &key, value.as_deref())
        .expect("present");
    state_tree::prove(&state.tree, b"p/NOBODY")
        .expect("prove")
        .verify(&block.header.state_root, b"p/NOBODY", None)
        .expect("absent");
    // The same state reached in another order, here built at once, has the same root.
    let rebuilt = MemState::new(state.entries.clone());
    assert_eq!(
        state_tree::root(&rebuilt.tree).expect("root"),
        block.header.state_root
    );
    assert_eq!(rebuilt.tree, state.tree);
}

#[test]
fn later_transactions_see_earlier_ones_in_the_same_block() {
    let (state, agency, proposer) = setup();
    let exporter = Keypair::from_seed(&[3; 32]);
    let txs = vec![
        register(&agency, 1, "EXP-1", &exporter),
        anchor("EXP-1", &exporter, 1),
    ];
    let (block, effects) = build_all(
        &state,
        &CHAIN,
        &state.genesis_tip(),
        5,
        proposer,
        txs,
        &Verified::new(64),
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
        &state.genesis_tip(),
        &block,
        10,
        &Verified::new(64),
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
    let (_, effects) = build_all(
        &state,
        &CHAIN,
        &state.genesis_tip(),
        5,
        proposer,
        txs,
        &Verified::new(64),
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
fn committed_transactions_are_replays_and_their_nonces_are_used() {
    let (mut state, agency, proposer) = setup();
    let exporter = Keypair::from_seed(&[3; 32]);
    let first = register(&agency, 1, "EXP-1", &exporter);
    let (_, effects) = build_all(
        &state,
        &CHAIN,
        &state.genesis_tip(),
        5,
        proposer,
        vec![first.clone()],
        &Verified::new(64),
    )
    .expect("build");
    // The nonce's marker holds the id of the transaction that used it.
    let marker = keys::nonce(&first.tx.signer, first.tx.nonce);
    let written = effects.writes.iter().find(|(k, _)| *k == marker);
    assert_eq!(
        written.and_then(|(_, v)| v.clone()),
        Some(first.id().0.as_bytes().to_vec())
    );
    let tip = effects.tip.clone();
    state.commit(effects.writes, &effects.tree_nodes);
    // The same transaction in a later block: a replay, which no block may carry.
    match build_all(
        &state,
        &CHAIN,
        &tip,
        6,
        proposer,
        vec![first.clone()],
        &Verified::new(64),
    ) {
        Err(BlockError::Inadmissible { rejection, .. }) => {
            assert_eq!(rejection.reason, RejectReason::Replayed)
        }
        other => panic!(
            "expected a replay, got {:?}",
            other.map(|(b, _)| b.header.height)
        ),
    }
    // Another transaction on the committed nonce: ordered, and rejected.
    let other = register(&agency, 1, "EXP-2", &exporter);
    let (_, effects) = build_all(
        &state,
        &CHAIN,
        &tip,
        6,
        proposer,
        vec![other],
        &Verified::new(64),
    )
    .expect("build");
    assert!(matches!(
        &effects.receipts[0].outcome,
        Outcome::Rejected { rejection } if rejection.reason == RejectReason::NonceUsed
    ));
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
        match build_all(
            &state,
            &CHAIN,
            &state.genesis_tip(),
            5,
            proposer,
            txs,
            &Verified::new(64),
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
fn a_signer_is_judged_by_its_record_as_stored_now_not_as_remembered() {
    let (mut state, agency, proposer) = setup();
    let verified = Verified::new(64);
    let key = keys::participant(&ParticipantId::new("CN-QDG-CUSTOMS").expect("id"));
    let run = |state: &MemState, nonce: u64| {
        build_all(
            state,
            &CHAIN,
            &state.genesis_tip(),
            5,
            proposer,
            vec![anchor("CN-QDG-CUSTOMS", &agency, nonce)],
            &verified,
        )
        .map(|(_, effects)| effects.receipts[0].outcome.clone())
    };
    // The record is decoded once and remembered...
    let stored = state.get(&key).expect("read").expect("founder");
    let remembered = verified.participant(&stored).expect("decode");
    assert!(Arc::ptr_eq(
        &remembered,
        &verified.participant(&stored).expect("again")
    ));
    assert_eq!(*remembered, codec::decode(&stored, 4096).expect("decode"));
    assert_eq!(run(&state, 1).expect("anchor"), Outcome::Accepted);
    // ...and a changed record (without an anchoring role, then with another key) is what counts
    // next.
    let mut record = (*remembered).clone();
    record.roles = vec![Role::Registry];
    state.put(key.clone(), codec::encode(&record));
    match run(&state, 2) {
        Err(BlockError::Inadmissible { rejection, .. }) => {
            assert_eq!(rejection.reason, RejectReason::MissingRole)
        }
        other => panic!("expected missing_role, got {other:?}"),
    }
    record.roles = vec![Role::Customs];
    record.public_key = Keypair::from_seed(&[9; 32]).public();
    state.put(key, codec::encode(&record));
    match run(&state, 3) {
        Err(BlockError::Inadmissible { rejection, .. }) => {
            assert_eq!(rejection.reason, RejectReason::BadSignature)
        }
        other => panic!("expected bad_signature, got {other:?}"),
    }
    // Bytes that are no record are an error of the state, every time they are read.
    assert!(verified.participant(&[0x83, 0x01]).is_err());
    assert!(verified.participant(&[0x83, 0x01]).is_err());
}

#[test]
fn a_remembered_signature_vouches_for_no_other() {
    let (state, agency, proposer) = setup();
    let exporter = Keypair::from_seed(&[3; 32]);
    let good = register(&agency, 1, "EXP-1", &exporter);
    let verified = Verified::new(64);
    // Pre-verification in a batch remembers the good signature...
    verified
        .preverify(&state, std::slice::from_ref(&good))
        .expect("preverify");
    assert_eq!(verified.len(), 1);
    // ...and a forged signature on the same content (same transaction id) is still refused,
    // both when pre-verified (not remembered) and when executed.
    let mut forged = good.clone();
    forged.signature.0[5] ^= 0x40;
    assert_eq!(forged.id(), good.id());
    verified
        .preverify(&state, std::slice::from_ref(&forged))
        .expect("preverify");
    assert_eq!(verified.len(), 1, "a bad signature is not remembered");
    match build_all(
        &state,
        &CHAIN,
        &state.genesis_tip(),
        5,
        proposer,
        vec![forged],
        &verified,
    ) {
        Err(BlockError::Inadmissible { rejection, .. }) => {
            assert_eq!(rejection.reason, RejectReason::BadSignature)
        }
        other => panic!(
            "expected bad_signature, got {:?}",
            other.map(|(b, _)| b.id())
        ),
    }
    // The good one builds, and re-execution with a cold cache agrees with the warm one.
    let (block, effects) = build_all(
        &state,
        &CHAIN,
        &state.genesis_tip(),
        5,
        proposer,
        vec![good],
        &verified,
    )
    .expect("build");
    let cold = verify_block(
        &state,
        &CHAIN,
        &state.genesis_tip(),
        &block,
        10,
        &Verified::new(64),
    )
    .expect("verify");
    assert_eq!(cold.tip, effects.tip);
}

#[test]
fn every_header_field_is_checked() {
    let (state, agency, proposer) = setup();
    let exporter = Keypair::from_seed(&[3; 32]);
    let (block, _) = build_all(
        &state,
        &CHAIN,
        &state.genesis_tip(),
        5,
        proposer,
        vec![register(&agency, 1, "EXP-1", &exporter)],
        &Verified::new(64),
    )
    .expect("build");
    let tip = state.genesis_tip();
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
        match verify_block(&state, &CHAIN, &tip, &bad, 10, &Verified::new(64)) {
            Err(BlockError::Mismatch { field: found, .. }) => assert_eq!(found, field),
            other => panic!(
                "{field}: expected a mismatch, got {:?}",
                other.map(|e| e.tip.height)
            ),
        }
    }
}

mod trade {
    //! The trade bodies, run through real blocks over state held in memory.

    use caravan_sdk::hash::{Domain, hash};
    use caravan_sdk::trade::documents::DocumentFields;
    use caravan_sdk::trade::ident::{Amount, CountryCode};
    use caravan_sdk::trade::model::{
        Consignment, CreditAttestation, CreditRecord, CustomsGrade, DocumentRecord, Enterprise,
        Grade282, Leg, LegMode, LegalIds,
    };
    use caravan_sdk::trade::rules::Rule;
    use caravan_sdk::trade::sample;

    use super::*;
    use crate::execution::tkeys;

    /// 2025-05-01, in the sample consignment's time frame.
    const DAY_MS: u64 = 1_746_057_600_000;

    struct Ledger {
        state: MemState,
        tip: Tip,
        agency: Keypair,
        nonces: BTreeMap<String, u64>,
    }

    impl Ledger {
        fn new() -> Self {
            let (state, agency, _) = setup();
            Ledger {
                tip: state.genesis_tip(),
                state,
                agency,
                nonces: BTreeMap::new(),
            }
        }

        fn sign(&mut self, signer: &str, key: &Keypair, body: Body) -> SignedTx {
            let nonce = self.nonces.entry(signer.to_string()).or_insert(0);
            *nonce += 1;
            UnsignedTx {
                chain_id: CHAIN,
                signer: ParticipantId::new(signer).expect("id"),
                nonce: Nonce(*nonce),
                body,
            }
            .sign(key)
        }

        /// Commits one block and returns the outcomes.
        fn block(&mut self, txs: Vec<SignedTx>) -> Vec<Outcome> {
            let proposer = Keypair::from_seed(&[2; 32]).public();
            let (block, effects) = build_all(
                &self.state,
                &CHAIN,
                &self.tip,
                DAY_MS + self.tip.height.0,
                proposer,
                txs,
                &Verified::new(64),
            )
            .expect("valid block");
            self.state.commit(effects.writes, &effects.tree_nodes);
            // The header's state root is the root of the tree over the whole state.
            assert_eq!(block.header.state_root, self.state.root_from_scratch());
            assert_eq!(effects.tip.state_root, block.header.state_root);
            self.tip = effects.tip;
            effects.receipts.into_iter().map(|r| r.outcome).collect()
        }

        fn one(&mut self, tx: SignedTx) -> Outcome {
            self.block(vec![tx]).remove(0)
        }

        fn get<T: for<'b> minicbor::Decode<'b, ()> + minicbor::Encode<()>>(
            &self,
            key: &[u8],
        ) -> Option<T> {
            self.state
                .entries
                .get(key)
                .map(|v| codec::decode(v, 1 << 24).expect("decode"))
        }

        fn participant(&mut self, id: &str, role: Role, key: &Keypair) {
            let agency = Keypair::from_seed(&[1; 32]);
            let tx = self.sign(
                "CN-QDG-CUSTOMS",
                &agency,
                Body::RegisterParticipant {
                    id: ParticipantId::new(id).expect("id"),
                    name: id.into(),
                    roles: vec![role],
                    public_key: key.public(),
                },
            );
            assert_eq!(self.one(tx), Outcome::Accepted);
        }
    }

    fn rejected(outcome: &Outcome) -> Option<RejectReason> {
        match outcome {
            Outcome::Accepted => None,
            Outcome::Rejected { rejection } => Some(rejection.reason),
        }
    }

    fn anchor(ucr: Option<&str>, leg: Option<u16>, fields: DocumentFields, salt: &str) -> Body {
        Body::AnchorDocument {
            consignment: ucr.map(str::to_string),
            leg,
            content_hash: hash(
                Domain::Content,
                format!("{}{salt}", fields.number()).as_bytes(),
            ),
            fields_root: hash(Domain::Content, salt.as_bytes()),
            fields: Box::new(fields),
        }
    }

    #[test]
    fn enterprises_credit_documents_consignments_and_liens() {
        let mut l = Ledger::new();
        let agency = l.agency.clone();
        // The agency also holds the credit role for this test.
        let mut qingdao: Participant = l
            .get(&keys::participant(
                &ParticipantId::new("CN-QDG-CUSTOMS").expect("id"),
            ))
            .expect("agency");
        qingdao.roles = vec![Role::Registry, Role::Credit, Role::Customs];
        l.state.put(
            keys::participant(&ParticipantId::new("CN-QDG-CUSTOMS").expect("id")),
            codec::encode(&qingdao),
        );

        // An enterprise gets an SCO code; a second registration of its USCC is refused.
        let exporter = Keypair::from_seed(&[10; 32]);
        let seller = sample::seller();
        let register = |id: &str, key: &Keypair| Body::RegisterEnterprise {
            id: ParticipantId::new(id).expect("id"),
            name: seller.name.clone(),
            country: CountryCode::new("CN").expect("cn"),
            legal_ids: LegalIds {
                uscc: seller.uscc.clone(),
                lei: None,
                national: None,
            },
            roles: vec![Role::Enterprise],
            public_key: key.public(),
        };
        let tx = l.sign("CN-QDG-CUSTOMS", &agency, register("CN-HAINA", &exporter));
        assert_eq!(l.one(tx), Outcome::Accepted);
        let sco: String = l
            .get(&tkeys::enterprise_of(
                &ParticipantId::new("CN-HAINA").expect("id"),
            ))
            .expect("sco issued");
        assert!(sco.starts_with("SCO-CN-000001-"), "{sco}");
        let enterprise: Enterprise = l.get(&tkeys::enterprise(&sco)).expect("enterprise");
        let tx = l.sign(
            "CN-QDG-CUSTOMS",
            &agency,
            register("CN-HAINA-TWIN", &Keypair::from_seed(&[11; 32])),
        );
        assert_eq!(
            rejected(&l.one(tx)),
            Some(RejectReason::DuplicateParticipant)
        );

        // Credit: attested, summarised, revoked only by its issuer.
        let tx = l.sign(
            "CN-QDG-CUSTOMS",
            &agency,
            Body::AttestCredit {
                sco_code: enterprise.sco_code.clone(),
                record: CreditRecord::CustomsGrade {
                    grade: CustomsGrade::Order282(Grade282::AdvancedCertified),
                },
                valid_from: sample::date(2025, 1, 1),
                valid_until: None,
                evidence_hash: Digest([7; 32]),
            },
        );
        let grade_id = tx.id();
        assert_eq!(l.one(tx), Outcome::Accepted);
        let attestation: CreditAttestation =
            l.get(&tkeys::attestation(&grade_id)).expect("attestation");
        let summary = caravan_sdk::trade::model::credit_summary(
            &enterprise,
            &[attestation],
            Default::default(),
            sample::date(2025, 5, 1),
        );
        assert!(summary.aeo);
        assert_eq!(summary.standing, "good");

        // Carriers and banks.
        let carrier = Keypair::from_seed(&[12; 32]);
        l.participant("COSCO-LINES", Role::Carrier, &carrier);
        let rail = Keypair::from_seed(&[13; 32]);
        l.participant("CR-EXPRESS", Role::Carrier, &rail);
        let bank1 = Keypair::from_seed(&[14; 32]);
        l.participant("BANK-QD", Role::Bank, &bank1);
        let bank2 = Keypair::from_seed(&[15; 32]);
        l.participant("BANK-ALA", Role::Bank, &bank2);

        // The enterprise cannot attest credit (role outside its rights): inadmissible.
        let tx = l.sign(
            "CN-HAINA",
            &exporter,
            Body::RevokeCredit {
                attestation: grade_id,
                reason: "no".into(),
            },
        );
        let err = build_all(
            &l.state,
            &CHAIN,
            &l.tip,
            DAY_MS,
            exporter.public(),
            vec![tx],
            &Verified::new(64),
        )
        .err();
        assert!(
            matches!(err, Some(BlockError::Inadmissible { rejection, .. }) if rejection.reason == RejectReason::MissingRole)
        );

        // A document for an unknown consignment is refused.
        let tx = l.sign(
            "CN-HAINA",
            &exporter,
            anchor(
                Some("CN-UNKNOWN-1"),
                None,
                DocumentFields::Invoice(sample::invoice()),
                "a",
            ),
        );
        assert_eq!(rejected(&l.one(tx)), Some(RejectReason::NotFound));

        // Open the consignment and anchor its documents from different parties.
        let ucr = "6CN91350100-HN0417";
        let legs = vec![
            Leg {
                mode: LegMode::Sea,
                carrier: ParticipantId::new("COSCO-LINES").expect("id"),
                from: sample::locode("CNTAO"),
                to: sample::locode("CNLYG"),
            },
            Leg {
                mode: LegMode::Rail,
                carrier: ParticipantId::new("CR-EXPRESS").expect("id"),
                from: sample::locode("CNLYG"),
                to: sample::locode("KZALA"),
            },
        ];
        let tx = l.sign(
            "CN-HAINA",
            &exporter,
            Body::OpenConsignment {
                ucr: ucr.into(),
                legs,
                parties: vec![],
            },
        );
        assert_eq!(l.one(tx), Outcome::Accepted);
        let invoice_tx = l.sign(
            "CN-HAINA",
            &exporter,
            anchor(
                Some(ucr),
                None,
                DocumentFields::Invoice(sample::invoice()),
                "inv",
            ),
        );
        let invoice_id = invoice_tx.id();
        let mut heavy_note = sample::rail_consignment_note();
        heavy_note.weight_gross = sample::qty(11_500_000, "KGM");
        heavy_note.goods[0].weight_gross = sample::qty(10_100_000, "KGM");
        let txs = vec![
            invoice_tx,
            l.sign(
                "CN-HAINA",
                &exporter,
                anchor(
                    Some(ucr),
                    None,
                    DocumentFields::Declaration(sample::declaration()),
                    "dec",
                ),
            ),
            l.sign(
                "COSCO-LINES",
                &carrier,
                anchor(
                    Some(ucr),
                    Some(0),
                    DocumentFields::Transport(sample::sea_bill_of_lading()),
                    "bl",
                ),
            ),
            l.sign(
                "CR-EXPRESS",
                &rail,
                anchor(
                    Some(ucr),
                    Some(1),
                    DocumentFields::Transport(heavy_note),
                    "smgs",
                ),
            ),
            l.sign(
                "CN-HAINA",
                &exporter,
                anchor(
                    Some(ucr),
                    None,
                    DocumentFields::PackingList(sample::packing_list()),
                    "pl",
                ),
            ),
            l.sign(
                "CN-HAINA",
                &exporter,
                anchor(
                    Some(ucr),
                    None,
                    DocumentFields::CertificateOfOrigin(sample::certificate_of_origin()),
                    "coo",
                ),
            ),
        ];
        let note_id = txs[3].id();
        let mut outcomes = l.block(txs);
        for receipt in sample::receipts() {
            let tx = l.sign(
                "COSCO-LINES",
                &carrier,
                anchor(
                    Some(ucr),
                    None,
                    DocumentFields::InterchangeReceipt(receipt),
                    "eir",
                ),
            );
            outcomes.push(l.one(tx));
        }
        assert!(
            outcomes.iter().all(|o| *o == Outcome::Accepted),
            "{outcomes:?}"
        );
        let k: Consignment = l.get(&tkeys::consignment(ucr)).expect("consignment");
        let report = k.report.expect("report");
        assert_eq!(report.failed(), vec![Rule::Weights], "{report:?}");

        // An agency may override the failed rule, citing the current report; a stale citation
        // or an override of a passing rule is refused, and only agencies attest.
        let current = crate::execution::report_hash(&report);
        let attest = |rule: Rule, cited: Digest| Body::AttestReport {
            ucr: ucr.into(),
            report_hash: cited,
            decision: caravan_sdk::trade::model::ReportDecision::Override {
                rule,
                reason: "scale at Khorgos re-weighed the wagon".into(),
            },
        };
        let tx = l.sign("CN-QDG-CUSTOMS", &agency, attest(Rule::Packages, current));
        assert_eq!(rejected(&l.one(tx)), Some(RejectReason::Conflict));
        let tx = l.sign(
            "CN-QDG-CUSTOMS",
            &agency,
            attest(Rule::Weights, Digest([9; 32])),
        );
        assert_eq!(rejected(&l.one(tx)), Some(RejectReason::Conflict));
        let tx = l.sign("CN-QDG-CUSTOMS", &agency, attest(Rule::Weights, current));
        assert_eq!(l.one(tx), Outcome::Accepted);

        // Transport events: the leg's carrier or an agency, nobody else.
        let event = |leg: u16| Body::RecordTransportEvent {
            ucr: ucr.into(),
            leg,
            event: caravan_sdk::trade::model::TransportEventKind::Departed,
            place: sample::locode("CNTAO"),
            at_ms: DAY_MS,
        };
        let tx = l.sign("CR-EXPRESS", &rail, event(0));
        assert_eq!(rejected(&l.one(tx)), Some(RejectReason::NotPermitted));
        let tx = l.sign("COSCO-LINES", &carrier, event(0));
        assert_eq!(l.one(tx), Outcome::Accepted);
        let tx = l.sign("COSCO-LINES", &carrier, event(5));
        assert_eq!(rejected(&l.one(tx)), Some(RejectReason::NotFound));

        // Only the issuer amends; the carrier's amendment turns the report clean.
        let mut fixed = sample::rail_consignment_note();
        fixed.number = "SMGS 24-0417-0093".into();
        let amend = |fields: DocumentFields| Body::AmendDocument {
            document: note_id,
            content_hash: Digest([21; 32]),
            fields_root: Digest([22; 32]),
            fields: Box::new(fields),
        };
        let tx = l.sign(
            "CN-HAINA",
            &exporter,
            amend(DocumentFields::Transport(fixed.clone())),
        );
        assert_eq!(rejected(&l.one(tx)), Some(RejectReason::NotPermitted));
        let tx = l.sign("CR-EXPRESS", &rail, amend(DocumentFields::Transport(fixed)));
        assert_eq!(l.one(tx), Outcome::Accepted);
        let k: Consignment = l.get(&tkeys::consignment(ucr)).expect("consignment");
        assert!(
            k.report.as_ref().is_some_and(|r| r.is_clean()),
            "{:?}",
            k.report
        );
        let note: DocumentRecord = l.get(&tkeys::document(&note_id)).expect("note");
        assert_eq!(note.versions.len(), 2);

        // Liens: the first wins; a second on the same invoice, in the same block or later, on a
        // byte-identical copy, or on a re-issue with the same number and amount, is refused.
        let lien = |document: TxId, minor: i64| Body::RegisterLien {
            document,
            amount: Amount {
                minor,
                currency: sample::currency("USD"),
            },
            until: sample::date(2025, 12, 31),
        };
        let first = l.sign("BANK-QD", &bank1, lien(invoice_id, 10_000_000));
        let first_id = first.id();
        let second = l.sign("BANK-ALA", &bank2, lien(invoice_id, 9_000_000));
        let outcomes = l.block(vec![first, second]);
        assert_eq!(outcomes[0], Outcome::Accepted);
        match &outcomes[1] {
            Outcome::Rejected { rejection } => {
                assert_eq!(rejection.reason, RejectReason::DoubleFinancing);
                assert!(
                    rejection.detail.contains(&first_id.to_string()),
                    "{}",
                    rejection.detail
                );
            }
            other => panic!("second lien accepted: {other:?}"),
        }
        let copy = l.sign(
            "CN-HAINA",
            &exporter,
            anchor(
                None,
                None,
                DocumentFields::Invoice(sample::invoice()),
                "inv",
            ),
        );
        let copy_id = copy.id();
        let mut reissue_fields = sample::invoice();
        reissue_fields.number = "hn-2025-0417 ".into();
        let reissue = l.sign(
            "CN-HAINA",
            &exporter,
            anchor(
                None,
                None,
                DocumentFields::Invoice(reissue_fields),
                "reissued",
            ),
        );
        let reissue_id = reissue.id();
        assert_eq!(
            l.block(vec![copy, reissue]),
            vec![Outcome::Accepted, Outcome::Accepted]
        );
        for target in [copy_id, reissue_id] {
            let tx = l.sign("BANK-ALA", &bank2, lien(target, 5_000_000));
            assert_eq!(rejected(&l.one(tx)), Some(RejectReason::DoubleFinancing));
        }

        // Released by its bank only; then the other bank may finance.
        let tx = l.sign("BANK-ALA", &bank2, Body::ReleaseLien { lien: first_id });
        assert_eq!(rejected(&l.one(tx)), Some(RejectReason::NotPermitted));
        let tx = l.sign("BANK-QD", &bank1, Body::ReleaseLien { lien: first_id });
        assert_eq!(l.one(tx), Outcome::Accepted);
        let tx = l.sign("BANK-ALA", &bank2, lien(copy_id, 5_000_000));
        assert_eq!(l.one(tx), Outcome::Accepted);

        // Closing: only the opener or an agency; a closed consignment takes no more documents.
        let tx = l.sign(
            "COSCO-LINES",
            &carrier,
            Body::CloseConsignment { ucr: ucr.into() },
        );
        assert_eq!(rejected(&l.one(tx)), Some(RejectReason::NotPermitted));
        let tx = l.sign(
            "CN-HAINA",
            &exporter,
            Body::CloseConsignment { ucr: ucr.into() },
        );
        assert_eq!(l.one(tx), Outcome::Accepted);
        let tx = l.sign(
            "CN-HAINA",
            &exporter,
            anchor(
                Some(ucr),
                None,
                DocumentFields::PackingList(sample::packing_list()),
                "late",
            ),
        );
        assert_eq!(rejected(&l.one(tx)), Some(RejectReason::Conflict));

        // A withdrawn document cannot be financed.
        let tx = l.sign(
            "CN-HAINA",
            &exporter,
            Body::WithdrawDocument {
                document: reissue_id,
                reason: "issued in error".into(),
            },
        );
        assert_eq!(l.one(tx), Outcome::Accepted);
        let tx = l.sign("BANK-QD", &bank1, lien(reissue_id, 1));
        assert_eq!(rejected(&l.one(tx)), Some(RejectReason::Conflict));
    }
}
