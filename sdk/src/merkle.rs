//! The Merkle log: an RFC 6962 (Certificate Transparency, section 2.1) shaped tree over blake3,
//! with domain separation in place of the 0x00/0x01 prefixes. A [`Frontier`] appends leaves in
//! O(log n) and reports the perfect subtrees it completes, a [`NodeSource`] serves those stored
//! nodes back, and inclusion and consistency proofs are built from it and verified with the
//! RFC 9162 algorithms.

use core::fmt;

use minicbor::{Decode, Encode};

use crate::hash::{Digest, Domain, hash_parts};

/// The hash of one log entry, a leaf of the tree (RFC 6962's `HASH(0x00 || entry)`).
pub fn leaf_hash(entry: &[u8]) -> Digest {
    hash_parts(Domain::LogLeaf, &[entry])
}

/// The hash of an inner node over its two children (RFC 6962's `HASH(0x01 || left || right)`).
pub fn node_hash(left: &Digest, right: &Digest) -> Digest {
    hash_parts(Domain::LogNode, &[&left.0, &right.0])
}

/// The root of the tree of size 0 (RFC 6962's `HASH()`).
pub fn empty_root() -> Digest {
    hash_parts(Domain::LogNode, &[])
}

/// The largest power of two strictly below `n`, the RFC 6962 split point; `n` must be at least 2.
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Whether the leaves `[start, start + len)` form a node of some RFC 6962 tree: `start` is a
/// multiple of the smallest power of two at least `len`.
fn is_aligned(start: u64, len: u64) -> bool {
    match len.checked_next_power_of_two() {
        Some(p) => start & (p - 1) == 0,
        None => start == 0,
    }
}

/// The number of hashes in an RFC 6962 inclusion proof for `index` in a tree of `size` leaves
/// (`index < size`).
pub fn inclusion_path_len(index: u64, size: u64) -> usize {
    let (inner, border) = decompose_inclusion(index, size);
    (inner + border) as usize
}

/// Splits an inclusion path into the part below the last common level of `index` and `size - 1`
/// (`inner`) and the part along the right border of the tree (`border`).
fn decompose_inclusion(index: u64, size: u64) -> (u32, u32) {
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner, border)
}

/// The number of hashes in an RFC 6962 consistency proof from `old` to `new` leaves.
fn consistency_path_len(old: u64, new: u64) -> usize {
    if old == 0 || old >= new {
        return 0;
    }
    let (inner, border) = decompose_inclusion(old - 1, new);
    let shift = old.trailing_zeros();
    let seed = u32::from(!old.is_power_of_two());
    (inner - shift + border + seed) as usize
}

/// One perfect subtree of the log: the `2^level` leaves `[index << level, (index + 1) << level)`.
/// Level 0 holds the leaf hashes themselves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
#[cbor(array)]
pub struct NodeKey {
    /// The height of the subtree: it covers `2^level` leaves.
    #[n(0)]
    pub level: u8,
    /// The position of the subtree among those of its level, counted from the left.
    #[n(1)]
    pub index: u64,
}

impl NodeKey {
    /// The key of the leaf at `index`.
    pub const fn leaf(index: u64) -> Self {
        NodeKey { level: 0, index }
    }
}

impl fmt::Display for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "level {} index {}", self.level, self.index)?;
        if self.level <= 64 {
            let start = u128::from(self.index) << self.level;
            let end = (u128::from(self.index) + 1) << self.level;
            write!(f, " (leaves {start}..{end})")?;
        }
        Ok(())
    }
}

/// A proof, or a frontier, that does not check out. Every message says what was expected and
/// what was found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    /// An inclusion proof names a leaf outside its tree.
    #[error(
        "inclusion proof is for leaf {leaf_index} of a tree of {tree_size} leaves, expected a leaf index below {tree_size}"
    )]
    IndexOutOfRange {
        /// The leaf index the proof names.
        leaf_index: u64,
        /// The tree size the proof names.
        tree_size: u64,
    },
    /// An inclusion proof has too many or too few hashes for its leaf and tree size.
    #[error(
        "inclusion proof path has {found} hashes, expected {expected} for leaf {leaf_index} of {tree_size}"
    )]
    InclusionPathLength {
        /// The number of hashes in the proof.
        found: usize,
        /// The number an RFC 6962 proof for this leaf and size has.
        expected: usize,
        /// The leaf index the proof names.
        leaf_index: u64,
        /// The tree size the proof names.
        tree_size: u64,
    },
    /// An inclusion proof leads to another root than the one it was checked against.
    #[error(
        "inclusion proof for leaf {leaf_index} of {tree_size} leads to root {found}, expected {expected}"
    )]
    InclusionRootMismatch {
        /// The leaf index the proof names.
        leaf_index: u64,
        /// The tree size the proof names.
        tree_size: u64,
        /// The root the proof was checked against.
        expected: Digest,
        /// The root the proof computes.
        found: Digest,
    },
    /// A consistency proof goes from a larger tree to a smaller one.
    #[error(
        "consistency proof goes from {old_size} leaves to {new_size}, expected the old size to be at most the new size"
    )]
    SizesDecrease {
        /// The old tree size the proof names.
        old_size: u64,
        /// The new tree size the proof names.
        new_size: u64,
    },
    /// A consistency proof has too many or too few hashes for its sizes (a proof from the empty
    /// tree, or between equal sizes, has none).
    #[error(
        "consistency proof path has {found} hashes, expected {expected} from size {old_size} to {new_size}"
    )]
    ConsistencyPathLength {
        /// The number of hashes in the proof.
        found: usize,
        /// The number an RFC 6962 proof between these sizes has.
        expected: usize,
        /// The old tree size the proof names.
        old_size: u64,
        /// The new tree size the proof names.
        new_size: u64,
    },
    /// A consistency proof leads to another old root than the one it was checked against.
    #[error(
        "consistency proof from size {old_size} to {new_size} leads to old root {found}, expected {expected}"
    )]
    OldRootMismatch {
        /// The old tree size the proof names.
        old_size: u64,
        /// The new tree size the proof names.
        new_size: u64,
        /// The old root the proof was checked against.
        expected: Digest,
        /// The old root the proof computes.
        found: Digest,
    },
    /// A consistency proof leads to another new root than the one it was checked against.
    #[error(
        "consistency proof from size {old_size} to {new_size} leads to new root {found}, expected {expected}"
    )]
    NewRootMismatch {
        /// The old tree size the proof names.
        old_size: u64,
        /// The new tree size the proof names.
        new_size: u64,
        /// The new root the proof was checked against.
        expected: Digest,
        /// The new root the proof computes.
        found: Digest,
    },
    /// An earlier leaf's path was checked against a later leaf's proof, but it is not earlier.
    #[error(
        "leaf {earlier} is not before leaf {later} of the proof's tree of {tree_size} leaves, expected an earlier leaf"
    )]
    NotEarlier {
        /// The leaf said to be earlier.
        earlier: u64,
        /// The leaf of the proof.
        later: u64,
        /// The proof's tree size.
        tree_size: u64,
    },
    /// An earlier leaf's path within the perfect subtree holding it has too many or too few
    /// hashes.
    #[error(
        "path of leaf {earlier} within the subtree of leaves {start}..{end} has {found} hashes, expected {expected}"
    )]
    SubtreePathLength {
        /// The earlier leaf.
        earlier: u64,
        /// The subtree's first leaf.
        start: u64,
        /// One past its last leaf.
        end: u64,
        /// The number of hashes given.
        found: usize,
        /// The subtree's depth.
        expected: usize,
    },
    /// An earlier leaf's path leads to another subtree root than the later leaf's proof carries.
    #[error(
        "path of leaf {earlier} leads to root {found} of the subtree of leaves {start}..{end}, the proof of leaf {later} carries {expected}"
    )]
    SubtreeRootMismatch {
        /// The earlier leaf.
        earlier: u64,
        /// The later leaf, whose proof carries the subtree's root.
        later: u64,
        /// The subtree's first leaf.
        start: u64,
        /// One past its last leaf.
        end: u64,
        /// The root the later proof carries.
        expected: Digest,
        /// The root the earlier path computes.
        found: Digest,
    },
    /// A frontier whose peaks do not match its size.
    #[error(
        "frontier of {size} leaves has {found} peaks, expected {expected} (one per set bit of the size)"
    )]
    FrontierPeaks {
        /// The size the frontier names.
        size: u64,
        /// The number of peaks given.
        found: usize,
        /// The number of set bits of the size.
        expected: usize,
    },
}

/// Why a proof, or a subtree root, could not be built from a [`NodeSource`].
#[derive(Debug, thiserror::Error)]
pub enum ProofError<E> {
    /// The store has no node under this key: the log is shorter than asked, or the node was lost.
    #[error("log store has no node at {0}, expected every perfect subtree of the log to be stored")]
    Missing(NodeKey),
    /// The store failed to answer.
    #[error("log store failed: {0}")]
    Source(#[source] E),
    /// The request does not describe part of a log tree.
    #[error("invalid {what} {start}..{end}: expected {expected}")]
    Range {
        /// What `start` and `end` are.
        what: &'static str,
        /// The first number of the request (a range start, a leaf index or an old size).
        start: u64,
        /// The second number of the request (a range end or a tree size).
        end: u64,
        /// What a valid request looks like.
        expected: &'static str,
    },
}

/// A store of the log's perfect subtrees, as [`Frontier::append`] reports them. Only perfect
/// subtrees are stored: every other node is recomputed from them.
pub trait NodeSource {
    /// The store's own failure.
    type Error: std::error::Error;

    /// The root of the perfect subtree `key`, or `None` when the store does not hold it.
    fn node(&self, key: NodeKey) -> Result<Option<Digest>, Self::Error>;
}

impl<S: NodeSource + ?Sized> NodeSource for &S {
    type Error = S::Error;

    fn node(&self, key: NodeKey) -> Result<Option<Digest>, Self::Error> {
        (**self).node(key)
    }
}

/// Looks up one stored node, turning absence into [`ProofError::Missing`].
fn fetch<S: NodeSource>(src: &S, key: NodeKey) -> Result<Digest, ProofError<S::Error>> {
    match src.node(key) {
        Ok(Some(digest)) => Ok(digest),
        Ok(None) => Err(ProofError::Missing(key)),
        Err(err) => Err(ProofError::Source(err)),
    }
}

/// Folds peaks, largest first, into the RFC 6962 root of the leaves they cover.
fn fold_peaks(peaks: &[Digest]) -> Digest {
    let mut iter = peaks.iter().rev();
    match iter.next() {
        None => empty_root(),
        Some(last) => iter.fold(*last, |acc, peak| node_hash(peak, &acc)),
    }
}

/// The keys of the perfect subtrees that make up the aligned range `[start, start + len)`,
/// largest first.
fn peak_keys(start: u64, len: u64) -> impl Iterator<Item = NodeKey> {
    let mut pos = start;
    (0..64u8).rev().filter_map(move |level| {
        let width = 1u64 << level;
        if len & width == 0 {
            return None;
        }
        let key = NodeKey {
            level,
            index: pos >> level,
        };
        pos += width;
        Some(key)
    })
}

/// The RFC 6962 root (MTH) of the leaves `[start, end)`, computed from stored perfect subtrees.
///
/// The range must be a node of some RFC 6962 tree: `start` a multiple of the smallest power of
/// two at least `end - start` (every range that a tree of any size, or a proof, uses is). A
/// perfect range is one lookup; any other is split as RFC 6962 splits it, at most 64 lookups in
/// all. An empty range has the [`empty_root`].
pub fn subtree_root<S: NodeSource>(
    src: &S,
    start: u64,
    end: u64,
) -> Result<Digest, ProofError<S::Error>> {
    if start > end {
        return Err(ProofError::Range {
            what: "subtree range",
            start,
            end,
            expected: "start <= end",
        });
    }
    let len = end - start;
    if !is_aligned(start, len) {
        return Err(ProofError::Range {
            what: "subtree range",
            start,
            end,
            expected: "start to be a multiple of the smallest power of two >= end - start, as every node of an RFC 6962 tree is",
        });
    }
    let peaks = peak_keys(start, len)
        .map(|key| fetch(src, key))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(fold_peaks(&peaks))
}

/// The compact range of a log: the roots of the perfect subtrees of the binary decomposition of
/// its size, largest first. It is all a node needs to append leaves and compute the root.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Frontier {
    size: u64,
    peaks: Vec<Digest>,
}

impl Frontier {
    /// The frontier of the empty log.
    pub fn new() -> Self {
        Frontier::default()
    }

    /// A frontier from its parts, checking that there is one peak per set bit of `size`.
    pub fn from_parts(size: u64, peaks: Vec<Digest>) -> Result<Self, MerkleError> {
        let expected = size.count_ones() as usize;
        if peaks.len() != expected {
            return Err(MerkleError::FrontierPeaks {
                size,
                found: peaks.len(),
                expected,
            });
        }
        Ok(Frontier { size, peaks })
    }

    /// The frontier of the first `size` leaves of a log, read from its stored perfect subtrees.
    pub fn from_source<S: NodeSource>(src: &S, size: u64) -> Result<Self, ProofError<S::Error>> {
        let peaks = peak_keys(0, size)
            .map(|key| fetch(src, key))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Frontier { size, peaks })
    }

    /// The number of leaves appended.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The peaks, largest subtree first.
    pub fn peaks(&self) -> &[Digest] {
        &self.peaks
    }

    /// The RFC 6962 root of the log (the [`empty_root`] for size 0).
    pub fn root(&self) -> Digest {
        fold_peaks(&self.peaks)
    }

    /// Appends a leaf hash and returns every perfect subtree this leaf completes, the leaf itself
    /// (level 0) first and then upwards, for the caller to store.
    ///
    /// # Panics
    ///
    /// If the log already holds `u64::MAX` leaves.
    pub fn append(&mut self, leaf: Digest) -> Vec<(NodeKey, Digest)> {
        assert!(self.size < u64::MAX, "the Merkle log is full");
        let mut key = NodeKey::leaf(self.size);
        let mut node = leaf;
        let mut completed = Vec::with_capacity(self.size.trailing_ones() as usize + 1);
        completed.push((key, node));
        while key.index & 1 == 1 {
            let Some(left) = self.peaks.pop() else {
                break;
            };
            node = node_hash(&left, &node);
            key = NodeKey {
                level: key.level + 1,
                index: key.index >> 1,
            };
            completed.push((key, node));
        }
        self.peaks.push(node);
        self.size += 1;
        completed
    }
}

/// The CBOR form of a [`Frontier`], checked on decoding.
#[derive(Encode, Decode)]
#[cbor(array)]
struct FrontierCbor {
    #[n(0)]
    size: u64,
    #[n(1)]
    peaks: Vec<Digest>,
}

impl<C> Encode<C> for Frontier {
    fn encode<W: minicbor::encode::Write>(
        &self,
        e: &mut minicbor::Encoder<W>,
        _ctx: &mut C,
    ) -> Result<(), minicbor::encode::Error<W::Error>> {
        e.array(2)?.u64(self.size)?;
        e.array(self.peaks.len() as u64)?;
        for peak in &self.peaks {
            e.bytes(&peak.0)?;
        }
        Ok(())
    }
}

impl<'b, C> Decode<'b, C> for Frontier {
    fn decode(d: &mut minicbor::Decoder<'b>, ctx: &mut C) -> Result<Self, minicbor::decode::Error> {
        let raw = FrontierCbor::decode(d, ctx)?;
        Frontier::from_parts(raw.size, raw.peaks).map_err(minicbor::decode::Error::custom)
    }
}

/// A whole log held in memory, every perfect subtree of it stored by level: for tests and simple
/// callers.
#[derive(Clone, Debug, Default)]
pub struct MemoryLog {
    levels: Vec<Vec<Digest>>,
    frontier: Frontier,
}

impl MemoryLog {
    /// The empty log.
    pub fn new() -> Self {
        MemoryLog::default()
    }

    /// Appends a leaf hash (see [`leaf_hash`]).
    ///
    /// # Panics
    ///
    /// If the log already holds `u64::MAX` leaves.
    pub fn append(&mut self, entry_leaf: Digest) {
        for (key, digest) in self.frontier.append(entry_leaf) {
            let level = usize::from(key.level);
            if self.levels.len() <= level {
                self.levels.resize_with(level + 1, Vec::new);
            }
            self.levels[level].push(digest);
        }
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The current root; [`subtree_root`]`(log, 0, size)` gives the root at an earlier size.
    pub fn root(&self) -> Digest {
        self.frontier.root()
    }

    /// The frontier of the whole log.
    pub fn frontier(&self) -> &Frontier {
        &self.frontier
    }
}

impl NodeSource for MemoryLog {
    type Error = std::convert::Infallible;

    fn node(&self, key: NodeKey) -> Result<Option<Digest>, Self::Error> {
        let found = self
            .levels
            .get(usize::from(key.level))
            .and_then(|level| usize::try_from(key.index).ok().and_then(|i| level.get(i)));
        Ok(found.copied())
    }
}

/// An RFC 6962 audit path: the hashes that lead from one leaf to the root of a tree of
/// `tree_size` leaves, deepest first.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, serde::Serialize, serde::Deserialize)]
#[cbor(array)]
pub struct InclusionProof {
    /// The index of the leaf, counted from 0.
    #[n(0)]
    pub leaf_index: u64,
    /// The number of leaves of the tree the proof leads to the root of.
    #[n(1)]
    pub tree_size: u64,
    /// The sibling hashes, from the leaf's sibling up to the root's child.
    #[n(2)]
    pub path: Vec<Digest>,
}

impl InclusionProof {
    /// Checks that `leaf` (a [`leaf_hash`]) is the leaf at `leaf_index` of the tree of
    /// `tree_size` leaves whose root is `root`, with the RFC 9162 section 2.1.3.2 algorithm.
    ///
    /// The proof does not bind the size to the root: the caller must trust that `root` is the
    /// root at `tree_size`, for instance from a signed tree head.
    pub fn verify(&self, leaf: &Digest, root: &Digest) -> Result<(), MerkleError> {
        let (leaf_index, tree_size) = (self.leaf_index, self.tree_size);
        if leaf_index >= tree_size {
            return Err(MerkleError::IndexOutOfRange {
                leaf_index,
                tree_size,
            });
        }
        let expected_len = inclusion_path_len(leaf_index, tree_size);
        let wrong_length = MerkleError::InclusionPathLength {
            found: self.path.len(),
            expected: expected_len,
            leaf_index,
            tree_size,
        };
        if self.path.len() != expected_len {
            return Err(wrong_length);
        }
        let mut f_n = leaf_index;
        let mut s_n = tree_size - 1;
        let mut r = *leaf;
        for p in &self.path {
            if s_n == 0 {
                return Err(wrong_length);
            }
            if f_n & 1 == 1 || f_n == s_n {
                r = node_hash(p, &r);
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            } else {
                r = node_hash(&r, p);
            }
            f_n >>= 1;
            s_n >>= 1;
        }
        if s_n != 0 {
            return Err(wrong_length);
        }
        if r != *root {
            return Err(MerkleError::InclusionRootMismatch {
                leaf_index,
                tree_size,
                expected: *root,
                found: r,
            });
        }
        Ok(())
    }
}

/// Where an earlier leaf's inclusion path meets a later leaf's, in an RFC 6962 tree.
///
/// RFC 6962 splits every tree so that its left part is perfect. Where the ways of two leaves
/// `earlier < later` part, `earlier` goes left, into a perfect subtree whose root is one of the
/// hashes of `later`'s inclusion path. So once `later`'s proof is checked against a root,
/// `earlier` is proven in the same tree by its path within that subtree alone: `log2(size)`
/// hashes, the deepest ones of its own inclusion path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SharedSubtree {
    /// The position of the subtree's root in `later`'s inclusion path (deepest first).
    pub position: usize,
    /// The subtree's first leaf.
    pub start: u64,
    /// Its number of leaves, a power of two.
    pub size: u64,
}

impl SharedSubtree {
    /// The subtree holding `earlier` whose root `later`'s inclusion path carries, in the tree of
    /// `tree_size` leaves; `None` unless `earlier < later < tree_size`.
    pub fn find(earlier: u64, later: u64, tree_size: u64) -> Option<Self> {
        if earlier >= later || later >= tree_size {
            return None;
        }
        let (mut lo, mut hi, mut depth) = (0u64, tree_size, 0usize);
        loop {
            // Both leaves are in [lo, hi), so it has at least two leaves.
            let k = split_point(hi - lo);
            if later < lo + k {
                hi = lo + k;
            } else if earlier >= lo + k {
                lo += k;
            } else {
                return Some(SharedSubtree {
                    position: inclusion_path_len(later, tree_size) - 1 - depth,
                    start: lo,
                    size: k,
                });
            }
            depth += 1;
        }
    }

    /// The number of hashes of a leaf's path within the subtree.
    pub fn path_len(&self) -> usize {
        self.size.trailing_zeros() as usize
    }
}

impl InclusionProof {
    /// Checks that `leaf` (a [`leaf_hash`]) is the leaf at `earlier` of this proof's tree, given
    /// its `path` within the perfect subtree whose root this proof carries
    /// ([`SharedSubtree`]). It proves nothing until this proof is checked against the tree's
    /// root too.
    pub fn verify_earlier(
        &self,
        earlier: u64,
        leaf: &Digest,
        path: &[Digest],
    ) -> Result<(), MerkleError> {
        let (later, tree_size) = (self.leaf_index, self.tree_size);
        let shared =
            SharedSubtree::find(earlier, later, tree_size).ok_or(MerkleError::NotEarlier {
                earlier,
                later,
                tree_size,
            })?;
        let expected_len = inclusion_path_len(later, tree_size);
        if self.path.len() != expected_len {
            return Err(MerkleError::InclusionPathLength {
                found: self.path.len(),
                expected: expected_len,
                leaf_index: later,
                tree_size,
            });
        }
        let end = shared.start + shared.size;
        if path.len() != shared.path_len() {
            return Err(MerkleError::SubtreePathLength {
                earlier,
                start: shared.start,
                end,
                found: path.len(),
                expected: shared.path_len(),
            });
        }
        let mut index = earlier - shared.start;
        let mut found = *leaf;
        for sibling in path {
            found = if index & 1 == 1 {
                node_hash(sibling, &found)
            } else {
                node_hash(&found, sibling)
            };
            index >>= 1;
        }
        let expected = self.path[shared.position];
        if found != expected {
            return Err(MerkleError::SubtreeRootMismatch {
                earlier,
                later,
                start: shared.start,
                end,
                expected,
                found,
            });
        }
        Ok(())
    }
}

/// The path of leaf `earlier` within the perfect subtree whose root the inclusion path of leaf
/// `later` in the tree of `tree_size` leaves carries ([`SharedSubtree`]), deepest first.
pub fn earlier_path<S: NodeSource>(
    src: &S,
    earlier: u64,
    later: u64,
    tree_size: u64,
) -> Result<Vec<Digest>, ProofError<S::Error>> {
    let shared = SharedSubtree::find(earlier, later, tree_size).ok_or(ProofError::Range {
        what: "earlier leaf..later leaf",
        start: earlier,
        end: later,
        expected: "an earlier leaf before a later leaf of the tree",
    })?;
    (0..shared.path_len() as u32)
        .map(|level| {
            let start = ((earlier >> level) ^ 1) << level;
            subtree_root(src, start, start + (1 << level))
        })
        .collect()
}

/// An RFC 6962 consistency proof: the hashes that show the tree of `old_size` leaves is a prefix
/// of the tree of `new_size` leaves.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, serde::Serialize, serde::Deserialize)]
#[cbor(array)]
pub struct ConsistencyProof {
    /// The size of the earlier tree.
    #[n(0)]
    pub old_size: u64,
    /// The size of the later tree.
    #[n(1)]
    pub new_size: u64,
    /// The RFC 6962 `PROOF(old_size, D[new_size])` hashes.
    #[n(2)]
    pub path: Vec<Digest>,
}

impl ConsistencyProof {
    /// Checks that the tree of `old_size` leaves with root `old_root` is a prefix of the tree of
    /// `new_size` leaves with root `new_root`, with the RFC 9162 section 2.1.4.2 algorithm.
    ///
    /// Equal sizes need an empty path and equal roots; an old size of 0 needs an empty path and
    /// `old_root` equal to the [`empty_root`].
    pub fn verify(&self, old_root: &Digest, new_root: &Digest) -> Result<(), MerkleError> {
        let (old_size, new_size) = (self.old_size, self.new_size);
        if old_size > new_size {
            return Err(MerkleError::SizesDecrease { old_size, new_size });
        }
        let expected_len = consistency_path_len(old_size, new_size);
        let wrong_length = MerkleError::ConsistencyPathLength {
            found: self.path.len(),
            expected: expected_len,
            old_size,
            new_size,
        };
        if self.path.len() != expected_len {
            return Err(wrong_length);
        }
        if old_size == 0 {
            let empty = empty_root();
            if *old_root != empty {
                return Err(MerkleError::OldRootMismatch {
                    old_size,
                    new_size,
                    expected: *old_root,
                    found: empty,
                });
            }
            return Ok(());
        }
        if old_size == new_size {
            if old_root != new_root {
                return Err(MerkleError::NewRootMismatch {
                    old_size,
                    new_size,
                    expected: *new_root,
                    found: *old_root,
                });
            }
            return Ok(());
        }

        // RFC 9162 section 2.1.4.2, with 0 < old_size < new_size and a non-empty path.
        let (seed, rest) = if old_size.is_power_of_two() {
            (*old_root, self.path.as_slice())
        } else {
            match self.path.split_first() {
                Some((first, rest)) => (*first, rest),
                None => return Err(wrong_length),
            }
        };
        let mut f_n = old_size - 1;
        let mut s_n = new_size - 1;
        while f_n & 1 == 1 {
            f_n >>= 1;
            s_n >>= 1;
        }
        let mut f_r = seed;
        let mut s_r = seed;
        for c in rest {
            if s_n == 0 {
                return Err(wrong_length);
            }
            if f_n & 1 == 1 || f_n == s_n {
                f_r = node_hash(c, &f_r);
                s_r = node_hash(c, &s_r);
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            } else {
                s_r = node_hash(&s_r, c);
            }
            f_n >>= 1;
            s_n >>= 1;
        }
        if s_n != 0 {
            return Err(wrong_length);
        }
        if f_r != *old_root {
            return Err(MerkleError::OldRootMismatch {
                old_size,
                new_size,
                expected: *old_root,
                found: f_r,
            });
        }
        if s_r != *new_root {
            return Err(MerkleError::NewRootMismatch {
                old_size,
                new_size,
                expected: *new_root,
                found: s_r,
            });
        }
        Ok(())
    }
}

/// The RFC 6962 audit path `PATH(leaf_index, D[tree_size])`, from stored perfect subtrees.
///
/// It takes O(log² n) lookups (each sibling is one [`subtree_root`]), never O(n). `tree_size`
/// may be any size the store has reached, so proofs against earlier roots work too.
pub fn inclusion_proof<S: NodeSource>(
    src: &S,
    leaf_index: u64,
    tree_size: u64,
) -> Result<InclusionProof, ProofError<S::Error>> {
    if leaf_index >= tree_size {
        return Err(ProofError::Range {
            what: "leaf index..tree size",
            start: leaf_index,
            end: tree_size,
            expected: "a leaf index below the tree size",
        });
    }
    let (mut lo, mut hi) = (0u64, tree_size);
    let mut path = Vec::with_capacity(inclusion_path_len(leaf_index, tree_size));
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if leaf_index < lo + k {
            path.push(subtree_root(src, lo + k, hi)?);
            hi = lo + k;
        } else {
            path.push(subtree_root(src, lo, lo + k)?);
            lo += k;
        }
    }
    path.reverse();
    Ok(InclusionProof {
        leaf_index,
        tree_size,
        path,
    })
}

/// The RFC 6962 consistency proof `PROOF(old_size, D[new_size])` (built with `SUBPROOF`), from
/// stored perfect subtrees, in O(log² n) lookups. Equal sizes and an old size of 0 have an empty
/// proof.
pub fn consistency_proof<S: NodeSource>(
    src: &S,
    old_size: u64,
    new_size: u64,
) -> Result<ConsistencyProof, ProofError<S::Error>> {
    if old_size > new_size {
        return Err(ProofError::Range {
            what: "old size..new size",
            start: old_size,
            end: new_size,
            expected: "an old size at most the new size",
        });
    }
    let mut path = Vec::with_capacity(consistency_path_len(old_size, new_size));
    if old_size > 0 && old_size < new_size {
        // SUBPROOF(m, D[lo:hi], b), unrolled: each step records the sibling it passes, and the
        // recursion ends on the subtree that equals the old tree's part.
        let (mut lo, mut hi, mut m, mut whole_old_tree) = (0u64, new_size, old_size, true);
        loop {
            let n = hi - lo;
            if m == n {
                if !whole_old_tree {
                    path.push(subtree_root(src, lo, hi)?);
                }
                break;
            }
            let k = split_point(n);
            if m <= k {
                path.push(subtree_root(src, lo + k, hi)?);
                hi = lo + k;
            } else {
                path.push(subtree_root(src, lo, lo + k)?);
                lo += k;
                m -= k;
                whole_old_tree = false;
            }
        }
        path.reverse();
    }
    Ok(ConsistencyProof {
        old_size,
        new_size,
        path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::sync::OnceLock;

    use proptest::prelude::*;

    /// The reference: RFC 6962 MTH, written straight from the definition.
    fn naive_root(leaves: &[Digest]) -> Digest {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let mut k = 1;
                while k * 2 < n {
                    k *= 2;
                }
                node_hash(&naive_root(&leaves[..k]), &naive_root(&leaves[k..]))
            }
        }
    }

    fn leaves(n: u64) -> Vec<Digest> {
        (0..n).map(|i| leaf_hash(&i.to_le_bytes())).collect()
    }

    fn log_of(leaves: &[Digest]) -> MemoryLog {
        let mut log = MemoryLog::new();
        for leaf in leaves {
            log.append(*leaf);
        }
        log
    }

    fn flip(d: &Digest, byte: usize) -> Digest {
        let mut out = *d;
        out.0[byte % 32] ^= 0x01;
        out
    }

    const MAX: u64 = 70;

    fn small() -> &'static (Vec<Digest>, MemoryLog, Vec<Digest>) {
        static SMALL: OnceLock<(Vec<Digest>, MemoryLog, Vec<Digest>)> = OnceLock::new();
        SMALL.get_or_init(|| {
            let all = leaves(MAX);
            let log = log_of(&all);
            let roots = (0..=MAX as usize).map(|n| naive_root(&all[..n])).collect();
            (all, log, roots)
        })
    }

    #[test]
    fn roots_agree_for_every_size() {
        let (all, log, roots) = small();
        let mut frontier = Frontier::new();
        let mut mem = MemoryLog::new();
        for n in 0..=MAX {
            let naive = naive_root(&all[..n as usize]);
            assert_eq!(naive, roots[n as usize]);
            assert_eq!(frontier.size(), n);
            assert_eq!(frontier.root(), naive, "frontier, size {n}");
            assert_eq!(mem.size(), n);
            assert_eq!(mem.root(), naive, "memory log, size {n}");
            assert_eq!(
                subtree_root(log, 0, n).ok(),
                Some(naive),
                "stored, size {n}"
            );
            assert_eq!(Frontier::from_source(log, n).ok().as_ref(), Some(&frontier));
            assert_eq!(frontier.peaks().len(), n.count_ones() as usize);
            if n < MAX {
                let leaf = all[n as usize];
                let completed = frontier.append(leaf);
                assert_eq!(completed[0], (NodeKey::leaf(n), leaf));
                assert_eq!(completed.len(), n.trailing_ones() as usize + 1);
                for (key, digest) in completed {
                    let start = (key.index << key.level) as usize;
                    let end = ((key.index + 1) << key.level) as usize;
                    assert_eq!(end, n as usize + 1);
                    assert_eq!(digest, naive_root(&all[start..end]), "node {key}");
                }
                mem.append(leaf);
            }
        }
    }

    #[test]
    fn empty_and_single() {
        assert_eq!(Frontier::new().root(), empty_root());
        assert_eq!(MemoryLog::new().root(), empty_root());
        let leaf = leaf_hash(b"only");
        let mut f = Frontier::new();
        f.append(leaf);
        assert_eq!(f.root(), leaf);
        assert_ne!(leaf_hash(b""), empty_root());
    }

    #[test]
    fn frozen_three_leaf_root() {
        // Frozen: the root of the log over b"a", b"b", b"c". It changes only if the hash, the
        // domains or the tree shape change, and each of those is a protocol change.
        let entries: Vec<Digest> = [b"a", b"b", b"c"].iter().map(|e| leaf_hash(*e)).collect();
        let expected = "97186a8faef4a781238fc8cfdb9c7ca4f56fa62ffafe655375f1148359467a58";
        assert_eq!(naive_root(&entries).to_hex(), expected);
        assert_eq!(log_of(&entries).root().to_hex(), expected);
        let shape = node_hash(&node_hash(&entries[0], &entries[1]), &entries[2]);
        assert_eq!(shape.to_hex(), expected);
    }

    #[test]
    fn subtree_root_checks_ranges() {
        let (all, log, _) = small();
        assert_eq!(subtree_root(log, 8, 13).ok(), Some(naive_root(&all[8..13])));
        assert_eq!(
            subtree_root(log, 64, 70).ok(),
            Some(naive_root(&all[64..70]))
        );
        assert_eq!(subtree_root(log, 5, 5).ok(), Some(empty_root()));
        assert!(matches!(
            subtree_root(log, 5, 3),
            Err(ProofError::Range {
                start: 5,
                end: 3,
                ..
            })
        ));
        assert!(matches!(
            subtree_root(log, 1, 3),
            Err(ProofError::Range {
                start: 1,
                end: 3,
                ..
            })
        ));
        assert!(matches!(
            subtree_root(log, 4, 9),
            Err(ProofError::Range { .. })
        ));
        match subtree_root(log, 0, 72) {
            Err(ProofError::Missing(key)) => assert_eq!(key, NodeKey { level: 3, index: 8 }),
            other => panic!("expected a missing node, got {other:?}"),
        }
        let err = subtree_root(log, 0, 128).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "log store has no node at level 7 index 0 (leaves 0..128), expected every perfect subtree of the log to be stored"
            )
        );
    }

    #[test]
    fn inclusion_every_index_every_size() {
        let (all, log, roots) = small();
        for n in 1..=MAX {
            let root = roots[n as usize];
            for i in 0..n {
                let leaf = all[i as usize];
                let proof = inclusion_proof(log, i, n).expect("proof");
                assert_eq!(proof.path.len(), inclusion_path_len(i, n));
                assert_eq!(proof.verify(&leaf, &root), Ok(()), "leaf {i} of {n}");

                for (j, element) in proof.path.iter().enumerate() {
                    for byte in [0, 17, 31] {
                        let mut bad = proof.clone();
                        bad.path[j] = flip(element, byte);
                        assert!(bad.verify(&leaf, &root).is_err());
                    }
                }
                assert!(proof.verify(&flip(&leaf, 3), &root).is_err());
                assert!(proof.verify(&leaf, &flip(&root, 30)).is_err());

                let mut longer = proof.clone();
                longer.path.push(leaf);
                assert!(matches!(
                    longer.verify(&leaf, &root),
                    Err(MerkleError::InclusionPathLength { .. })
                ));
                if !proof.path.is_empty() {
                    let mut shorter = proof.clone();
                    shorter.path.pop();
                    assert!(matches!(
                        shorter.verify(&leaf, &root),
                        Err(MerkleError::InclusionPathLength { .. })
                    ));
                }

                for j in (0..n + 2).filter(|&j| j != i) {
                    let mut bad = proof.clone();
                    bad.leaf_index = j;
                    assert!(
                        bad.verify(&leaf, &root).is_err(),
                        "index {j} for {i} of {n}"
                    );
                }
                // Another size, against the true root at that size.
                for m in (0..=MAX).filter(|&m| m != n) {
                    let mut bad = proof.clone();
                    bad.tree_size = m;
                    let other_root = roots[m as usize];
                    assert!(
                        bad.verify(&leaf, &other_root).is_err(),
                        "size {m} for {i} of {n}"
                    );
                }
            }
        }
    }

    #[test]
    fn an_earlier_leaf_is_proven_within_a_subtree_the_later_path_carries() {
        let (all, log, roots) = small();
        for n in 2..=MAX {
            for later in 1..n {
                let proof = inclusion_proof(log, later, n).expect("proof");
                proof
                    .verify(&all[later as usize], &roots[n as usize])
                    .expect("the later leaf's proof");
                for earlier in 0..later {
                    let shared = SharedSubtree::find(earlier, later, n).expect("earlier");
                    let end = shared.start + shared.size;
                    assert!(shared.size.is_power_of_two());
                    assert!((shared.start..end).contains(&earlier));
                    assert!(!(shared.start..end).contains(&later));
                    assert_eq!(
                        proof.path[shared.position],
                        subtree_root(log, shared.start, end).expect("root"),
                        "{earlier} before {later} of {n}"
                    );
                    let path = earlier_path(log, earlier, later, n).expect("path");
                    let own = inclusion_proof(log, earlier, n).expect("proof");
                    assert_eq!(path, own.path[..shared.path_len()]);
                    let leaf = all[earlier as usize];
                    assert_eq!(proof.verify_earlier(earlier, &leaf, &path), Ok(()));

                    assert!(matches!(
                        proof.verify_earlier(earlier, &flip(&leaf, 9), &path),
                        Err(MerkleError::SubtreeRootMismatch { .. })
                    ));
                    for other in (0..later).filter(|&other| other != earlier) {
                        assert!(
                            proof.verify_earlier(other, &leaf, &path).is_err(),
                            "leaf {earlier} passed as {other}, before {later} of {n}"
                        );
                    }
                    if n <= 20 {
                        for j in 0..path.len() {
                            let mut bad = path.clone();
                            bad[j] = flip(&bad[j], 4);
                            assert!(proof.verify_earlier(earlier, &leaf, &bad).is_err());
                        }
                        for j in 0..proof.path.len() {
                            let mut bad = proof.clone();
                            bad.path[j] = flip(&bad.path[j], 4);
                            assert_eq!(
                                bad.verify_earlier(earlier, &leaf, &path).is_err(),
                                j == shared.position,
                                "hash {j} of {later}'s path, {earlier} of {n}"
                            );
                        }
                    }
                    let mut longer = path.clone();
                    longer.push(leaf);
                    assert!(matches!(
                        proof.verify_earlier(earlier, &leaf, &longer),
                        Err(MerkleError::SubtreePathLength { .. })
                    ));
                }
                for not_earlier in [later, later + 1] {
                    assert_eq!(SharedSubtree::find(not_earlier, later, n), None);
                    assert!(matches!(
                        proof.verify_earlier(not_earlier, &all[0], &[]),
                        Err(MerkleError::NotEarlier { .. })
                    ));
                }
            }
        }
        let proof = inclusion_proof(log, 5, 6).expect("proof");
        assert_eq!(
            proof
                .verify_earlier(1, &all[1], &[])
                .expect_err("too short")
                .to_string(),
            "path of leaf 1 within the subtree of leaves 0..4 has 0 hashes, expected 2"
        );
        let mut short = proof.clone();
        short.path.pop();
        assert!(matches!(
            short.verify_earlier(1, &all[1], &[]),
            Err(MerkleError::InclusionPathLength { .. })
        ));
    }

    #[test]
    fn inclusion_rejections_and_messages() {
        let (all, log, roots) = small();
        assert!(matches!(
            inclusion_proof(log, 5, 5),
            Err(ProofError::Range {
                start: 5,
                end: 5,
                ..
            })
        ));
        assert!(matches!(
            inclusion_proof(log, 0, 0),
            Err(ProofError::Range { .. })
        ));
        assert!(matches!(
            inclusion_proof(log, 3, 71),
            Err(ProofError::Missing(_))
        ));

        let proof = InclusionProof {
            leaf_index: 3,
            tree_size: 9,
            path: vec![all[0]; 5],
        };
        let err = proof
            .verify(&all[3], &roots[9])
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("inclusion proof path has 5 hashes, expected 4 for leaf 3 of 9")
        );
        let out_of_range = InclusionProof {
            leaf_index: 9,
            tree_size: 9,
            path: vec![],
        };
        assert_eq!(
            out_of_range.verify(&all[3], &roots[9]),
            Err(MerkleError::IndexOutOfRange {
                leaf_index: 9,
                tree_size: 9
            })
        );
        let good = inclusion_proof(log, 3, 9).expect("proof");
        let wrong_root = roots[8];
        assert_eq!(
            good.verify(&all[3], &wrong_root),
            Err(MerkleError::InclusionRootMismatch {
                leaf_index: 3,
                tree_size: 9,
                expected: wrong_root,
                found: roots[9],
            })
        );
    }

    #[test]
    fn consistency_every_pair() {
        let (_, log, roots) = small();
        for new in 0..=MAX {
            for old in 0..=new {
                let (old_root, new_root) = (roots[old as usize], roots[new as usize]);
                let proof = consistency_proof(log, old, new).expect("proof");
                assert_eq!(proof.path.len(), consistency_path_len(old, new));
                assert_eq!(proof.verify(&old_root, &new_root), Ok(()), "{old} -> {new}");

                for (j, element) in proof.path.iter().enumerate() {
                    for byte in [0, 13, 31] {
                        let mut bad = proof.clone();
                        bad.path[j] = flip(element, byte);
                        assert!(bad.verify(&old_root, &new_root).is_err(), "{old} -> {new}");
                    }
                }
                assert!(proof.verify(&flip(&old_root, 1), &new_root).is_err());
                if old > 0 {
                    // Every tree extends the empty one: from size 0 the new root is not checked.
                    assert!(proof.verify(&old_root, &flip(&new_root, 2)).is_err());
                }

                let mut longer = proof.clone();
                longer.path.push(old_root);
                assert!(matches!(
                    longer.verify(&old_root, &new_root),
                    Err(MerkleError::ConsistencyPathLength { .. })
                ));
                if !proof.path.is_empty() {
                    let mut shorter = proof.clone();
                    shorter.path.pop();
                    assert!(matches!(
                        shorter.verify(&old_root, &new_root),
                        Err(MerkleError::ConsistencyPathLength { .. })
                    ));
                    let mut swapped = proof.clone();
                    swapped.path.reverse();
                    if swapped != proof {
                        assert!(swapped.verify(&old_root, &new_root).is_err());
                    }
                }

                // Other sizes, checked against the true roots at those sizes.
                for (o, m) in [
                    (old.wrapping_sub(1), new),
                    (old + 1, new),
                    (old, new + 1),
                    (old, new.wrapping_sub(1)),
                ] {
                    if o > MAX || m > MAX || (o, m) == (old, new) {
                        continue;
                    }
                    let mut bad = proof.clone();
                    bad.old_size = o;
                    bad.new_size = m;
                    let (ro, rm) = (roots[o as usize], roots[m as usize]);
                    let genuine = consistency_proof(log, o, m);
                    if genuine.is_ok_and(|g| g.path == bad.path) {
                        // The same hashes prove these sizes too (an empty proof from 0 or
                        // between equal sizes): not a forgery.
                        continue;
                    }
                    assert!(
                        bad.verify(&ro, &rm).is_err(),
                        "{o} -> {m} with proof {old} -> {new}"
                    );
                }
            }
        }
    }

    #[test]
    fn consistency_rejections_and_messages() {
        let (_, log, roots) = small();
        assert!(matches!(
            consistency_proof(log, 6, 5),
            Err(ProofError::Range {
                start: 6,
                end: 5,
                ..
            })
        ));
        assert!(matches!(
            consistency_proof(log, 3, 80),
            Err(ProofError::Missing(_))
        ));

        let decreasing = ConsistencyProof {
            old_size: 6,
            new_size: 5,
            path: vec![],
        };
        assert_eq!(
            decreasing.verify(&roots[6], &roots[5]),
            Err(MerkleError::SizesDecrease {
                old_size: 6,
                new_size: 5
            })
        );
        let from_empty = ConsistencyProof {
            old_size: 0,
            new_size: 5,
            path: vec![roots[5]],
        };
        assert_eq!(
            from_empty.verify(&empty_root(), &roots[5]),
            Err(MerkleError::ConsistencyPathLength {
                found: 1,
                expected: 0,
                old_size: 0,
                new_size: 5
            })
        );
        let equal = ConsistencyProof {
            old_size: 5,
            new_size: 5,
            path: vec![roots[5]],
        };
        assert!(matches!(
            equal.verify(&roots[5], &roots[5]),
            Err(MerkleError::ConsistencyPathLength { expected: 0, .. })
        ));
        let equal_empty = ConsistencyProof {
            old_size: 5,
            new_size: 5,
            path: vec![],
        };
        assert_eq!(equal_empty.verify(&roots[5], &roots[5]), Ok(()));
        assert!(equal_empty.verify(&roots[5], &roots[6]).is_err());
        let from_empty_ok = ConsistencyProof {
            old_size: 0,
            new_size: 5,
            path: vec![],
        };
        assert_eq!(from_empty_ok.verify(&empty_root(), &roots[5]), Ok(()));
        assert!(from_empty_ok.verify(&roots[1], &roots[5]).is_err());

        let message = decreasing
            .verify(&roots[6], &roots[5])
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            message.as_deref(),
            Some(
                "consistency proof goes from 6 leaves to 5, expected the old size to be at most the new size"
            )
        );
        let proof = consistency_proof(log, 3, 7).expect("proof");
        assert!(matches!(
            proof.verify(&roots[4], &roots[7]),
            Err(MerkleError::OldRootMismatch {
                old_size: 3,
                new_size: 7,
                ..
            })
        ));
        assert!(matches!(
            proof.verify(&roots[3], &roots[8]),
            Err(MerkleError::NewRootMismatch {
                old_size: 3,
                new_size: 7,
                ..
            })
        ));
    }

    #[test]
    fn frontier_parts_and_cbor() {
        let (all, _, _) = small();
        let mut frontier = Frontier::new();
        for leaf in &all[..13] {
            frontier.append(*leaf);
        }
        let bytes = minicbor::to_vec(&frontier).expect("encode");
        let back: Frontier = minicbor::decode(&bytes).expect("decode");
        assert_eq!(back, frontier);
        assert_eq!(back.root(), frontier.root());

        let rebuilt = Frontier::from_parts(13, frontier.peaks().to_vec());
        assert_eq!(rebuilt.as_ref(), Ok(&frontier));
        assert_eq!(
            Frontier::from_parts(12, frontier.peaks().to_vec()),
            Err(MerkleError::FrontierPeaks {
                size: 12,
                found: 3,
                expected: 2
            })
        );
        let forged = minicbor::to_vec(FrontierCbor {
            size: 12,
            peaks: frontier.peaks().to_vec(),
        })
        .expect("encode");
        assert!(minicbor::decode::<Frontier>(&forged).is_err());

        let empty = minicbor::to_vec(Frontier::new()).expect("encode");
        assert_eq!(
            minicbor::decode::<Frontier>(&empty).ok(),
            Some(Frontier::new())
        );
    }

    #[test]
    fn proofs_round_trip_cbor_and_json() {
        let (_, log, _) = small();
        let inclusion = inclusion_proof(log, 11, 37).expect("proof");
        let bytes = minicbor::to_vec(&inclusion).expect("encode");
        assert_eq!(
            minicbor::decode::<InclusionProof>(&bytes).ok().as_ref(),
            Some(&inclusion)
        );
        let json = serde_json::to_string(&inclusion).expect("json");
        assert!(json.contains(&inclusion.path[0].to_hex()));
        assert_eq!(
            serde_json::from_str::<InclusionProof>(&json).ok().as_ref(),
            Some(&inclusion)
        );

        let consistency = consistency_proof(log, 11, 37).expect("proof");
        let bytes = minicbor::to_vec(&consistency).expect("encode");
        assert_eq!(
            minicbor::decode::<ConsistencyProof>(&bytes).ok().as_ref(),
            Some(&consistency)
        );
        let json = serde_json::to_string(&consistency).expect("json");
        assert_eq!(
            serde_json::from_str::<ConsistencyProof>(&json)
                .ok()
                .as_ref(),
            Some(&consistency)
        );

        assert_eq!(
            NodeKey {
                level: 200,
                index: 1
            }
            .to_string(),
            "level 200 index 1"
        );
        let key = NodeKey { level: 3, index: 9 };
        assert_eq!(key.to_string(), "level 3 index 9 (leaves 72..80)");
        let bytes = minicbor::to_vec(key).expect("encode");
        assert_eq!(minicbor::decode::<NodeKey>(&bytes).ok(), Some(key));
    }

    /// Counts lookups, to show proofs are built from O(log² n) nodes.
    struct Counting<'a> {
        inner: &'a MemoryLog,
        lookups: Cell<u64>,
    }

    impl NodeSource for Counting<'_> {
        type Error = std::convert::Infallible;

        fn node(&self, key: NodeKey) -> Result<Option<Digest>, Self::Error> {
            self.lookups.set(self.lookups.get() + 1);
            self.inner.node(key)
        }
    }

    #[test]
    fn proofs_touch_few_nodes() {
        const N: u64 = 100_000;
        let all = leaves(N);
        let log = log_of(&all);
        assert_eq!(log.root(), naive_root(&all));
        let counting = Counting {
            inner: &log,
            lookups: Cell::new(0),
        };
        let limit = 64 * 64;
        let mut most = 0;
        for size in [N, N - 1, 77_777, 65_536, 65_537, 4_097] {
            let root = subtree_root(&log, 0, size).expect("root");
            for index in [0, 1, size / 3, size / 2, 65_535, 65_536, size - 2, size - 1] {
                if index >= size {
                    continue;
                }
                counting.lookups.set(0);
                let proof = inclusion_proof(&counting, index, size).expect("proof");
                most = most.max(counting.lookups.get());
                assert!(counting.lookups.get() <= limit);
                assert_eq!(proof.verify(&all[index as usize], &root), Ok(()));
            }
            for old in [1, 2, 3, size / 3, 65_535, 65_536, size - 1, size] {
                if old > size {
                    continue;
                }
                counting.lookups.set(0);
                let proof = consistency_proof(&counting, old, size).expect("proof");
                most = most.max(counting.lookups.get());
                assert!(counting.lookups.get() <= limit);
                let old_root = subtree_root(&log, 0, old).expect("root");
                assert_eq!(proof.verify(&old_root, &root), Ok(()));
            }
        }
        // log2(100_000) is about 17: the bound is far below the 64 * 64 allowed.
        assert!(most <= 17 * 17, "most lookups for one proof: {most}");
    }

    #[test]
    fn path_lengths_match_the_rfc_definitions() {
        // PATH and PROOF lengths straight from the recursive definitions.
        fn path_len(m: u64, n: u64) -> usize {
            if n <= 1 {
                return 0;
            }
            let k = split_point(n);
            1 + if m < k {
                path_len(m, k)
            } else {
                path_len(m - k, n - k)
            }
        }
        fn subproof_len(m: u64, n: u64, b: bool) -> usize {
            if m == n {
                return usize::from(!b);
            }
            let k = split_point(n);
            1 + if m <= k {
                subproof_len(m, k, b)
            } else {
                subproof_len(m - k, n - k, false)
            }
        }
        for n in 1..=300 {
            for m in 0..n {
                assert_eq!(inclusion_path_len(m, n), path_len(m, n), "PATH({m}, {n})");
                if m > 0 {
                    assert_eq!(consistency_path_len(m, n), subproof_len(m, n, true));
                }
            }
        }
        // Near the top of the u64 range too, where the shifts are at their widest.
        let huge = [
            (0, u64::MAX),
            (u64::MAX - 1, u64::MAX),
            (1 << 63, u64::MAX),
            ((1 << 63) - 1, 1 << 63),
            (12_345, (1 << 63) + 12_345),
            (u64::MAX / 3, u64::MAX - 7),
        ];
        for (m, n) in huge {
            assert_eq!(inclusion_path_len(m, n), path_len(m, n), "PATH({m}, {n})");
            if m > 0 {
                assert_eq!(consistency_path_len(m, n), subproof_len(m, n, true));
            }
        }
        assert_eq!(inclusion_path_len(0, u64::MAX), 64);
        assert_eq!(inclusion_path_len(u64::MAX - 1, u64::MAX), 63);
    }

    const PROP_MAX: u64 = 5_000;

    fn big() -> &'static (Vec<Digest>, MemoryLog) {
        static BIG: OnceLock<(Vec<Digest>, MemoryLog)> = OnceLock::new();
        BIG.get_or_init(|| {
            let all = leaves(PROP_MAX);
            let log = log_of(&all);
            (all, log)
        })
    }

    fn size_and_index() -> impl Strategy<Value = (u64, u64)> {
        (1..=PROP_MAX).prop_flat_map(|n| (Just(n), 0..n))
    }

    fn old_and_new() -> impl Strategy<Value = (u64, u64)> {
        (0..=PROP_MAX).prop_flat_map(|n| (0..=n, Just(n)))
    }

    /// Two leaves `earlier < later` of a tree of any size up to `u64::MAX` leaves.
    fn two_leaves_of_any_tree() -> impl Strategy<Value = (u64, u64, u64)> {
        (3..=u64::MAX)
            .prop_flat_map(|n| (Just(n), 1..n))
            .prop_flat_map(|(n, later)| (0..later, Just(later), Just(n)))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// The shared subtree of two leaves of trees of any size, against its definition: the
        /// left half of the node where their paths part, whose right part holds `later`, and
        /// whose root is the hash of `later`'s path above its path within that right part.
        #[test]
        fn prop_shared_subtree_of_any_tree((earlier, later, n) in two_leaves_of_any_tree()) {
            let shared = SharedSubtree::find(earlier, later, n).expect("earlier");
            let (start, size) = (shared.start, shared.size);
            prop_assert!(size.is_power_of_two());
            prop_assert_eq!(start % size, 0);
            prop_assert!(start <= earlier && earlier - start < size);
            let right = start + size;
            let end = if n - start > 2 * (size - 1) + 1 { start + 2 * size } else { n };
            prop_assert!(right <= later && later < end);
            prop_assert_eq!(shared.path_len(), size.trailing_zeros() as usize);
            prop_assert_eq!(
                shared.position,
                inclusion_path_len(later - right, end - right)
            );
            prop_assert!(shared.position < inclusion_path_len(later, n));
            prop_assert_eq!(SharedSubtree::find(later, earlier, n), None);
            prop_assert_eq!(SharedSubtree::find(earlier, later, later), None);
        }

        #[test]
        fn prop_roots_agree(n in 0..=PROP_MAX) {
            let (all, log) = big();
            let naive = naive_root(&all[..n as usize]);
            let mut frontier = Frontier::new();
            for leaf in &all[..n as usize] {
                frontier.append(*leaf);
            }
            prop_assert_eq!(frontier.root(), naive);
            prop_assert_eq!(subtree_root(log, 0, n).ok(), Some(naive));
            prop_assert_eq!(Frontier::from_source(log, n).ok(), Some(frontier));
        }

        #[test]
        fn prop_inclusion(
            (n, i) in size_and_index(),
            pick in any::<usize>(),
            byte in 0usize..32,
            other in any::<u64>(),
        ) {
            let (all, log) = big();
            let root = naive_root(&all[..n as usize]);
            let leaf = all[i as usize];
            let proof = inclusion_proof(log, i, n).expect("proof");
            prop_assert_eq!(proof.verify(&leaf, &root), Ok(()));
            if !proof.path.is_empty() {
                let mut bad = proof.clone();
                let j = pick % bad.path.len();
                bad.path[j] = flip(&bad.path[j], byte);
                prop_assert!(bad.verify(&leaf, &root).is_err());
            }
            prop_assert!(proof.verify(&flip(&leaf, byte), &root).is_err());
            prop_assert!(proof.verify(&leaf, &flip(&root, byte)).is_err());
            let j = other % (n + 1);
            if j != i {
                let mut bad = proof.clone();
                bad.leaf_index = j;
                prop_assert!(bad.verify(&leaf, &root).is_err());
            }
            let m = 1 + other % PROP_MAX;
            if m != n {
                let mut bad = proof.clone();
                bad.tree_size = m;
                let other_root = naive_root(&all[..m as usize]);
                prop_assert!(bad.verify(&leaf, &other_root).is_err());
            }
        }

        #[test]
        fn prop_consistency(
            (old, new) in old_and_new(),
            pick in any::<usize>(),
            byte in 0usize..32,
        ) {
            let (all, log) = big();
            let old_root = naive_root(&all[..old as usize]);
            let new_root = naive_root(&all[..new as usize]);
            let proof = consistency_proof(log, old, new).expect("proof");
            prop_assert_eq!(proof.verify(&old_root, &new_root), Ok(()));
            if !proof.path.is_empty() {
                let mut bad = proof.clone();
                let j = pick % bad.path.len();
                bad.path[j] = flip(&bad.path[j], byte);
                prop_assert!(bad.verify(&old_root, &new_root).is_err());
                let mut shorter = proof.clone();
                shorter.path.pop();
                prop_assert!(shorter.verify(&old_root, &new_root).is_err());
            }
            prop_assert!(proof.verify(&flip(&old_root, byte), &new_root).is_err());
            if old > 0 {
                prop_assert!(proof.verify(&old_root, &flip(&new_root, byte)).is_err());
            }
            let mut longer = proof.clone();
            longer.path.push(new_root);
            prop_assert!(longer.verify(&old_root, &new_root).is_err());
        }
    }
}
