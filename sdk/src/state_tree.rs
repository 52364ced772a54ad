//! The authenticated state tree: a compact sparse Merkle tree over blake3 whose root is the
//! `state_root` of every header, and the proofs that a key holds a value, or holds none, under
//! such a root. Verification is pure and does no IO.
//!
//! The tree is binary with 256-bit paths: a key's path is the bits of `H_StateKey(key)`, most
//! significant bit first. A subtree holding exactly one entry is that entry's leaf, placed at the
//! shortest path prefix no other key shares; an empty subtree is the constant [`empty_hash`]. The
//! root therefore depends only on the set of (key, value) pairs, never on the order of updates.
//!
//! ```text
//! key_hash   = H_StateKey(key)
//! value_hash = H_StateValue(value)
//! leaf       = H_StateLeaf(key_hash ‖ value_hash)
//! inner      = H_StateNode(left ‖ right)
//! empty      = H_StateNode("")
//! ```

use minicbor::{Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::hash::{Digest, Domain, hash, hash_parts};

/// The number of bits of a path, and so the most siblings a proof can carry.
pub const MAX_DEPTH: usize = 256;

/// The path of `key` in the tree: `H_StateKey(key)`.
pub fn key_hash(key: &[u8]) -> Digest {
    hash(Domain::StateKey, key)
}

/// The hash a leaf holds for `value`: `H_StateValue(value)`.
pub fn value_hash(value: &[u8]) -> Digest {
    hash(Domain::StateValue, value)
}

/// The hash of a leaf: `H_StateLeaf(key_hash ‖ value_hash)`.
pub fn leaf_hash(key_hash: &Digest, value_hash: &Digest) -> Digest {
    hash_parts(
        Domain::StateLeaf,
        &[key_hash.as_bytes(), value_hash.as_bytes()],
    )
}

/// The hash of an inner node: `H_StateNode(left ‖ right)`.
pub fn node_hash(left: &Digest, right: &Digest) -> Digest {
    hash_parts(Domain::StateNode, &[left.as_bytes(), right.as_bytes()])
}

/// The hash of an empty subtree, and the root of the empty tree: `H_StateNode("")`. No inner
/// node or leaf hashes to it, since their inputs are 64 bytes long.
pub fn empty_hash() -> Digest {
    hash(Domain::StateNode, b"")
}

/// Bit `index` of `path`, counted from the most significant bit of the first byte.
pub fn bit(path: &Digest, index: usize) -> bool {
    path.0[index / 8] & (0x80 >> (index % 8)) != 0
}

/// The root of the tree holding exactly `leaves` (key hash, value hash), computed from scratch.
/// The leaves may come in any order; a key hash given twice keeps its last value hash. For
/// tests and tools: a node updates its tree incrementally.
pub fn root_of(leaves: &[(Digest, Digest)]) -> Digest {
    let mut sorted: std::collections::BTreeMap<Digest, Digest> = Default::default();
    sorted.extend(leaves.iter().copied());
    let sorted: Vec<(Digest, Digest)> = sorted.into_iter().collect();
    subtree_root(&sorted, 0)
}

/// The root of the subtree at `depth` holding `leaves`, sorted by key hash, all sharing the
/// path's first `depth` bits.
fn subtree_root(leaves: &[(Digest, Digest)], depth: usize) -> Digest {
    match leaves {
        [] => empty_hash(),
        [(k, v)] => leaf_hash(k, v),
        _ => {
            // Sorted by key hash: the leaves whose bit is 0 come first.
            let split = leaves.partition_point(|(k, _)| !bit(k, depth));
            node_hash(
                &subtree_root(&leaves[..split], depth + 1),
                &subtree_root(&leaves[split..], depth + 1),
            )
        }
    }
}

/// A proof that a key holds a value, or holds none, in the tree with a given root.
///
/// The proof follows the key's path from the root down to where it ends: at a leaf (the key's
/// own, or another key's whose path shares the prefix), or at an empty subtree. `siblings[i]` is
/// the hash of the sibling of the path's node at depth `i + 1`, so the path ends at depth
/// `siblings.len()`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
pub struct StateProof {
    /// The leaf where the path ends, as (key hash, value hash); none for an empty subtree.
    #[n(0)]
    pub leaf: Option<(Digest, Digest)>,
    /// The siblings along the path, from the root's children down; at most [`MAX_DEPTH`].
    #[n(1)]
    #[cbor(decode_with = "decode_siblings")]
    #[serde(deserialize_with = "deserialize_siblings")]
    pub siblings: Vec<Digest>,
}

/// Decodes the siblings of a proof, refusing more than [`MAX_DEPTH`] before reading them.
fn decode_siblings<Ctx>(
    d: &mut minicbor::Decoder<'_>,
    _ctx: &mut Ctx,
) -> Result<Vec<Digest>, minicbor::decode::Error> {
    let len = d
        .array()?
        .ok_or_else(|| minicbor::decode::Error::message("expected a definite-length array"))?;
    if len > MAX_DEPTH as u64 {
        return Err(minicbor::decode::Error::message(format!(
            "a state proof has at most {MAX_DEPTH} siblings, found {len}"
        )));
    }
    let mut out = Vec::with_capacity(len as usize);
    for _ in 0..len {
        out.push(d.decode()?);
    }
    Ok(out)
}

/// Reads the siblings of a proof from JSON, refusing more than [`MAX_DEPTH`].
fn deserialize_siblings<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Digest>, D::Error> {
    let siblings = Vec::<Digest>::deserialize(d)?;
    if siblings.len() > MAX_DEPTH {
        return Err(serde::de::Error::custom(format!(
            "a state proof has at most {MAX_DEPTH} siblings, found {}",
            siblings.len()
        )));
    }
    Ok(siblings)
}

/// Why a state proof does not prove what was claimed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateProofError {
    /// More siblings than a path has bits.
    #[error("the proof has {found} siblings, a path has at most {MAX_DEPTH}")]
    TooManySiblings {
        /// How many.
        found: usize,
    },
    /// The proof's leaf is not on the key's path.
    #[error(
        "the proof ends in the leaf of key hash {leaf_key}, which is not on the path of key hash {key} at depth {depth}"
    )]
    LeafOffPath {
        /// The key hash of the proof's leaf.
        leaf_key: Digest,
        /// The key hash proven.
        key: Digest,
        /// Where the path ends.
        depth: usize,
    },
    /// The proof leads to another root.
    #[error("the proof leads to state root {computed}, the header's state root is {expected}")]
    RootMismatch {
        /// The root it should lead to.
        expected: Digest,
        /// The root it leads to.
        computed: Digest,
    },
    /// A value was claimed, the proof shows the key absent.
    #[error("the key (hash {key}) was claimed to hold a value, the proof shows it absent")]
    Absent {
        /// The key hash.
        key: Digest,
    },
    /// Absence was claimed, the proof shows the key present.
    #[error(
        "the key (hash {key}) was claimed absent, the proof shows it holding a value of hash {value}"
    )]
    Present {
        /// The key hash.
        key: Digest,
        /// The value hash the tree holds.
        value: Digest,
    },
    /// The key holds another value.
    #[error(
        "the key (hash {key}) holds a value of hash {proven}, the claimed value hashes to {claimed}"
    )]
    ValueMismatch {
        /// The key hash.
        key: Digest,
        /// The hash of the claimed value.
        claimed: Digest,
        /// The value hash the tree holds.
        proven: Digest,
    },
}

impl StateProof {
    /// The root this proof leads to along the path of `key_hash`: the hash where the path ends,
    /// combined with each sibling from the deepest up.
    pub fn root_along(&self, key_hash: &Digest) -> Result<Digest, StateProofError> {
        let depth = self.siblings.len();
        if depth > MAX_DEPTH {
            return Err(StateProofError::TooManySiblings { found: depth });
        }
        let mut current = match &self.leaf {
            Some((leaf_key, leaf_value)) => {
                if (0..depth).any(|i| bit(leaf_key, i) != bit(key_hash, i)) {
                    return Err(StateProofError::LeafOffPath {
                        leaf_key: *leaf_key,
                        key: *key_hash,
                        depth,
                    });
                }
                leaf_hash(leaf_key, leaf_value)
            }
            None => empty_hash(),
        };
        for (i, sibling) in self.siblings.iter().enumerate().rev() {
            current = if bit(key_hash, i) {
                node_hash(sibling, &current)
            } else {
                node_hash(&current, sibling)
            };
        }
        Ok(current)
    }

    /// Checks that in the tree with root `root`, `key` holds `value` (`Some`), or holds no value
    /// (`None`). Absence is proven by a path that ends in an empty subtree, or in the leaf of
    /// another key sharing the path's prefix.
    pub fn verify(
        &self,
        root: &Digest,
        key: &[u8],
        value: Option<&[u8]>,
    ) -> Result<(), StateProofError> {
        let key = key_hash(key);
        let computed = self.root_along(&key)?;
        if &computed != root {
            return Err(StateProofError::RootMismatch {
                expected: *root,
                computed,
            });
        }
        let held = match self.leaf {
            Some((leaf_key, leaf_value)) if leaf_key == key => Some(leaf_value),
            _ => None,
        };
        match (value, held) {
            (None, None) => Ok(()),
            (None, Some(value)) => Err(StateProofError::Present { key, value }),
            (Some(_), None) => Err(StateProofError::Absent { key }),
            (Some(value), Some(proven)) => {
                let claimed = value_hash(value);
                if claimed == proven {
                    Ok(())
                } else {
                    Err(StateProofError::ValueMismatch {
                        key,
                        claimed,
                        proven,
                    })
                }
            }
        }
    }
}

/// Builds the proof for `key` over the tree holding exactly `entries`, from scratch (for tests
/// and tools; a node serves proofs from its stored tree).
pub fn prove_from_entries(entries: &[(Vec<u8>, Vec<u8>)], key: &[u8]) -> StateProof {
    let mut leaves: std::collections::BTreeMap<Digest, Digest> = Default::default();
    for (k, v) in entries {
        leaves.insert(key_hash(k), value_hash(v));
    }
    let leaves: Vec<(Digest, Digest)> = leaves.into_iter().collect();
    let path = key_hash(key);
    let mut siblings = Vec::new();
    let mut current: &[(Digest, Digest)] = &leaves;
    let mut depth = 0;
    loop {
        match current {
            [] => {
                return StateProof {
                    leaf: None,
                    siblings,
                };
            }
            [leaf] => {
                return StateProof {
                    leaf: Some(*leaf),
                    siblings,
                };
            }
            _ => {
                let split = current.partition_point(|(k, _)| !bit(k, depth));
                let (left, right) = current.split_at(split);
                if bit(&path, depth) {
                    siblings.push(subtree_root(left, depth + 1));
                    current = right;
                } else {
                    siblings.push(subtree_root(right, depth + 1));
                    current = left;
                }
                depth += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::codec;

    fn entries(n: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
        (0..n)
            .map(|i| {
                (
                    format!("c/key-{i}").into_bytes(),
                    format!("value {i}").into_bytes(),
                )
            })
            .collect()
    }

    fn root_over(entries: &[(Vec<u8>, Vec<u8>)]) -> Digest {
        let leaves: Vec<_> = entries
            .iter()
            .map(|(k, v)| (key_hash(k), value_hash(v)))
            .collect();
        root_of(&leaves)
    }

    #[test]
    fn empty_and_single_leaf_roots() {
        assert_eq!(root_of(&[]), empty_hash());
        let (k, v) = (key_hash(b"a"), value_hash(b"1"));
        assert_eq!(root_of(&[(k, v)]), leaf_hash(&k, &v));
        let proof = prove_from_entries(&[(b"a".to_vec(), b"1".to_vec())], b"a");
        assert!(proof.siblings.is_empty());
        assert_eq!(proof.verify(&leaf_hash(&k, &v), b"a", Some(b"1")), Ok(()));
    }

    #[test]
    fn frozen_root() {
        // Frozen: changing the hashing or the tree shape changes this value on purpose only.
        assert_eq!(
            empty_hash().to_hex(),
            "38e074b50ab1b5b0d34171ec5daf9b9961a2b18aa5d4d4b1fdbe0be421e1628c"
        );
        assert_eq!(
            root_over(&entries(5)).to_hex(),
            "dc5394e5cacb4be63139775910e5515cf483c761a26a5d5199839f1f1fb4df9c"
        );
        let two = root_over(&entries(2));
        let (a, b) = (key_hash(b"c/key-0"), key_hash(b"c/key-1"));
        let (la, lb) = (
            leaf_hash(&a, &value_hash(b"value 0")),
            leaf_hash(&b, &value_hash(b"value 1")),
        );
        // Two leaves differing at bit d hang under d inner nodes with empty siblings above.
        let d = (0..MAX_DEPTH)
            .find(|&i| bit(&a, i) != bit(&b, i))
            .expect("differ");
        let mut expected = if bit(&a, d) {
            node_hash(&lb, &la)
        } else {
            node_hash(&la, &lb)
        };
        for i in (0..d).rev() {
            expected = if bit(&a, i) {
                node_hash(&empty_hash(), &expected)
            } else {
                node_hash(&expected, &empty_hash())
            };
        }
        assert_eq!(two, expected);
    }

    #[test]
    fn presence_and_absence_are_not_interchangeable() {
        let entries = entries(20);
        let root = root_over(&entries);
        let present = prove_from_entries(&entries, b"c/key-3");
        assert_eq!(present.verify(&root, b"c/key-3", Some(b"value 3")), Ok(()));
        assert!(matches!(
            present.verify(&root, b"c/key-3", None),
            Err(StateProofError::Present { .. })
        ));
        assert!(matches!(
            present.verify(&root, b"c/key-3", Some(b"value 4")),
            Err(StateProofError::ValueMismatch { .. })
        ));
        let absent = prove_from_entries(&entries, b"c/missing");
        assert_eq!(absent.verify(&root, b"c/missing", None), Ok(()));
        assert!(matches!(
            absent.verify(&root, b"c/missing", Some(b"x")),
            Err(StateProofError::Absent { .. })
        ));
        // Another key's proof does not stand for this one.
        assert!(present.verify(&root, b"c/key-4", Some(b"value 3")).is_err());
        assert!(present.verify(&root, b"c/key-4", None).is_err());
    }

    #[test]
    fn tampering_is_caught() {
        let entries = entries(20);
        let root = root_over(&entries);
        let proof = prove_from_entries(&entries, b"c/key-7");
        assert!(!proof.siblings.is_empty());
        for i in 0..proof.siblings.len() {
            let mut p = proof.clone();
            p.siblings[i].0[0] ^= 1;
            assert!(matches!(
                p.verify(&root, b"c/key-7", Some(b"value 7")),
                Err(StateProofError::RootMismatch { .. })
            ));
        }
        let mut p = proof.clone();
        if let Some((_, v)) = p.leaf.as_mut() {
            v.0[3] ^= 1;
        }
        assert!(p.verify(&root, b"c/key-7", Some(b"value 7")).is_err());
        let mut p = proof.clone();
        p.siblings.pop();
        assert!(p.verify(&root, b"c/key-7", Some(b"value 7")).is_err());
        let mut p = proof.clone();
        p.siblings.push(empty_hash());
        assert!(p.verify(&root, b"c/key-7", Some(b"value 7")).is_err());
        // An absence proof turned into a claim of the empty subtree elsewhere fails.
        let mut p = proof.clone();
        p.leaf = None;
        assert!(p.verify(&root, b"c/key-7", None).is_err());
        // Against another root.
        let other = root_over(&entries[..19]);
        assert!(matches!(
            proof.verify(&other, b"c/key-7", Some(b"value 7")),
            Err(StateProofError::RootMismatch { .. })
        ));
    }

    #[test]
    fn encoding_round_trips_and_caps_siblings() {
        let entries = entries(8);
        for key in [b"c/key-1".as_slice(), b"nothing"] {
            let proof = prove_from_entries(&entries, key);
            let bytes = codec::encode(&proof);
            let back: StateProof = codec::decode(&bytes, 1 << 20).expect("decode");
            assert_eq!(back, proof);
            let json = serde_json::to_string(&proof).expect("json");
            let back: StateProof = serde_json::from_str(&json).expect("json back");
            assert_eq!(back, proof);
        }
        let long = StateProof {
            leaf: None,
            siblings: vec![Digest::ZERO; MAX_DEPTH + 1],
        };
        assert!(codec::decode::<StateProof>(&codec::encode(&long), 1 << 20).is_err());
        let json = serde_json::to_string(&long).expect("json");
        assert!(serde_json::from_str::<StateProof>(&json).is_err());
        assert!(matches!(
            long.verify(&empty_hash(), b"k", None),
            Err(StateProofError::TooManySiblings { .. })
        ));
    }

    proptest! {
        #[test]
        fn proofs_verify_for_present_and_absent_keys(
            keys in proptest::collection::btree_set(proptest::collection::vec(any::<u8>(), 0..6), 0..40),
            probe in proptest::collection::vec(any::<u8>(), 0..6),
        ) {
            let entries: Vec<(Vec<u8>, Vec<u8>)> = keys
                .iter()
                .map(|k| (k.clone(), [k.as_slice(), b"!"].concat()))
                .collect();
            let root = root_over(&entries);
            for (k, v) in &entries {
                let proof = prove_from_entries(&entries, k);
                prop_assert_eq!(proof.verify(&root, k, Some(v)), Ok(()));
                prop_assert!(proof.verify(&root, k, None).is_err());
                prop_assert!(proof.verify(&root, k, Some(b"other")).is_err());
            }
            let proof = prove_from_entries(&entries, &probe);
            if keys.contains(&probe) {
                prop_assert!(proof.verify(&root, &probe, None).is_err());
            } else {
                prop_assert_eq!(proof.verify(&root, &probe, None), Ok(()));
                prop_assert!(proof.verify(&root, &probe, Some(b"x")).is_err());
            }
        }

        #[test]
        fn the_root_ignores_insertion_order(
            keys in proptest::collection::btree_set(proptest::collection::vec(any::<u8>(), 0..6), 0..30),
            seed in any::<u64>(),
        ) {
            let mut leaves: Vec<(Digest, Digest)> = keys
                .iter()
                .map(|k| (key_hash(k), value_hash(k)))
                .collect();
            let root = root_of(&leaves);
            // A deterministic shuffle.
            let mut state = seed | 1;
            for i in (1..leaves.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                leaves.swap(i, (state % (i as u64 + 1)) as usize);
            }
            prop_assert_eq!(root_of(&leaves), root);
        }

        #[test]
        fn a_flipped_sibling_bit_never_verifies(
            n in 2usize..30,
            pick in any::<prop::sample::Index>(),
            bit_index in 0usize..256,
        ) {
            let entries = entries(n);
            let root = root_over(&entries);
            let (k, v) = &entries[pick.index(n)];
            let mut proof = prove_from_entries(&entries, k);
            prop_assume!(!proof.siblings.is_empty());
            let i = bit_index % proof.siblings.len();
            proof.siblings[i].0[bit_index / 8] ^= 0x80 >> (bit_index % 8);
            prop_assert!(proof.verify(&root, k, Some(v)).is_err());
        }
    }
}
