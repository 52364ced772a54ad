//! The pool of admitted transactions waiting for a block. Bounded (a full pool refuses with a
//! clear error instead of growing), deduplicated by transaction id and by (signer, nonce), and
//! ordered by arrival so that every proposer drains it fairly.
//!
//! The arrival order is a queue of (arrival number, id); removing a transaction leaves its entry
//! in the queue, skipped by [`Mempool::take`] (its arrival number no longer matches), and dropped
//! from the front at once or with the others when the stale entries outnumber the pending ones.
//! Each committed block removes its transactions, so rebuilding the whole queue at every removal
//! cost a look-up per pending transaction per block.

use std::collections::{HashMap, HashSet, VecDeque};

use foldhash::fast::RandomState;

use caravan_sdk::ids::{Nonce, ParticipantId, TxId};
use caravan_sdk::tx::{RejectReason, Rejection, SignedTx};

/// Pending transactions.
pub struct Mempool {
    capacity: usize,
    /// Arrival order: (arrival number, id), with stale entries of removed transactions.
    order: VecDeque<(u64, TxId)>,
    /// The next arrival number.
    arrivals: u64,
    /// Pending: the transaction, its size in bytes, its arrival number.
    txs: HashMap<TxId, (SignedTx, usize, u64), RandomState>,
    nonces: HashSet<(ParticipantId, Nonce), RandomState>,
}

impl Mempool {
    /// An empty pool holding at most `capacity` transactions.
    pub fn new(capacity: usize) -> Self {
        Mempool {
            capacity,
            order: VecDeque::new(),
            arrivals: 0,
            txs: HashMap::default(),
            nonces: HashSet::default(),
        }
    }

    /// How many are pending.
    pub fn len(&self) -> usize {
        self.txs.len()
    }

    /// Whether none are pending.
    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    /// Whether `id` is pending.
    pub fn contains(&self, id: &TxId) -> bool {
        self.txs.contains_key(id)
    }

    /// Adds an admitted transaction.
    pub fn insert(&mut self, id: TxId, tx: SignedTx, size: usize) -> Result<(), Rejection> {
        if self.txs.contains_key(&id) {
            return Err(Rejection::new(
                RejectReason::Replayed,
                format!("transaction {id} is already pending"),
            ));
        }
        let key = (tx.tx.signer.clone(), tx.tx.nonce);
        if self.nonces.contains(&key) {
            return Err(Rejection::new(
                RejectReason::NonceUsed,
                format!(
                    "{} has another pending transaction with nonce {}",
                    key.0, key.1.0
                ),
            ));
        }
        if self.txs.len() >= self.capacity {
            return Err(Rejection::new(
                RejectReason::MempoolFull,
                format!(
                    "{} transactions are pending, the limit is {}; retry later",
                    self.txs.len(),
                    self.capacity
                ),
            ));
        }
        self.nonces.insert(key);
        let arrival = self.arrivals;
        self.arrivals += 1;
        self.order.push_back((arrival, id));
        self.txs.insert(id, (tx, size, arrival));
        Ok(())
    }

    /// Up to `max_count` transactions totalling at most `max_bytes`, oldest first, left in the
    /// pool until a block including them is committed.
    pub fn take(&self, max_count: usize, max_bytes: usize) -> Vec<SignedTx> {
        let mut out = Vec::new();
        let mut bytes = 0;
        for (arrival, id) in &self.order {
            if out.len() >= max_count {
                break;
            }
            if let Some((tx, size, _)) = self.txs.get(id).filter(|(_, _, a)| a == arrival) {
                if bytes + size > max_bytes {
                    break;
                }
                bytes += size;
                out.push(tx.clone());
            }
        }
        out
    }

    /// Removes transactions (committed, or no longer valid).
    pub fn remove<'a>(&mut self, ids: impl IntoIterator<Item = &'a TxId>) {
        for id in ids {
            if let Some((tx, _, _)) = self.txs.remove(id) {
                self.nonces.remove(&(tx.tx.signer, tx.tx.nonce));
            }
        }
        let txs = &self.txs;
        let pending =
            |(arrival, id): &(u64, TxId)| txs.get(id).is_some_and(|(_, _, a)| a == arrival);
        // Blocks take the oldest first: their entries are at the front.
        while self.order.front().is_some_and(|entry| !pending(entry)) {
            self.order.pop_front();
        }
        if self.order.len() > 2 * self.txs.len() + 1024 {
            self.order.retain(pending);
        }
    }

    /// Entries in the arrival queue, stale ones included (tests check that it stays bounded).
    #[cfg(test)]
    fn queued(&self) -> usize {
        self.order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execution::tests::anchor;
    use caravan_sdk::keys::Keypair;

    fn tx(nonce: u64) -> SignedTx {
        anchor("EXPORTER-1", &Keypair::from_seed(&[1; 32]), nonce)
    }

    #[test]
    fn bounded_deduplicated_ordered() {
        let mut pool = Mempool::new(2);
        let (a, b, c) = (tx(1), tx(2), tx(3));
        pool.insert(a.id(), a.clone(), 10).expect("a");
        assert_eq!(
            pool.insert(a.id(), a.clone(), 10).map_err(|r| r.reason),
            Err(RejectReason::Replayed)
        );
        pool.insert(b.id(), b.clone(), 10).expect("b");
        assert_eq!(
            pool.insert(c.id(), c.clone(), 10).map_err(|r| r.reason),
            Err(RejectReason::MempoolFull)
        );
        assert_eq!(pool.take(10, 1000), vec![a.clone(), b.clone()]);
        assert_eq!(pool.take(10, 15), vec![a.clone()]);
        pool.remove([&a.id()]);
        assert_eq!(pool.take(10, 1000), vec![b]);
        pool.insert(c.id(), c, 10).expect("room again");
    }

    #[test]
    fn removed_transactions_leave_the_order_and_come_back_once() {
        let mut pool = Mempool::new(10_000);
        let txs: Vec<SignedTx> = (0..3000).map(tx).collect();
        for t in &txs {
            pool.insert(t.id(), t.clone(), 1).expect("insert");
        }
        // Removed from the middle: skipped by take; stale entries past twice the pending ones
        // (and a margin) are dropped.
        let ids = |range: std::ops::Range<usize>| -> Vec<TxId> {
            txs[range].iter().map(SignedTx::id).collect()
        };
        pool.remove(&ids(500..1000));
        assert_eq!((pool.len(), pool.queued()), (2500, 3000));
        // Admitted again while its stale entry is queued: taken once, in its new place.
        let back = &txs[700];
        pool.insert(back.id(), back.clone(), 1).expect("back");
        let taken = pool.take(usize::MAX, usize::MAX);
        assert_eq!(taken.iter().filter(|t| *t == back).count(), 1);
        assert_eq!(taken.last(), Some(back));
        pool.remove([&back.id()]);
        pool.remove(&ids(1000..2990));
        assert_eq!((pool.len(), pool.queued()), (510, 510));
        let taken = pool.take(usize::MAX, usize::MAX);
        assert_eq!(taken.len(), 510);
        assert_eq!((&taken[499], &taken[500]), (&txs[499], &txs[2990]));
        let again = &txs[1500];
        pool.insert(again.id(), again.clone(), 1).expect("again");
        let taken = pool.take(usize::MAX, usize::MAX);
        assert_eq!(taken.iter().filter(|t| *t == again).count(), 1);
        assert_eq!(taken.last(), Some(again));
        // The oldest removed (as a block does): their entries leave the front at once.
        pool.remove(&ids(0..500));
        assert_eq!((pool.len(), pool.queued()), (11, 11));
        assert_eq!(pool.take(1, usize::MAX), vec![txs[2990].clone()]);
    }
}
