//! The transaction index: where each committed transaction is in the Merkle log.
//!
//! The log is cut into epochs of `2^TX_EPOCH_BITS` consecutive positions. The stored index holds
//! whole epochs only, written once, when the block that completes an epoch is: the epoch's ids
//! sorted, in rows of [`ROW_ENTRIES`] (id, position) pairs, each row keyed by its epoch and its
//! first id. The epoch still being filled, and the one before it, are kept in memory
//! ([`Recent`]): built again from the log's entries when the store opens, and given each block's
//! entries before the block is written.
//!
//! A block's write then touches no page of the index except in the block that completes an
//! epoch, which writes the epoch's rows once, in key order. Inserted one by one, every block's
//! ids landed on pages all over the current epoch's part of the index, and a block of a few
//! thousand transactions rewrote most of its pages.

use std::collections::HashMap;

use caravan_sdk::ids::TxId;
use foldhash::fast::RandomState;

/// Log positions per epoch of the index.
pub(super) const TX_EPOCH_BITS: u32 = 17;

/// The (id, position) pairs of one stored row of the index.
pub(super) const ROW_ENTRIES: usize = 256;

/// The bytes of one (id, position) pair in a row: the id, then the position (big-endian).
const PAIR_BYTES: usize = 40;

/// The first log position of the epoch holding `position`.
pub(super) fn epoch_start(position: u64) -> u64 {
    (position >> TX_EPOCH_BITS) << TX_EPOCH_BITS
}

/// A stored row's key: its epoch (the epoch's number, big-endian), then its first id.
pub(super) fn row_key(epoch: u64, id: &TxId) -> [u8; 36] {
    let mut key = [0u8; 36];
    key[..4].copy_from_slice(&((epoch >> TX_EPOCH_BITS) as u32).to_be_bytes());
    key[4..].copy_from_slice(id.0.as_bytes());
    key
}

/// The epoch (its first position) of a stored row's key.
pub(super) fn row_epoch(key: &[u8; 36]) -> u64 {
    let mut number = [0u8; 4];
    number.copy_from_slice(&key[..4]);
    u64::from(u32::from_be_bytes(number)) << TX_EPOCH_BITS
}

/// The rows of the index for `pairs` (id and position, any order): per epoch, sorted by id, cut
/// into rows of [`ROW_ENTRIES`]; each with its key.
pub(super) fn rows(mut pairs: Vec<(TxId, u64)>) -> Vec<([u8; 36], Vec<u8>)> {
    pairs.sort_unstable_by(|a, b| {
        (epoch_start(a.1), a.0.0.as_bytes()).cmp(&(epoch_start(b.1), b.0.0.as_bytes()))
    });
    let mut out = Vec::new();
    for epoch in pairs.chunk_by(|a, b| epoch_start(a.1) == epoch_start(b.1)) {
        for row in epoch.chunks(ROW_ENTRIES) {
            let mut bytes = Vec::with_capacity(row.len() * PAIR_BYTES);
            for (id, position) in row {
                bytes.extend_from_slice(id.0.as_bytes());
                bytes.extend_from_slice(&position.to_be_bytes());
            }
            out.push((row_key(epoch_start(row[0].1), &row[0].0), bytes));
        }
    }
    out
}

/// The position of `id` in a stored row, if the row has it; the error when the row's bytes are
/// not whole pairs. (The order is not checked on every look-up: a position found is checked
/// against the log entry there, which names its transaction.)
pub(super) fn find_in_row(row: &[u8], id: &TxId) -> Result<Option<u64>, ()> {
    if row.is_empty() || !row.len().is_multiple_of(PAIR_BYTES) {
        return Err(());
    }
    let pair = |i: usize| &row[i * PAIR_BYTES..(i + 1) * PAIR_BYTES];
    let (mut low, mut high) = (0, row.len() / PAIR_BYTES);
    while low < high {
        let middle = low + (high - low) / 2;
        match pair(middle)[..32].cmp(id.0.as_bytes().as_slice()) {
            std::cmp::Ordering::Less => low = middle + 1,
            std::cmp::Ordering::Greater => high = middle,
            std::cmp::Ordering::Equal => {
                let mut position = [0u8; 8];
                position.copy_from_slice(&pair(middle)[32..]);
                return Ok(Some(u64::from_be_bytes(position)));
            }
        }
    }
    Ok(None)
}

/// The index's entries that are not stored yet (the epoch being filled), and those of the epoch
/// stored last, for readers opened before it was.
#[derive(Default)]
pub(super) struct Recent {
    /// The first position of the epoch being filled: the stored index holds every epoch before.
    start: u64,
    /// Positions of the transactions from `start` on, committed or being written.
    current: HashMap<TxId, u64, RandomState>,
    /// The epoch before `start`, if it was stored while this node ran.
    previous: HashMap<TxId, u64, RandomState>,
}

impl Recent {
    /// Holds the entries of the epoch from `start` given in `pairs`.
    pub(super) fn new(start: u64, pairs: impl IntoIterator<Item = (TxId, u64)>) -> Self {
        let size = 1usize << TX_EPOCH_BITS;
        let mut current = HashMap::with_capacity_and_hasher(size, RandomState::default());
        current.extend(pairs);
        Recent {
            start,
            current,
            previous: HashMap::with_capacity_and_hasher(size, RandomState::default()),
        }
    }

    /// Where `id` is, if among the entries held.
    pub(super) fn get(&self, id: &TxId) -> Option<u64> {
        self.current
            .get(id)
            .or_else(|| self.previous.get(id))
            .copied()
    }

    /// A position from which every committed entry is held (the earliest, unless a block
    /// completed more than one epoch, which only a store written for a test has).
    pub(super) fn held_from(&self) -> u64 {
        if self.previous.is_empty() {
            self.start
        } else {
            self.start - (1 << TX_EPOCH_BITS)
        }
    }

    /// Adds a block's entries before it is written (invisible to a reader whose log is shorter).
    pub(super) fn add(&mut self, pairs: impl IntoIterator<Item = (TxId, u64)>) {
        self.current.extend(pairs);
    }

    /// Takes a block's entries back out when its write failed.
    pub(super) fn forget<'a>(&mut self, ids: impl IntoIterator<Item = &'a TxId>) {
        for id in ids {
            self.current.remove(id);
        }
    }

    /// The entries held below `end` (the first position of the epoch a block ends in): the
    /// epochs that block completes, to be stored with it.
    pub(super) fn completed(&self, end: u64) -> Vec<(TxId, u64)> {
        if end <= self.start {
            return Vec::new();
        }
        self.current
            .iter()
            .filter(|(_, position)| **position < end)
            .map(|(id, position)| (*id, *position))
            .collect()
    }

    /// The epochs below `end` are stored: their entries become the previous epoch's, and the
    /// previous ones are forgotten.
    pub(super) fn stored_below(&mut self, end: u64) {
        if end <= self.start {
            return;
        }
        // The two tables swap roles, so that neither is allocated again: the one just stored
        // becomes the previous epoch's, the other, emptied, receives what lies beyond `end`.
        let mut stored = std::mem::take(&mut self.current);
        let mut next = std::mem::take(&mut self.previous);
        next.clear();
        stored.retain(|id, position| {
            let keep = *position < end;
            if !keep {
                next.insert(*id, *position);
            }
            keep
        });
        self.previous = stored;
        self.current = next;
        self.start = end;
    }
}

#[cfg(test)]
mod tests {
    use caravan_sdk::hash::Digest;

    use super::*;

    fn id(n: u32) -> TxId {
        TxId(caravan_sdk::hash::hash(
            caravan_sdk::hash::Domain::Transaction,
            &n.to_be_bytes(),
        ))
    }

    #[test]
    fn rows_are_sorted_per_epoch_and_find_every_pair() {
        let epoch = 1u64 << TX_EPOCH_BITS;
        let pairs: Vec<(TxId, u64)> = (0..700u32)
            .map(|n| {
                (
                    id(n),
                    u64::from(n) * 3 % 600 + if n >= 650 { epoch } else { 0 },
                )
            })
            .collect();
        let rows = rows(pairs.clone());
        // 650 in the first epoch: rows of 256, 256 and 138; 50 in the next.
        let sizes: Vec<usize> = rows.iter().map(|(_, r)| r.len() / PAIR_BYTES).collect();
        assert_eq!(sizes, vec![256, 256, 138, 50]);
        for (key, row) in &rows {
            assert!(find_in_row(row, &TxId(Digest(key[4..].try_into().expect("32")))).is_ok());
        }
        for (tx, position) in &pairs {
            // The row that holds it is the last whose key is at most (epoch, id).
            let key = row_key(epoch_start(*position), tx);
            let (row_key, row) = rows
                .iter()
                .rev()
                .find(|(k, _)| k <= &key)
                .expect("a row at or below");
            assert_eq!(row_epoch(row_key), epoch_start(*position));
            assert_eq!(find_in_row(row, tx), Ok(Some(*position)));
        }
        assert_eq!(find_in_row(&rows[0].1, &id(9999)), Ok(None));
        // A row cut short is told apart from a missing id.
        assert_eq!(find_in_row(&rows[0].1[..41], &id(0)), Err(()));
        assert_eq!(find_in_row(&[], &id(0)), Err(()));
    }

    #[test]
    fn recent_entries_move_to_previous_when_their_epoch_is_stored() {
        let epoch = 1u64 << TX_EPOCH_BITS;
        let mut recent = Recent::new(0, [(id(1), 5)]);
        assert_eq!(recent.held_from(), 0);
        recent.add([(id(2), epoch - 1), (id(3), epoch)]);
        assert_eq!(recent.completed(epoch).len(), 2);
        recent.stored_below(epoch);
        assert_eq!(recent.held_from(), 0);
        assert_eq!(recent.get(&id(1)), Some(5));
        assert_eq!(recent.get(&id(3)), Some(epoch));
        assert!(recent.completed(epoch).is_empty());
        recent.add([(id(4), epoch + 1)]);
        recent.forget([&id(4)]);
        assert_eq!(recent.get(&id(4)), None);
        recent.add([(id(5), 2 * epoch)]);
        recent.stored_below(2 * epoch);
        // The first epoch is forgotten; the second is held as the previous one.
        assert_eq!(recent.held_from(), epoch);
        assert_eq!(recent.get(&id(1)), None);
        assert_eq!(recent.get(&id(3)), Some(epoch));
        assert_eq!(recent.get(&id(5)), Some(2 * epoch));
    }
}
