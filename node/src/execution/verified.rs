//! Signatures this node has already verified, so that each transaction's signature is checked
//! once per node however many times the transaction is executed (admission, the proposer's
//! pre-filter, building or re-executing the block), and checked in batches where many arrive
//! together (a relay batch, a proposed block).
//!
//! An entry is a transaction id with the public key and the signature that verified: the id
//! covers everything that was signed, so an entry stands for exactly one signature that verified
//! under one key. A different signature on the same content, or the same signature checked
//! against another key, does not match the entry and is verified afresh (and then replaces it).
//! Entries are compared whole, never through a hash of them. Verification follows the protocol's
//! one rule ([`caravan_sdk::keys`]), batched or not, so a cache hit and a fresh check always agree
//! and execution stays deterministic.
//!
//! The set is bounded: entries are kept in two generations of half the capacity each; when the
//! newer one is full, the older one is forgotten whole and its table reused for the next. So the
//! last half of the capacity is always remembered, a forgotten entry only costs a second
//! verification, and the tables never grow: removing entries one by one from a hash table leaves
//! tombstones, and the table doubled (to 64 MiB in a validator) once they had used up its room.
//!
//! It also remembers signer records it has decoded, by their stored bytes: every transaction
//! reads its signer's record, and decoding it (canonical CBOR, checked by re-encoding) cost more
//! than reading it. Decoding is a function of the bytes alone, so a remembered record is exactly
//! what decoding those bytes again would give, whatever block or snapshot they came from.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use foldhash::fast::RandomState;

use caravan_sdk::codec::{self, CodecError};
use caravan_sdk::hash::Digest;
use caravan_sdk::ids::{ParticipantId, TxId};
use caravan_sdk::keys::{self, PublicKey};
use caravan_sdk::tx::{Rejection, SignedTx};

use super::state::{Overlay, StateError, StateView, TxState, keys as state_keys};
use super::types::Participant;

/// Transactions' signatures known to verify, and signer records already decoded.
pub struct Verified {
    /// Entries in each generation at most.
    generation: usize,
    inner: Mutex<Inner>,
    signers: Mutex<HashMap<Vec<u8>, Arc<Participant>, RandomState>>,
}

/// Decoded signer records remembered at most; past this the memory starts afresh.
const SIGNER_RECORDS: usize = 1 << 16;

type Entries = HashMap<TxId, (PublicKey, keys::Signature), RandomState>;

struct Inner {
    /// Where entries are added.
    current: Entries,
    /// The generation before, forgotten when `current` is full.
    previous: Entries,
}

impl fmt::Debug for Verified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Verified({} of {})", self.len(), 2 * self.generation)
    }
}

impl Verified {
    /// An empty set remembering at most `capacity` signatures, and always the last
    /// `capacity / 2`. Its tables are sized for that at once.
    pub fn new(capacity: usize) -> Self {
        let generation = (capacity / 2).max(1);
        let table = || Entries::with_capacity_and_hasher(generation, RandomState::default());
        Verified {
            generation,
            inner: Mutex::new(Inner {
                current: table(),
                previous: table(),
            }),
            signers: Mutex::new(HashMap::default()),
        }
    }

    fn contains(&self, id: &TxId, key: &PublicKey, tx: &SignedTx) -> bool {
        self.inner
            .lock()
            .map(|inner| {
                inner.current.get(id).or_else(|| inner.previous.get(id))
                    == Some(&(*key, tx.signature))
            })
            .unwrap_or(false)
    }

    fn insert_all(&self, entries: impl IntoIterator<Item = (TxId, PublicKey, keys::Signature)>) {
        let Ok(mut guard) = self.inner.lock() else {
            return;
        };
        let inner = &mut *guard;
        for (id, key, signature) in entries {
            if inner.current.len() >= self.generation && !inner.current.contains_key(&id) {
                std::mem::swap(&mut inner.current, &mut inner.previous);
                inner.current.clear();
            }
            inner.previous.remove(&id);
            inner.current.insert(id, (key, signature));
        }
    }

    /// The participant record stored as `bytes`, decoded once and remembered.
    pub fn participant(&self, bytes: &[u8]) -> Result<Arc<Participant>, CodecError> {
        if let Ok(signers) = self.signers.lock()
            && let Some(p) = signers.get(bytes)
        {
            return Ok(Arc::clone(p));
        }
        let decoded: Arc<Participant> = Arc::new(codec::decode(bytes, codec::MAX_BLOCK_BYTES)?);
        if let Ok(mut signers) = self.signers.lock() {
            if signers.len() >= SIGNER_RECORDS {
                signers.clear();
            }
            signers.insert(bytes.to_vec(), Arc::clone(&decoded));
        }
        Ok(decoded)
    }

    /// How many signatures are remembered.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .map(|i| i.current.len() + i.previous.len())
            .unwrap_or(0)
    }

    /// Whether none are remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks `tx`'s signature against `key`: remembered, or verified now and remembered.
    pub fn check(&self, tx: &SignedTx, id: &TxId, key: &PublicKey) -> Result<(), Rejection> {
        if self.contains(id, key, tx) {
            return Ok(());
        }
        tx.verify_signature(key)?;
        self.insert_all([(*id, *key, tx.signature)]);
        Ok(())
    }

    /// Verifies in batches, spread over the machine's cores, the signatures of `txs` whose
    /// signers are registered in `view` and that are not remembered yet, and remembers those that
    /// verify. Nothing is decided here: a transaction whose signature fails, or whose signer is
    /// not registered yet (registered earlier in the same block, say), is checked again, singly,
    /// when it is executed, and refused there.
    pub fn preverify<'t, V: StateView>(
        &self,
        view: &V,
        txs: impl IntoIterator<Item = &'t SignedTx>,
    ) -> Result<(), StateError> {
        let computed: Vec<(&SignedTx, TxId, Digest)> = txs
            .into_iter()
            .map(|tx| {
                let (id, digest) = tx.tx.id_and_signing_digest();
                (tx, id, digest)
            })
            .collect();
        self.preverify_with(
            view,
            computed.iter().map(|(tx, id, digest)| (*tx, id, digest)),
        )
    }

    /// [`Verified::preverify`] with each transaction's id and signing digest already computed.
    pub fn preverify_with<'t, V: StateView>(
        &self,
        view: &V,
        txs: impl IntoIterator<Item = (&'t SignedTx, &'t TxId, &'t Digest)>,
    ) -> Result<(), StateError> {
        let scratch = Overlay::default();
        let state = TxState::new(view, &scratch);
        let mut signers: HashMap<ParticipantId, Option<PublicKey>> = HashMap::new();
        let mut todo = Vec::new();
        for (tx, id, digest) in txs {
            let key = match signers.get(&tx.tx.signer) {
                Some(key) => *key,
                None => {
                    let key = match state.get_raw(&state_keys::participant(&tx.tx.signer))? {
                        Some(bytes) => Some(
                            self.participant(&bytes)
                                .map_err(|e| {
                                    StateError(format!("record of {}: {e}", tx.tx.signer))
                                })?
                                .public_key,
                        ),
                        None => None,
                    };
                    signers.insert(tx.tx.signer.clone(), key);
                    key
                }
            };
            let Some(key) = key else {
                continue;
            };
            if !self.contains(id, &key, tx) {
                todo.push((*id, (key, *digest, tx.signature)));
            }
        }
        if todo.is_empty() {
            return Ok(());
        }
        let items: Vec<_> = todo.iter().map(|(_, item)| *item).collect();
        let ok = verify_parallel(&items);
        self.insert_all(
            todo.iter()
                .zip(ok)
                .filter(|(_, ok)| *ok)
                .map(|((id, (key, _, signature)), _)| (*id, *key, *signature)),
        );
        Ok(())
    }
}

/// Signatures each core is given at least when a verification is spread over cores: half a
/// batch of [`keys::BATCH`] (a batch of 512 costs about 5% more per signature than one of 1,024,
/// and a relay batch or a small block still finishes in half the time).
const SHARE: usize = keys::BATCH / 2;

/// [`keys::verify_many`] over all cores for large inputs, each core's share one range of keys.
fn verify_parallel(items: &[(PublicKey, Digest, keys::Signature)]) -> Vec<bool> {
    // Asked once: the answer reads the cgroup's files, which cost as much as verifying a
    // signature, at every batch.
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let threads = *THREADS.get_or_init(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    if threads < 2 || items.len() < 2 * SHARE {
        return keys::verify_many(items);
    }
    keys::by_key(items, |items| verify_on(items, threads))
}

/// [`keys::verify_many`] on `threads` threads, each given a contiguous share of `items`.
fn verify_on(items: &[(PublicKey, Digest, keys::Signature)], threads: usize) -> Vec<bool> {
    let per = items.len().div_ceil(threads).max(SHARE);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(per)
            .map(|chunk| (chunk.len(), s.spawn(|| keys::verify_many(chunk))))
            .collect();
        handles
            .into_iter()
            .flat_map(|(len, h)| {
                // A panicking verifier thread is a bug; its items count as unverified, so that
                // execution checks them singly.
                h.join().unwrap_or_else(|_| vec![false; len])
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execution::tests::anchor;
    use caravan_sdk::keys::Keypair;

    fn tx(key: &Keypair, nonce: u64) -> SignedTx {
        anchor("RAIL-1", key, nonce)
    }

    #[test]
    fn an_entry_matches_only_its_own_key_and_signature() {
        let (a, b) = (Keypair::from_seed(&[1; 32]), Keypair::from_seed(&[2; 32]));
        let verified = Verified::new(8);
        let good = tx(&a, 1);
        let id = good.id();
        assert!(verified.check(&good, &id, &a.public()).is_ok());
        assert_eq!(verified.len(), 1);
        // The same content with a damaged signature, or checked against another key, is
        // verified afresh and refused.
        let mut damaged = good.clone();
        damaged.signature.0[5] ^= 1;
        assert!(verified.check(&damaged, &id, &a.public()).is_err());
        assert!(verified.check(&good, &id, &b.public()).is_err());
        assert!(verified.check(&good, &id, &a.public()).is_ok());
        assert_eq!(verified.len(), 1);
    }

    #[test]
    fn the_oldest_entries_are_forgotten_past_capacity() {
        let key = Keypair::from_seed(&[1; 32]);
        let verified = Verified::new(4);
        let txs: Vec<SignedTx> = (1..=9).map(|nonce| tx(&key, nonce)).collect();
        let remembered = |t: &SignedTx| verified.contains(&t.id(), &key.public(), t);
        for (i, t) in txs.iter().enumerate() {
            assert!(verified.check(t, &t.id(), &key.public()).is_ok());
            // Never more than the capacity, always the last half of it.
            assert!(verified.len() <= 4, "{} after {}", verified.len(), i + 1);
            assert!(txs[i.saturating_sub(1)..=i].iter().all(remembered));
        }
        // Two generations of two: the 7th to the 9th are remembered, the earlier ones not.
        assert_eq!(verified.len(), 3);
        assert!(txs[6..].iter().all(remembered));
        assert!(!txs[..6].iter().any(remembered));
        // Remembered again (verified afresh elsewhere), an entry of the older generation moves
        // to the newer one without being counted twice.
        verified.insert_all([(txs[6].id(), key.public(), txs[6].signature)]);
        assert_eq!(verified.len(), 3);
        assert!(txs[6..].iter().all(remembered));
    }
}
