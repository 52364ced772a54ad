//! The pool of admitted transactions waiting for a block. Bounded (a full pool refuses with a
//! clear error instead of growing), deduplicated by transaction id and by (signer, nonce), and
//! ordered by arrival so that every proposer drains it fairly.

use std::collections::{HashMap, HashSet, VecDeque};

use foldhash::fast::RandomState;

use caravan_sdk::ids::{Nonce, ParticipantId, TxId};
use caravan_sdk::tx::{RejectReason, Rejection, SignedTx};

/// Pending transactions.
pub struct Mempool {
    capacity: usize,
    order: VecDeque<TxId>,
    txs: HashMap<TxId, (SignedTx, usize), RandomState>,
    nonces: HashSet<(ParticipantId, Nonce), RandomState>,
}

impl Mempool {
    /// An empty pool holding at most `capacity` transactions.
    pub fn new(capacity: usize) -> Self {
        Mempool {
            capacity,
            order: VecDeque::new(),
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
        self.order.push_back(id);
        self.txs.insert(id, (tx, size));
        Ok(())
    }

    /// Up to `max_count` transactions totalling at most `max_bytes`, oldest first, left in the
    /// pool until a block including them is committed.
    pub fn take(&self, max_count: usize, max_bytes: usize) -> Vec<SignedTx> {
        let mut out = Vec::new();
        let mut bytes = 0;
        for id in &self.order {
            if out.len() >= max_count {
                break;
            }
            if let Some((tx, size)) = self.txs.get(id) {
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
        let mut removed = false;
        for id in ids {
            if let Some((tx, _)) = self.txs.remove(id) {
                self.nonces.remove(&(tx.tx.signer, tx.tx.nonce));
                removed = true;
            }
        }
        if removed {
            let txs = &self.txs;
            self.order.retain(|id| txs.contains_key(id));
        }
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
}
