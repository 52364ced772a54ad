//! Blocks: executing a list of transactions on a parent tip, building a proposer's block, and
//! re-executing someone else's block to check every header field.

use caravan_sdk::block::{Block, Header, transactions_root_of_ids};
use caravan_sdk::hash::Digest;
use caravan_sdk::ids::{BlockId, ChainId, Height, TxId};
use caravan_sdk::keys::PublicKey;
use caravan_sdk::tx::{LogEntry, Outcome, Receipt, Rejection, SignedTx};

use super::governance;
use super::state::{Overlay, StateError, StateView, TxState, ViewNodes};
use super::state_tree;
use super::tx::{Context, execute_tx};
use super::types::{BlockEffects, Tip};
use super::verified::Verified;

/// Why a block is refused.
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

/// Executes `transactions` on top of `parent`: the receipts, the state writes and the new tip.
/// A transaction that no block may carry makes the whole block invalid.
#[allow(clippy::too_many_arguments)]
pub fn execute<V: StateView>(
    view: &V,
    chain_id: &ChainId,
    parent: &Tip,
    height: Height,
    block_id: BlockId,
    time_ms: u64,
    transactions: &[SignedTx],
    verified: &Verified,
) -> Result<BlockEffects, BlockError> {
    let (effects, _) = run(
        view,
        chain_id,
        parent,
        height,
        block_id,
        time_ms,
        transactions,
        None,
        verified,
        false,
    )?;
    Ok(effects)
}

/// Executes `transactions` in order; with `skip`, leaves out those that no block may carry
/// (their positions are returned) instead of refusing the block.
#[allow(clippy::too_many_arguments)]
fn run<V: StateView>(
    view: &V,
    chain_id: &ChainId,
    parent: &Tip,
    height: Height,
    block_id: BlockId,
    time_ms: u64,
    transactions: &[SignedTx],
    known_ids: Option<&[TxId]>,
    verified: &Verified,
    skip: bool,
) -> Result<(BlockEffects, Vec<usize>), BlockError> {
    let ctx = Context {
        chain_id,
        height,
        time_ms,
        verified,
    };
    let mut overlay = Overlay::default();
    let mut receipts = Vec::with_capacity(transactions.len());
    let mut ids = Vec::with_capacity(transactions.len());
    let mut skipped = Vec::new();
    let mut log = parent.log.clone();
    let mut log_nodes = Vec::new();
    for (index, tx) in transactions.iter().enumerate() {
        let id = match known_ids {
            Some(ids) => ids[index],
            None => tx.id(),
        };
        let outcome = execute_tx(view, &mut overlay, &ctx, tx, id)?;
        if let Outcome::Rejected { rejection } = &outcome
            && rejection.reason.excludes_from_block()
        {
            // An excluded transaction leaves no write in the overlay.
            if skip {
                skipped.push(index);
                continue;
            }
            return Err(BlockError::Inadmissible {
                height,
                index,
                rejection: rejection.clone(),
            });
        }
        let receipt = Receipt {
            height,
            index: receipts.len() as u32,
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
        ids.push(id);
    }
    // The set that certifies this block is the one in force after the parent; the block's
    // header also commits to the set that certifies the next one.
    let validators = governance::validators(view)?;
    let mut end = TxState::new(view, &overlay);
    let (next, changed) = governance::end_block(&mut end, height)?;
    let end_writes = end.finish();
    overlay.merge(end_writes);
    let writes = overlay.into_writes();
    // The state root is the root of the state tree after the block's writes.
    let (state_root, tree_nodes) =
        state_tree::apply(&ViewNodes(view), &state_tree::tree_writes(&writes))
            .map_err(|e| StateError(e.to_string()))?;
    Ok((
        BlockEffects {
            tx_ids: ids,
            receipts,
            writes,
            validators_hash: validators.hash(),
            next_validators_hash: next.hash(),
            new_validators: changed.then_some(next),
            validators,
            tree_nodes,
            tip: Tip {
                height,
                block_id,
                time_ms,
                state_root,
                log,
            },
            log_nodes,
        },
        skipped,
    ))
}

/// A proposer's block: the block, its effects, and the candidates left out because no block may
/// carry them any more (committed meanwhile, say).
pub struct Built {
    /// The block.
    pub block: Block,
    /// Its effects.
    pub effects: BlockEffects,
    /// Candidates left out.
    pub dropped: Vec<SignedTx>,
}

/// Builds a new block on `parent` from `candidates`, in order, leaving out those that no block
/// may carry, and executes it once.
#[allow(clippy::too_many_arguments)]
pub fn build_block<V: StateView>(
    view: &V,
    chain_id: &ChainId,
    parent: &Tip,
    time_ms: u64,
    proposer: PublicKey,
    candidates: Vec<SignedTx>,
    verified: &Verified,
) -> Result<Built, BlockError> {
    let height = parent.height.next();
    let time_ms = time_ms.max(parent.time_ms);
    let (mut effects, skipped) = run(
        view,
        chain_id,
        parent,
        height,
        BlockId(Digest::ZERO),
        time_ms,
        &candidates,
        None,
        verified,
        true,
    )?;
    let mut dropped = Vec::with_capacity(skipped.len());
    let mut transactions = Vec::with_capacity(candidates.len() - skipped.len());
    let mut skip = skipped.into_iter().peekable();
    for (i, tx) in candidates.into_iter().enumerate() {
        if skip.peek() == Some(&i) {
            skip.next();
            dropped.push(tx);
        } else {
            transactions.push(tx);
        }
    }
    let header = Header {
        chain_id: *chain_id,
        height,
        time_ms,
        parent: parent.block_id,
        transactions_root: transactions_root_of_ids(&effects.tx_ids),
        transaction_count: transactions.len() as u32,
        log_root: effects.tip.log.root(),
        log_size: effects.tip.log.size(),
        state_root: effects.tip.state_root,
        validators_hash: effects.validators_hash,
        next_validators_hash: effects.next_validators_hash,
        proposer,
    };
    effects.tip.block_id = header.id();
    Ok(Built {
        block: Block {
            header,
            transactions,
        },
        effects,
        dropped,
    })
}

/// A proposer's clock may run ahead of ours by at most this much.
const MAX_CLOCK_DRIFT_MS: u64 = 10_000;

/// Re-executes a proposed block on `parent` and checks every header field. Returns its effects.
pub fn verify_block<V: StateView>(
    view: &V,
    chain_id: &ChainId,
    parent: &Tip,
    block: &Block,
    now_ms: u64,
    verified: &Verified,
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
    if h.time_ms > now_ms.saturating_add(MAX_CLOCK_DRIFT_MS) {
        return mismatch(
            "time_ms",
            h.time_ms.to_string(),
            format!("<= {}", now_ms + MAX_CLOCK_DRIFT_MS),
        );
    }
    if h.transaction_count as usize != block.transactions.len() {
        return mismatch(
            "transaction_count",
            h.transaction_count.to_string(),
            block.transactions.len().to_string(),
        );
    }
    // One encoding of each transaction gives its id and its signing digest for every step.
    let (ids, digests): (Vec<TxId>, Vec<Digest>) = block
        .transactions
        .iter()
        .map(|tx| tx.tx.id_and_signing_digest())
        .unzip();
    let tx_root = transactions_root_of_ids(&ids);
    if h.transactions_root != tx_root {
        return mismatch(
            "transactions_root",
            h.transactions_root.to_string(),
            tx_root.to_string(),
        );
    }
    // Signatures not yet seen (not relayed to this node before the block came) are checked in
    // batches (over all cores when there are many), before the transactions run one by one.
    verified.preverify_with(
        view,
        block
            .transactions
            .iter()
            .zip(ids.iter().zip(&digests))
            .map(|(tx, (id, digest))| (tx, id, digest)),
    )?;
    let (effects, _) = run(
        view,
        chain_id,
        parent,
        h.height,
        h.id(),
        h.time_ms,
        &block.transactions,
        Some(&ids),
        verified,
        false,
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
    if h.validators_hash != effects.validators_hash {
        return mismatch(
            "validators_hash",
            h.validators_hash.to_string(),
            effects.validators_hash.to_string(),
        );
    }
    if h.next_validators_hash != effects.next_validators_hash {
        return mismatch(
            "next_validators_hash",
            h.next_validators_hash.to_string(),
            effects.next_validators_hash.to_string(),
        );
    }
    if effects.validators.get(&h.proposer).is_none() {
        return mismatch(
            "proposer",
            h.proposer.to_string(),
            "a validator of this height".into(),
        );
    }
    if h.state_root != effects.tip.state_root {
        return mismatch(
            "state_root",
            h.state_root.to_string(),
            effects.tip.state_root.to_string(),
        );
    }
    Ok(effects)
}
