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
//!
//! Most markers looked up are absent (every new transaction's nonce is fresh), and an absent key
//! costs the state table a full descent. The highest nonce of each signer among the markers in
//! the state table is held too ([`Deferred::not_stored`]), read from the table when the store
//! opens and raised by each batch before it is written: a nonce above its signer's highest is not
//! in the table, whatever the snapshot, so a signer that counts its nonces up never makes the
//! table look.
//!
//! Keys and values are held inline (a marker's key is at most 59 bytes, its value a transaction
//! id), and most keys have one version: adding a block's markers, taking a batch and forgetting
//! the batch before allocate and free nothing per marker.

use std::collections::HashMap;

use foldhash::fast::RandomState;
use smallvec::SmallVec;

/// A deferred write's key: inline up to 64 bytes.
pub(super) type Key = SmallVec<[u8; 64]>;
/// A deferred write's value: inline up to 32 bytes.
pub(super) type Value = SmallVec<[u8; 32]>;
/// A batch of deferred writes: each key once, in order, with its newest value (`None`: deleted).
pub(super) type Batch = Vec<(Key, Option<Value>)>;

/// One key's versions: the height that wrote it and the value (`None`: deleted), oldest first.
type Versions = SmallVec<[(u64, Option<Value>); 1]>;

/// Deferred writes held in memory (empty, with batches of none, until the store opens).
#[derive(Default)]
pub(super) struct Deferred {
    /// Writes of the blocks above `stored_through`.
    current: HashMap<Key, Versions, RandomState>,
    /// Versions in `current`.
    count: usize,
    /// The batch stored last: writes of the blocks in (`held_above`, `stored_through`].
    previous: HashMap<Key, Versions, RandomState>,
    /// The store holds every deferred write of the blocks up to this height.
    stored_through: u64,
    /// Every deferred write of a block above this height is held here.
    held_above: u64,
    /// Versions after which a block stores the batch.
    batch: usize,
    /// The highest nonce of each signer among the markers in the state table or in a batch being
    /// written to it, keyed by the marker's key without its nonce (`n/{signer}/`). Only grows.
    highest: HashMap<Vec<u8>, u64, RandomState>,
}

/// A replay marker's key split into its signer's part (`n/{signer}/`) and its nonce.
pub(super) fn split_marker(key: &[u8]) -> Option<(&[u8], u64)> {
    // "n/", at least one character of the signer, "/", eight bytes of nonce.
    if !key.starts_with(b"n/") || key.len() < 12 {
        return None;
    }
    let (signer, nonce) = key.split_at(key.len() - 8);
    if signer.last() != Some(&b'/') {
        return None;
    }
    Some((signer, u64::from_be_bytes(nonce.try_into().ok()?)))
}

impl Deferred {
    /// Holds the writes of the blocks after `stored_through`, given as rows (height, writes);
    /// `highest`: each signer's highest nonce among the markers in the state table.
    pub(super) fn new(
        stored_through: u64,
        rows: impl IntoIterator<Item = (u64, Vec<(Vec<u8>, Option<Vec<u8>>)>)>,
        batch: usize,
        highest: HashMap<Vec<u8>, u64, RandomState>,
    ) -> Self {
        let mut deferred = Deferred {
            current: HashMap::with_capacity_and_hasher(batch, RandomState::default()),
            count: 0,
            previous: HashMap::with_capacity_and_hasher(batch, RandomState::default()),
            stored_through,
            held_above: stored_through,
            batch,
            highest,
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
                .map(|(_, value)| value.as_deref().map(<[u8]>::to_vec))
        };
        self.current
            .get(key)
            .and_then(newest)
            .or_else(|| self.previous.get(key).and_then(newest))
    }

    /// Whether the marker `key` is surely not in the state table, in any snapshot: its nonce is
    /// above its signer's highest there (or the signer has none). `false` when not known.
    pub(super) fn not_stored(&self, key: &[u8]) -> bool {
        split_marker(key).is_some_and(|(signer, nonce)| {
            self.highest
                .get(signer)
                .is_none_or(|highest| nonce > *highest)
        })
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
            let versions = match self.current.get_mut(key.as_slice()) {
                Some(versions) => versions,
                None => self.current.entry(Key::from_slice(key)).or_default(),
            };
            let value = value.as_deref().map(Value::from_slice);
            match versions.last_mut() {
                Some((at, old)) if *at == height => *old = value,
                _ => {
                    versions.push((height, value));
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
        self.count = self.current.values().map(SmallVec::len).sum();
    }

    /// The newest value of every key held in `current`, in key order: the batch to store. Each
    /// signer's highest nonce is raised to the batch's before it is written (a reader whose
    /// snapshot does not have the batch yet looks its markers up here or in its rows).
    pub(super) fn batch_writes(&mut self) -> Batch {
        let mut writes: Batch = self
            .current
            .iter()
            .filter_map(|(key, versions)| Some((key.clone(), versions.last()?.1.clone())))
            .collect();
        writes.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (key, _) in &writes {
            if let Some((signer, nonce)) = split_marker(key) {
                match self.highest.get_mut(signer) {
                    Some(highest) => *highest = (*highest).max(nonce),
                    None => {
                        self.highest.insert(signer.to_vec(), nonce);
                    }
                }
            }
        }
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
        let mut d = Deferred::new(0, [(1, vec![w("a", Some("1"))])], 3, HashMap::default());
        assert!(!d.add(2, &[w("b", Some("2"))]));
        assert_eq!(d.get(b"a", 0), None);
        assert_eq!(d.get(b"a", 1), v("1"));
        // A key written again: each height sees its own version; the last write of a height wins.
        assert!(d.add(3, &[w("a", Some("3")), w("a", Some("3b")), w("c", None)]));
        assert_eq!(d.get(b"a", 2), v("1"));
        assert_eq!(d.get(b"a", 3), v("3b"));
        assert_eq!(d.get(b"c", 3), Some(None));
        let batch: Vec<_> = d
            .batch_writes()
            .into_iter()
            .map(|(key, value)| (key.to_vec(), value.map(|v| v.to_vec())))
            .collect();
        assert_eq!(
            batch,
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

    fn marker(signer: &str, nonce: u64) -> (Vec<u8>, Option<Vec<u8>>) {
        let mut key = format!("n/{signer}/").into_bytes();
        key.extend_from_slice(&nonce.to_be_bytes());
        (key, Some(vec![7; 32]))
    }

    #[test]
    fn a_nonce_above_its_signers_highest_stored_is_not_stored() {
        let highest = [(b"n/A/".to_vec(), 10)].into_iter().collect();
        let mut d = Deferred::new(0, [], 2, highest);
        let not_stored = |d: &Deferred, signer, nonce| d.not_stored(&marker(signer, nonce).0);
        assert!(!not_stored(&d, "A", 10));
        assert!(!not_stored(&d, "A", 3));
        assert!(not_stored(&d, "A", 11));
        assert!(not_stored(&d, "B", 0));
        // Not a marker, or not shaped like one: not known.
        assert!(!d.not_stored(b"p/A"));
        assert!(!d.not_stored(b"n/A/123"));
        assert!(!d.not_stored(b"n/AB12345678"));
        // Held markers do not count until their batch is written; then they do, before the write.
        assert!(!d.add(1, &[marker("A", 20)]));
        assert!(not_stored(&d, "A", 20));
        assert!(d.add(2, &[marker("B", 5), marker("A", 12)]));
        assert!(not_stored(&d, "B", 5));
        d.batch_writes();
        assert!(!not_stored(&d, "A", 20));
        assert!(!not_stored(&d, "A", 15));
        assert!(not_stored(&d, "A", 21));
        assert!(!not_stored(&d, "B", 5));
        assert!(not_stored(&d, "B", 6));
        // A failed write leaves them raised: only ever too high, which costs a look-up.
        d.forget(2);
        assert!(!not_stored(&d, "B", 5));
    }
}
