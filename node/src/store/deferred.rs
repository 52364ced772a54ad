//! Deferred state writes: the replay markers of recent blocks, held in memory and written to the
//! state table in one sorted batch once [`Deferred::batch`] of them have gathered.
//!
//! Every transaction a block carries writes one marker, keyed by its signer and nonce, and the
//! keys of a block's markers fall all over the state table: written in place, a block touched a
//! page of the table per signer. Each block now stores its markers as one row of
//! `deferred_writes` (appended, keyed by height), and the block that completes a batch writes the
//! batch's markers into the state table in key order and removes the rows: the store then holds
//! every marker of the blocks up to it (`meta` `"deferred_through"`). The markers of the blocks
//! after it are held here, by height, built again from the rows when the store opens; the batch
//! stored last is kept too, for the readers of a snapshot from before it was.
//!
//! A reader at height `h` finds a key's value as of `h`: the newest version held at a height up to
//! `h`, else the rows its own snapshot still has above the batch its snapshot stored (when the
//! memory no longer holds them), else the state table. A reused nonce writes its marker again, so a
//! key can have a version at several heights.

use std::collections::HashMap;

use foldhash::fast::RandomState;

/// One key's versions: the height that wrote it and the value (`None`: deleted), oldest first.
type Versions = Vec<(u64, Option<Vec<u8>>)>;

/// Deferred writes held in memory.
pub(super) struct Deferred {
    /// Writes of the blocks above `stored_through`.
    current: HashMap<Vec<u8>, Versions, RandomState>,
    /// Versions in `current`.
    count: usize,
    /// The batch stored last: writes of the blocks in (`held_above`, `stored_through`].
    previous: HashMap<Vec<u8>, Versions, RandomState>,
    /// The store holds every deferred write of the blocks up to this height.
    stored_through: u64,
    /// Every deferred write of a block above this height is held here.
    held_above: u64,
    /// Versions after which a block stores the batch.
    batch: usize,
}

impl Deferred {
    /// Holds the writes of the blocks after `stored_through`, given as rows (height, writes).
    pub(super) fn new(
        stored_through: u64,
        rows: impl IntoIterator<Item = (u64, Vec<(Vec<u8>, Option<Vec<u8>>)>)>,
        batch: usize,
    ) -> Self {
        let mut deferred = Deferred {
            current: HashMap::with_capacity_and_hasher(batch, RandomState::default()),
            count: 0,
            previous: HashMap::with_capacity_and_hasher(batch, RandomState::default()),
            stored_through,
            held_above: stored_through,
            batch,
        };
        for (height, writes) in rows {
            deferred.add(height, &writes);
        }
        deferred
    }

    /// The value of `key` as of `height`, if a version at or below it is held: `Some(None)`
    /// when it was deleted.
    pub(super) fn get(&self, key: &[u8], height: u64) -> Option<Option<Vec<u8>>> {
        let newest = |versions: &Versions| {
            versions
                .iter()
                .rev()
                .find(|(at, _)| *at <= height)
                .map(|(_, value)| value.clone())
        };
        self.current
            .get(key)
            .and_then(newest)
            .or_else(|| self.previous.get(key).and_then(newest))
    }

    /// Every deferred write of a block above this height is held.
    pub(super) fn held_above(&self) -> u64 {
        self.held_above
    }

    /// Adds a block's deferred writes (before the block is written: a reader of an earlier
    /// height does not see them). Whether the block should store the batch.
    pub(super) fn add<'a>(
        &mut self,
        height: u64,
        writes: impl IntoIterator<Item = &'a (Vec<u8>, Option<Vec<u8>>)>,
    ) -> bool {
        for (key, value) in writes {
            let versions = match self.current.get_mut(key) {
                Some(versions) => versions,
                None => self.current.entry(key.clone()).or_default(),
            };
            match versions.last_mut() {
                Some((at, old)) if *at == height => old.clone_from(value),
                _ => {
                    versions.push((height, value.clone()));
                    self.count += 1;
                }
            }
        }
        self.count >= self.batch
    }

    /// Takes a block's writes back out when its write failed.
    pub(super) fn forget(&mut self, height: u64) {
        self.current.retain(|_, versions| {
            if versions.last().is_some_and(|(at, _)| *at == height) {
                versions.pop();
            }
            !versions.is_empty()
        });
        self.count = self.current.values().map(Vec::len).sum();
    }

    /// The newest value of every key held in `current`, in key order: the batch to store.
    pub(super) fn batch_writes(&self) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        let mut writes: Vec<_> = self
            .current
            .iter()
            .filter_map(|(key, versions)| Some((key.clone(), versions.last()?.1.clone())))
            .collect();
        writes.sort_unstable();
        writes
    }

    /// Sets the batch's size (tests make small batches).
    #[cfg(test)]
    pub(super) fn set_batch(&mut self, batch: usize) {
        self.batch = batch;
    }

    /// The block at `height` stored the batch: it becomes the previous one, and the one before
    /// is forgotten (its table is reused).
    pub(super) fn stored(&mut self, height: u64) {
        let mut next = std::mem::take(&mut self.previous);
        next.clear();
        self.previous = std::mem::replace(&mut self.current, next);
        self.count = 0;
        self.held_above = self.stored_through;
        self.stored_through = height;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(key: &str, value: Option<&str>) -> (Vec<u8>, Option<Vec<u8>>) {
        (
            key.as_bytes().to_vec(),
            value.map(|v| v.as_bytes().to_vec()),
        )
    }

    fn v(value: &str) -> Option<Option<Vec<u8>>> {
        Some(Some(value.as_bytes().to_vec()))
    }

    #[test]
    fn readers_find_the_version_of_their_height_across_batches() {
        let mut d = Deferred::new(0, [(1, vec![w("a", Some("1"))])], 3);
        assert!(!d.add(2, &[w("b", Some("2"))]));
        assert_eq!(d.get(b"a", 0), None);
        assert_eq!(d.get(b"a", 1), v("1"));
        // A key written again: each height sees its own version; the last write of a height wins.
        assert!(d.add(3, &[w("a", Some("3")), w("a", Some("3b")), w("c", None)]));
        assert_eq!(d.get(b"a", 2), v("1"));
        assert_eq!(d.get(b"a", 3), v("3b"));
        assert_eq!(d.get(b"c", 3), Some(None));
        assert_eq!(
            d.batch_writes(),
            vec![w("a", Some("3b")), w("b", Some("2")), w("c", None)]
        );
        d.stored(3);
        assert_eq!((d.held_above(), d.get(b"a", 3)), (0, v("3b")));
        d.add(4, &[w("a", Some("4"))]);
        assert_eq!(d.get(b"a", 3), v("3b"));
        assert_eq!(d.get(b"a", 4), v("4"));
        d.forget(4);
        assert_eq!(d.get(b"a", 9), v("3b"));
        d.add(5, &[w("d", Some("5"))]);
        d.stored(5);
        // The first batch is forgotten: its keys are the store's to answer.
        assert_eq!(d.held_above(), 3);
        assert_eq!(d.get(b"b", 9), None);
        assert_eq!(d.get(b"d", 9), v("5"));
    }
}
