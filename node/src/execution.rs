//! Execution: the pure core that turns a parent state and an ordered list of transactions into
//! receipts, state changes and the new log and state roots. No IO, no clock, no randomness: every
//! validator computes the same result, and a proposer's header is checked by recomputing it.

use std::collections::{HashMap, HashSet};

use minicbor::{Decode, Encode};

use caravan_sdk::block::{Block, Header, transactions_root};
use caravan_sdk::codec;
use caravan_sdk::hash::{Digest, Domain, hash, hash_parts};
use caravan_sdk::ids::{BlockId, ChainId, Height, Nonce, ParticipantId, TxId};
use caravan_sdk::keys::PublicKey;
use caravan_sdk::merkle::{Frontier, NodeKey};
use caravan_sdk::tx::{Body, LogEntry, Outcome, Receipt, RejectReason, Rejection, Role, SignedTx};

/// A registered participant as the state holds it.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, serde::Serialize)]
#[cbor(array)]
pub struct Participant {
    /// Display name.
    #[n(0)]
    pub name: String,
    /// Roles.
    #[n(1)]
    pub roles: Vec<Role>,
    /// Signing key.
    #[n(2)]
    pub public_key: PublicKey,
    /// Height of registration (0 for founding agencies).
    #[n(3)]
    pub registered_at: Height,
    /// The registration transaction (none for founding agencies).
    #[n(4)]
    pub registered_by_tx: Option<TxId>,
}

/// Read access to committed state. Implemented by the store, and by tests in memory.
pub trait StateView {
    /// Storage failure.
    type Error: std::fmt::Display;
    /// A participant.
    fn participant(&self, id: &ParticipantId) -> Result<Option<Participant>, Self::Error>;
    /// Whether `signer` used `nonce`.
    fn nonce_used(&self, signer: &ParticipantId, nonce: Nonce) -> Result<bool, Self::Error>;
    /// Whether the transaction is committed.
    fn tx_committed(&self, id: &TxId) -> Result<bool, Self::Error>;
}

/// The committed tip that the next block builds on.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(array)]
pub struct Tip {
    /// Height of the last block (0 before the first).
    #[n(0)]
    pub height: Height,
    /// Its id.
    #[n(1)]
    pub block_id: BlockId,
    /// Its time.
    #[n(2)]
    pub time_ms: u64,
    /// State commitment after it.
    #[n(3)]
    pub state_root: Digest,
    /// The log after it.
    #[n(4)]
    pub log: Frontier,
}

impl Tip {
    /// The tip before the first block.
    pub fn genesis(chain_id: &ChainId) -> Self {
        Tip {
            height: Height(0),
            block_id: BlockId(Digest::ZERO),
            time_ms: 0,
            state_root: hash(Domain::State, chain_id.0.as_bytes()),
            log: Frontier::new(),
        }
    }
}

/// Everything a block changes, ready to be written in one transaction.
#[derive(Clone, Debug)]
pub struct BlockEffects {
    /// One per transaction, in order.
    pub receipts: Vec<Receipt>,
    /// New participants.
    pub participants: Vec<(ParticipantId, Participant)>,
    /// Nonces used by the block's transactions (accepted or not).
    pub nonces: Vec<(ParticipantId, Nonce)>,
    /// The tip after the block.
    pub tip: Tip,
    /// Merkle log nodes completed by the block.
    pub log_nodes: Vec<(NodeKey, Digest)>,
}

/// In-block changes layered over committed state, so later transactions see earlier ones.
#[derive(Default)]
pub struct Overlay {
    participants: HashMap<ParticipantId, Participant>,
    nonces: HashSet<(ParticipantId, Nonce)>,
    txs: HashSet<TxId>,
}

impl Overlay {
    /// Records an accepted transaction's effects.
    pub fn record(
        &mut self,
        tx: &SignedTx,
        id: TxId,
        new_participant: Option<(ParticipantId, Participant)>,
    ) {
        self.nonces.insert((tx.tx.signer.clone(), tx.tx.nonce));
        self.txs.insert(id);
        if let Some((pid, p)) = new_participant {
            self.participants.insert(pid, p);
        }
    }

    /// Records a transaction that is ordered with a rejected receipt: it still uses its id and
    /// its nonce, so neither can be ordered again.
    pub fn record_seen(&mut self, tx: &SignedTx, id: TxId) {
        self.nonces.insert((tx.tx.signer.clone(), tx.tx.nonce));
        self.txs.insert(id);
    }
}

/// A storage failure while checking a transaction: not the transaction's fault.
#[derive(Debug, thiserror::Error)]
#[error("state unavailable: {0}")]
pub struct StateError(pub String);

/// Checks one transaction against the state and the overlay; on success returns the participant
/// it registers, if any. Used at admission and again at execution.
pub fn check_tx<V: StateView>(
    view: &V,
    overlay: &Overlay,
    chain_id: &ChainId,
    height: Height,
    tx: &SignedTx,
    id: TxId,
) -> Result<Result<Option<(ParticipantId, Participant)>, Rejection>, StateError> {
    let st = |e: V::Error| StateError(e.to_string());
    let inner = &tx.tx;
    if &inner.chain_id != chain_id {
        return Ok(Err(Rejection::new(
            RejectReason::WrongChain,
            format!(
                "transaction is for chain {}, this federation is {}",
                inner.chain_id, chain_id
            ),
        )));
    }
    if let Err(r) = inner.body.validate() {
        return Ok(Err(r));
    }
    let signer = match overlay.participants.get(&inner.signer) {
        Some(p) => Some(p.clone()),
        None => view.participant(&inner.signer).map_err(st)?,
    };
    let Some(signer) = signer else {
        return Ok(Err(Rejection::new(
            RejectReason::UnknownSigner,
            format!("signer {} is not a registered participant", inner.signer),
        )));
    };
    if let Err(r) = tx.verify_signature(&signer.public_key) {
        return Ok(Err(r));
    }
    let allowed = inner.body.allowed_roles();
    if !signer.roles.iter().any(|r| allowed.contains(r)) {
        return Ok(Err(Rejection::new(
            RejectReason::MissingRole,
            format!(
                "{} has roles {:?}; this transaction needs one of {:?}",
                inner.signer, signer.roles, allowed
            ),
        )));
    }
    if overlay.txs.contains(&id) || view.tx_committed(&id).map_err(st)? {
        return Ok(Err(Rejection::new(
            RejectReason::Replayed,
            format!("transaction {id} is already committed"),
        )));
    }
    if overlay
        .nonces
        .contains(&(inner.signer.clone(), inner.nonce))
        || view.nonce_used(&inner.signer, inner.nonce).map_err(st)?
    {
        return Ok(Err(Rejection::new(
            RejectReason::NonceUsed,
            format!("{} already used nonce {}", inner.signer, inner.nonce.0),
        )));
    }
    match &inner.body {
        Body::RegisterParticipant {
            id: pid,
            name,
            roles,
            public_key,
        } => {
            let exists = overlay.participants.contains_key(pid)
                || view.participant(pid).map_err(st)?.is_some();
            if exists {
                return Ok(Err(Rejection::new(
                    RejectReason::DuplicateParticipant,
                    format!("participant {pid} is already registered"),
                )));
            }
            Ok(Ok(Some((
                pid.clone(),
                Participant {
                    name: name.clone(),
                    roles: roles.clone(),
                    public_key: *public_key,
                    registered_at: height,
                    registered_by_tx: Some(id),
                },
            ))))
        }
        Body::AnchorRecord { .. } => Ok(Ok(None)),
    }
}

/// Executes `transactions` on top of `parent`: the receipts, the state changes and the new tip.
pub fn execute<V: StateView>(
    view: &V,
    chain_id: &ChainId,
    parent: &Tip,
    height: Height,
    block_id_placeholder: BlockId,
    time_ms: u64,
    transactions: &[SignedTx],
) -> Result<BlockEffects, BlockError> {
    let mut overlay = Overlay::default();
    let mut receipts = Vec::with_capacity(transactions.len());
    let mut participants = Vec::new();
    let mut nonces = Vec::new();
    let mut log = parent.log.clone();
    let mut log_nodes = Vec::new();
    for (index, tx) in transactions.iter().enumerate() {
        let id = tx.id();
        let outcome = match check_tx(view, &overlay, chain_id, height, tx, id)? {
            Ok(new_participant) => {
                if let Some(p) = &new_participant {
                    participants.push(p.clone());
                }
                nonces.push((tx.tx.signer.clone(), tx.tx.nonce));
                overlay.record(tx, id, new_participant);
                Outcome::Accepted
            }
            Err(rejection) if rejection.reason.excludes_from_block() => {
                return Err(BlockError::Inadmissible {
                    height,
                    index,
                    rejection,
                });
            }
            Err(rejection) => {
                nonces.push((tx.tx.signer.clone(), tx.tx.nonce));
                overlay.record_seen(tx, id);
                Outcome::Rejected { rejection }
            }
        };
        let receipt = Receipt {
            height,
            index: index as u32,
            log_index: log.size(),
            outcome,
        };
        let leaf = LogEntry {
            tx_id: id,
            receipt: receipt.clone(),
        }
        .leaf_hash();
        log_nodes.extend(log.append(leaf));
        receipts.push(receipt);
    }
    let receipts_hash = hash(Domain::State, &codec::encode(&receipts));
    let state_root = hash_parts(
        Domain::State,
        &[
            parent.state_root.as_bytes(),
            transactions_root(transactions).as_bytes(),
            receipts_hash.as_bytes(),
        ],
    );
    Ok(BlockEffects {
        receipts,
        participants,
        nonces,
        tip: Tip {
            height,
            block_id: block_id_placeholder,
            time_ms,
            state_root,
            log,
        },
        log_nodes,
    })
}

/// Builds the header of a new block on `parent` and executes it.
#[allow(clippy::too_many_arguments)]
pub fn build_block<V: StateView>(
    view: &V,
    chain_id: &ChainId,
    parent: &Tip,
    time_ms: u64,
    validators_hash: Digest,
    proposer: PublicKey,
    transactions: Vec<SignedTx>,
) -> Result<(Block, BlockEffects), BlockError> {
    let height = parent.height.next();
    let time_ms = time_ms.max(parent.time_ms);
    let mut effects = execute(
        view,
        chain_id,
        parent,
        height,
        BlockId(Digest::ZERO),
        time_ms,
        &transactions,
    )?;
    let header = Header {
        chain_id: *chain_id,
        height,
        time_ms,
        parent: parent.block_id,
        transactions_root: transactions_root(&transactions),
        transaction_count: transactions.len() as u32,
        log_root: effects.tip.log.root(),
        log_size: effects.tip.log.size(),
        state_root: effects.tip.state_root,
        validators_hash,
        next_validators_hash: validators_hash,
        proposer,
    };
    effects.tip.block_id = header.id();
    Ok((
        Block {
            header,
            transactions,
        },
        effects,
    ))
}

/// Why a proposed block is refused.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    /// A header field differs from what re-execution gives.
    #[error("block at height {height}: {field} is {found}, re-execution gives {expected}")]
    Mismatch {
        /// Height.
        height: Height,
        /// Field.
        field: &'static str,
        /// Proposed.
        found: String,
        /// Recomputed.
        expected: String,
    },
    /// A transaction that no block may carry (bad signature, unknown signer, replay...).
    #[error("block at height {height}: transaction {index} cannot be in a block: {rejection}")]
    Inadmissible {
        /// Height.
        height: Height,
        /// Position in the block.
        index: usize,
        /// Why.
        rejection: Rejection,
    },
    /// State could not be read.
    #[error(transparent)]
    State(#[from] StateError),
}

/// Re-executes a proposed block on `parent` and checks every header field. Returns its effects.
pub fn verify_block<V: StateView>(
    view: &V,
    chain_id: &ChainId,
    parent: &Tip,
    validators_hash: Digest,
    block: &Block,
    now_ms: u64,
) -> Result<BlockEffects, BlockError> {
    let h = &block.header;
    let mismatch = |field: &'static str, found: String, expected: String| {
        Err(BlockError::Mismatch {
            height: h.height,
            field,
            found,
            expected,
        })
    };
    if h.chain_id != *chain_id {
        return mismatch("chain_id", h.chain_id.to_string(), chain_id.to_string());
    }
    if h.height != parent.height.next() {
        return mismatch(
            "height",
            h.height.to_string(),
            parent.height.next().to_string(),
        );
    }
    if h.parent != parent.block_id {
        return mismatch("parent", h.parent.to_string(), parent.block_id.to_string());
    }
    if h.time_ms < parent.time_ms {
        return mismatch(
            "time_ms",
            h.time_ms.to_string(),
            format!(">= {}", parent.time_ms),
        );
    }
    // A proposer's clock may run ahead of ours by at most this much.
    const MAX_CLOCK_DRIFT_MS: u64 = 10_000;
    if h.time_ms > now_ms + MAX_CLOCK_DRIFT_MS {
        return mismatch(
            "time_ms",
            h.time_ms.to_string(),
            format!("<= {}", now_ms + MAX_CLOCK_DRIFT_MS),
        );
    }
    if h.validators_hash != validators_hash || h.next_validators_hash != validators_hash {
        return mismatch(
            "validators_hash",
            h.validators_hash.to_string(),
            validators_hash.to_string(),
        );
    }
    if h.transaction_count as usize != block.transactions.len() {
        return mismatch(
            "transaction_count",
            h.transaction_count.to_string(),
            block.transactions.len().to_string(),
        );
    }
    let tx_root = transactions_root(&block.transactions);
    if h.transactions_root != tx_root {
        return mismatch(
            "transactions_root",
            h.transactions_root.to_string(),
            tx_root.to_string(),
        );
    }
    let mut effects = execute(
        view,
        chain_id,
        parent,
        h.height,
        h.id(),
        h.time_ms,
        &block.transactions,
    )?;
    if h.log_root != effects.tip.log.root() || h.log_size != effects.tip.log.size() {
        return mismatch(
            "log_root",
            format!("{} ({} entries)", h.log_root, h.log_size),
            format!(
                "{} ({} entries)",
                effects.tip.log.root(),
                effects.tip.log.size()
            ),
        );
    }
    if h.state_root != effects.tip.state_root {
        return mismatch(
            "state_root",
            h.state_root.to_string(),
            effects.tip.state_root.to_string(),
        );
    }
    effects.tip.block_id = h.id();
    Ok(effects)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use caravan_sdk::keys::Keypair;
    use caravan_sdk::tx::UnsignedTx;

    use super::*;

    /// Committed state in memory: one agency with the registry role.
    struct MemState {
        participants: HashMap<ParticipantId, Participant>,
    }

    impl StateView for MemState {
        type Error = std::convert::Infallible;
        fn participant(&self, id: &ParticipantId) -> Result<Option<Participant>, Self::Error> {
            Ok(self.participants.get(id).cloned())
        }
        fn nonce_used(&self, _: &ParticipantId, _: Nonce) -> Result<bool, Self::Error> {
            Ok(false)
        }
        fn tx_committed(&self, _: &TxId) -> Result<bool, Self::Error> {
            Ok(false)
        }
    }

    const CHAIN: ChainId = ChainId(Digest([4; 32]));

    fn setup() -> (MemState, Keypair, PublicKey) {
        let agency = Keypair::from_seed(&[1; 32]);
        let proposer = Keypair::from_seed(&[2; 32]).public();
        let mut participants = HashMap::new();
        participants.insert(
            ParticipantId::new("CN-QDG-CUSTOMS").expect("id"),
            Participant {
                name: "Qingdao".into(),
                roles: vec![Role::Registry, Role::Customs],
                public_key: agency.public(),
                registered_at: Height(0),
                registered_by_tx: None,
            },
        );
        (MemState { participants }, agency, proposer)
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
        assert_eq!(effects.participants.len(), 1);
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
}
