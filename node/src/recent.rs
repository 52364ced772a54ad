//! The outcomes of the most recently committed transactions, kept in memory so that requests
//! waiting for their transactions' commit (`?wait=commit`) learn them at each new block from
//! one map probe each, instead of reading the transaction index for every pending transaction
//! at every height. Bounded in transactions and blocks; a wait that reaches back further than
//! what is kept reads the index instead, with the same answers.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use foldhash::fast::RandomState;

use caravan_sdk::ids::{Height, TxId};
use caravan_sdk::tx::{Outcome, Receipt, RejectReason};

/// Outcomes kept at most (transactions); the newest block is always kept whole.
pub const RECENT_TRANSACTIONS: usize = 1 << 16;

/// Blocks kept at most.
pub const RECENT_BLOCKS: usize = 256;

/// A committed transaction's outcome: its block, and the reason when it was ordered but rejected.
pub type Committed = (Height, Option<RejectReason>);

/// The last committed blocks' transaction outcomes.
pub struct RecentCommits {
    inner: Mutex<Inner>,
}

impl Default for RecentCommits {
    /// Empty, its table sized at once for twice what it keeps with a block of the default
    /// parameters' largest size (12 MiB): with room for the tombstones that forgetting leaves, it
    /// is cleaned in place instead of doubling.
    fn default() -> Self {
        RecentCommits {
            inner: Mutex::new(Inner {
                outcomes: HashMap::with_capacity_and_hasher(
                    2 * (RECENT_TRANSACTIONS
                        + caravan_sdk::genesis::Params::default().block_max_transactions as usize),
                    RandomState::default(),
                ),
                blocks: VecDeque::with_capacity(RECENT_BLOCKS + 1),
                end: 0,
            }),
        }
    }
}

struct Inner {
    outcomes: HashMap<TxId, Committed, RandomState>,
    /// Per kept block, oldest first: the log size before it, and its transactions.
    blocks: VecDeque<(u64, Vec<TxId>)>,
    /// The log size after the newest kept block.
    end: u64,
}

/// What [`RecentCommits::lookup`] can tell of a transaction.
#[derive(Debug, PartialEq, Eq)]
pub enum Recent {
    /// Committed in a kept block.
    Committed(Committed),
    /// Not committed at any log position from `since` up to the newest kept block.
    Pending,
    /// The kept blocks do not reach back to `since`: read the index.
    Unknown,
}

impl RecentCommits {
    /// Remembers a block just committed: its transactions in order with their receipts. Blocks
    /// are pushed in commit order; one that does not start where the last kept one ended (a
    /// block was missed) makes it forget everything kept, so that it never answers `Pending`
    /// for a transaction of a block it did not see.
    pub fn push(&self, ids: &[TxId], receipts: &[Receipt]) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        // An empty block adds nothing, and leaves coverage as it was.
        let Some(start) = receipts.first().map(|r| r.log_index) else {
            return;
        };
        if !inner.blocks.is_empty() && start != inner.end {
            inner.blocks.clear();
            inner.outcomes.clear();
        }
        inner.end = start + receipts.len() as u64;
        inner.blocks.push_back((start, ids.to_vec()));
        for (id, receipt) in ids.iter().zip(receipts) {
            let reason = match &receipt.outcome {
                Outcome::Accepted => None,
                Outcome::Rejected { rejection } => Some(rejection.reason),
            };
            inner.outcomes.insert(*id, (receipt.height, reason));
        }
        while inner.blocks.len() > 1
            && (inner.blocks.len() > RECENT_BLOCKS || inner.outcomes.len() > RECENT_TRANSACTIONS)
        {
            if let Some((_, old)) = inner.blocks.pop_front() {
                for id in old {
                    inner.outcomes.remove(&id);
                }
            }
        }
    }

    /// What is known of each of `ids`, in order, for transactions that cannot be committed
    /// before log position `since`.
    pub fn lookup(&self, ids: &[TxId], since: u64) -> Vec<Recent> {
        let Ok(inner) = self.inner.lock() else {
            return ids.iter().map(|_| Recent::Unknown).collect();
        };
        let covered = inner
            .blocks
            .front()
            .is_some_and(|(start, _)| *start <= since);
        ids.iter()
            .map(|id| match inner.outcomes.get(id) {
                _ if !covered => Recent::Unknown,
                Some(c) => Recent::Committed(*c),
                None => Recent::Pending,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use caravan_sdk::hash::Digest;
    use caravan_sdk::tx::Rejection;

    fn id(n: u64) -> TxId {
        let mut d = [0u8; 32];
        d[..8].copy_from_slice(&n.to_be_bytes());
        TxId(Digest(d))
    }

    fn block(height: u64, log_start: u64, n: u64) -> (Vec<TxId>, Vec<Receipt>) {
        let ids: Vec<TxId> = (log_start..log_start + n).map(id).collect();
        let receipts = (0..n)
            .map(|i| Receipt {
                height: Height(height),
                index: i as u32,
                log_index: log_start + i,
                outcome: if (log_start + i) % 7 == 3 {
                    Outcome::Rejected {
                        rejection: Rejection::new(RejectReason::NonceUsed, "used"),
                    }
                } else {
                    Outcome::Accepted
                },
            })
            .collect();
        (ids, receipts)
    }

    #[test]
    fn outcomes_of_kept_blocks_and_unknown_before_them() {
        let recent = RecentCommits::default();
        assert_eq!(recent.lookup(&[id(1)], 0), vec![Recent::Unknown]);
        let (ids, receipts) = block(5, 100, 10);
        recent.push(&ids, &receipts);
        recent.push(&[], &[]);
        assert_eq!(
            recent.lookup(&[id(100), id(101), id(110)], 100),
            vec![
                Recent::Committed((Height(5), None)),
                Recent::Committed((Height(5), Some(RejectReason::NonceUsed))),
                Recent::Pending,
            ]
        );
        // Admitted before the oldest kept block: its commit may be in a block not kept.
        assert_eq!(recent.lookup(&[id(100)], 99), vec![Recent::Unknown]);
    }

    #[test]
    fn a_missed_block_forgets_what_was_kept() {
        let recent = RecentCommits::default();
        let (ids, receipts) = block(1, 0, 10);
        recent.push(&ids, &receipts);
        // Height 2 (log 10..20) never pushed; height 3 starts at 20.
        let (ids, receipts) = block(3, 20, 10);
        recent.push(&ids, &receipts);
        assert_eq!(recent.lookup(&[id(12)], 5), vec![Recent::Unknown]);
        assert_eq!(recent.lookup(&[id(0)], 0), vec![Recent::Unknown]);
        assert_eq!(
            recent.lookup(&[id(21), id(12)], 20),
            vec![Recent::Committed((Height(3), None)), Recent::Pending]
        );
    }

    #[test]
    fn oldest_blocks_are_forgotten_past_the_bounds() {
        let recent = RecentCommits::default();
        let per = (RECENT_TRANSACTIONS / 4) as u64;
        for b in 0..6u64 {
            let (ids, receipts) = block(b + 1, b * per, per);
            recent.push(&ids, &receipts);
        }
        // Four blocks fit: the first two are gone, and so is coverage before the third.
        assert_eq!(recent.lookup(&[id(0)], 0), vec![Recent::Unknown]);
        assert_eq!(
            recent.lookup(&[id(2 * per), id(6 * per)], 2 * per),
            vec![Recent::Committed((Height(3), None)), Recent::Pending]
        );
        let recent = RecentCommits::default();
        for b in 0..(RECENT_BLOCKS as u64 + 3) {
            let (ids, receipts) = block(b + 1, b, 1);
            recent.push(&ids, &receipts);
        }
        assert_eq!(recent.lookup(&[id(2)], 2), vec![Recent::Unknown]);
        assert_eq!(
            recent.lookup(&[id(4)], 3),
            vec![Recent::Committed((Height(5), None))]
        );
    }
}
