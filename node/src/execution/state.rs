//! The state as execution sees it: committed key-value state behind [`StateView`], with the
//! block's writes layered over it ([`Overlay`]) and each transaction's own writes layered over
//! those ([`TxState`]), so a rejected transaction leaves nothing behind.

use std::collections::BTreeMap;

use minicbor::{Decode, Encode};

use caravan_sdk::codec;

use super::state_tree::{NodePos, TreeNodes};

/// Key-value entries in key order.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Read access to committed state. Implemented by the store, and in memory by tests.
pub trait StateView {
    /// Storage failure.
    type Error: std::fmt::Display;
    /// The value under `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Self::Error>;
    /// Every entry whose key starts with `prefix`, in key order.
    fn scan(&self, prefix: &[u8]) -> Result<Entries, Self::Error>;
    /// The state tree's node stored at `pos` (canonical CBOR), at the committed tip.
    fn tree_node(&self, pos: &NodePos) -> Result<Option<Vec<u8>>, Self::Error>;
}

/// The state tree of a [`StateView`], for the tree's update and proofs.
pub struct ViewNodes<'a, V: StateView>(pub &'a V);

impl<V: StateView> TreeNodes for ViewNodes<'_, V> {
    type Error = V::Error;
    fn tree_node(&self, pos: &NodePos) -> Result<Option<Vec<u8>>, Self::Error> {
        self.0.tree_node(pos)
    }
}

/// A storage failure or undecodable stored value: not the transaction's fault.
#[derive(Debug, thiserror::Error)]
#[error("state unavailable: {0}")]
pub struct StateError(pub String);

/// A block's writes so far, over committed state.
#[derive(Default, Debug)]
pub struct Overlay {
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl Overlay {
    /// The writes, in key order.
    pub fn into_writes(self) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        self.writes.into_iter().collect()
    }
}

/// One transaction's view: committed state, the block's earlier writes, and its own writes.
pub struct TxState<'a, V: StateView> {
    view: &'a V,
    block: &'a Overlay,
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl<'a, V: StateView> TxState<'a, V> {
    /// A fresh transaction view.
    pub fn new(view: &'a V, block: &'a Overlay) -> Self {
        TxState {
            view,
            block,
            writes: BTreeMap::new(),
        }
    }

    /// The transaction's writes, to merge into the block on success.
    pub fn finish(self) -> BTreeMap<Vec<u8>, Option<Vec<u8>>> {
        self.writes
    }

    /// The underlying committed state.
    pub fn view(&self) -> &V {
        self.view
    }

    /// Raw read.
    pub fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        if let Some(v) = self.writes.get(key) {
            return Ok(v.clone());
        }
        if let Some(v) = self.block.writes.get(key) {
            return Ok(v.clone());
        }
        self.view.get(key).map_err(|e| StateError(e.to_string()))
    }

    /// Typed read.
    pub fn get<T>(&self, key: &[u8]) -> Result<Option<T>, StateError>
    where
        T: for<'b> Decode<'b, ()> + Encode<()>,
    {
        match self.get_raw(key)? {
            Some(bytes) => codec::decode(&bytes, codec::MAX_BLOCK_BYTES)
                .map(Some)
                .map_err(|e| {
                    StateError(format!(
                        "stored value under {}: {e}",
                        String::from_utf8_lossy(key)
                    ))
                }),
            None => Ok(None),
        }
    }

    /// Whether `key` is present.
    pub fn contains(&self, key: &[u8]) -> Result<bool, StateError> {
        Ok(self.get_raw(key)?.is_some())
    }

    /// Typed write.
    pub fn put<T: Encode<()>>(&mut self, key: Vec<u8>, value: &T) {
        self.writes.insert(key, Some(codec::encode(value)));
    }

    /// Marker write (empty value).
    pub fn mark(&mut self, key: Vec<u8>) {
        self.writes.insert(key, Some(Vec::new()));
    }

    /// Delete.
    pub fn delete(&mut self, key: Vec<u8>) {
        self.writes.insert(key, None);
    }

    /// Every live entry under `prefix`, merging committed state with pending writes.
    pub fn scan(&self, prefix: &[u8]) -> Result<Entries, StateError> {
        let mut merged: BTreeMap<Vec<u8>, Option<Vec<u8>>> = self
            .view
            .scan(prefix)
            .map_err(|e| StateError(e.to_string()))?
            .into_iter()
            .map(|(k, v)| (k, Some(v)))
            .collect();
        for layer in [&self.block.writes, &self.writes] {
            for (k, v) in layer.range(prefix.to_vec()..) {
                if !k.starts_with(prefix) {
                    break;
                }
                merged.insert(k.clone(), v.clone());
            }
        }
        Ok(merged
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect())
    }
}

impl Overlay {
    /// Merges a finished transaction's writes.
    pub fn merge(&mut self, writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>) {
        self.writes.extend(writes);
    }
}

/// The key layout of the state. Each kind of record has its own one-letter prefix and a `/`.
pub mod keys {
    use caravan_sdk::ids::{Nonce, ParticipantId};

    fn key(prefix: &str, parts: &[&[u8]]) -> Vec<u8> {
        let mut out = prefix.as_bytes().to_vec();
        for part in parts {
            out.push(b'/');
            out.extend_from_slice(part);
        }
        out
    }

    /// A participant.
    pub fn participant(id: &ParticipantId) -> Vec<u8> {
        key("p", &[id.as_str().as_bytes()])
    }

    /// Whether `key` is a used nonce's marker.
    pub fn is_nonce(key: &[u8]) -> bool {
        key.starts_with(b"n/")
    }

    /// Whether `key` is a participant's (read by every transaction of its signer).
    pub fn is_participant(key: &[u8]) -> bool {
        key.starts_with(b"p/")
    }

    /// A used nonce.
    pub fn nonce(id: &ParticipantId, nonce: Nonce) -> Vec<u8> {
        key("n", &[id.as_str().as_bytes(), &nonce.0.to_be_bytes()])
    }

    /// A key under `prefix` built from raw parts (for the trade records).
    pub fn raw(prefix: &str, parts: &[&[u8]]) -> Vec<u8> {
        key(prefix, parts)
    }
}
