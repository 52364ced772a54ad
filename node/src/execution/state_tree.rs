//! The state tree as a node keeps it: its nodes stored by position (depth and path prefix), the
//! latest version only, updated once per block from the block's writes, and proofs served from
//! it. Pure: reads go through [`TreeNodes`], and an update returns the node writes for the store
//! to apply in the block's write transaction. The hashing and the proof format are the sdk's
//! (`caravan_sdk::state_tree`).
//!
//! A position holds a node only where the tree has one: an inner node (both children's hashes)
//! or a leaf (key hash and value hash). Empty subtrees hold nothing. When a leaf moves up
//! (its sibling subtree emptied) or down (a new key shares its prefix), the positions it leaves
//! are deleted or overwritten, so the stored nodes are always exactly those of the current tree.

use std::collections::BTreeMap;

use minicbor::{Decode, Encode};

use caravan_sdk::codec;
use caravan_sdk::hash::Digest;
use caravan_sdk::state_tree::{
    MAX_DEPTH, StateProof, bit, empty_hash, key_hash, leaf_hash, node_hash, value_hash,
};

/// A position in the tree: a depth (0 for the root, at most 256) and the first `depth` bits of
/// the path, the other bits zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodePos {
    /// How many bits of the path lead here.
    pub depth: u16,
    /// The path's bits, those past `depth` zero.
    pub path: Digest,
}

impl NodePos {
    /// The root's position.
    pub const ROOT: NodePos = NodePos {
        depth: 0,
        path: Digest::ZERO,
    };

    /// The child on the side of `right`.
    fn child(&self, right: bool) -> NodePos {
        let mut path = self.path;
        let depth = self.depth as usize;
        if right {
            path.0[depth / 8] |= 0x80 >> (depth % 8);
        }
        NodePos {
            depth: self.depth + 1,
            path,
        }
    }

    /// The storage key: the depth in two bytes big-endian, then the 32 path bytes.
    pub fn to_key(&self) -> [u8; 34] {
        let mut out = [0u8; 34];
        out[..2].copy_from_slice(&self.depth.to_be_bytes());
        out[2..].copy_from_slice(self.path.as_bytes());
        out
    }
}

/// A stored node, canonical CBOR.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum StoredNode {
    /// An inner node: the hashes of its children.
    #[n(0)]
    Inner {
        /// The child whose next path bit is 0.
        #[n(0)]
        left: Digest,
        /// The child whose next path bit is 1.
        #[n(1)]
        right: Digest,
    },
    /// A leaf: the only entry of its subtree.
    #[n(1)]
    Leaf {
        /// `H_StateKey(key)`.
        #[n(0)]
        key_hash: Digest,
        /// `H_StateValue(value)`.
        #[n(1)]
        value_hash: Digest,
    },
}

impl StoredNode {
    /// The node's hash.
    pub fn hash(&self) -> Digest {
        match self {
            StoredNode::Inner { left, right } => node_hash(left, right),
            StoredNode::Leaf {
                key_hash,
                value_hash,
            } => leaf_hash(key_hash, value_hash),
        }
    }

    /// Canonical bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }
}

/// A node write: the node now at a position, or `None` to delete what was there.
pub type NodeWrite = (NodePos, Option<StoredNode>);

/// Read access to the stored tree at the committed tip.
pub trait TreeNodes {
    /// Storage failure.
    type Error: std::fmt::Display;
    /// The node stored at `pos`, as canonical CBOR bytes.
    fn tree_node(&self, pos: &NodePos) -> Result<Option<Vec<u8>>, Self::Error>;
}

/// Why the tree could not be read or updated: storage failed, or the stored tree is damaged.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    /// The store failed.
    #[error("state tree unavailable: {0}")]
    Storage(String),
    /// A stored node is missing, undecodable or does not hash as its parent says.
    #[error("state tree is corrupt at depth {depth}, path {path}: {detail}")]
    Corrupt {
        /// Depth of the position.
        depth: u16,
        /// Path of the position.
        path: Digest,
        /// What is wrong.
        detail: String,
    },
}

fn corrupt(pos: &NodePos, detail: impl Into<String>) -> TreeError {
    TreeError::Corrupt {
        depth: pos.depth,
        path: pos.path,
        detail: detail.into(),
    }
}

/// Reads the node at `pos`, if any.
fn read<R: TreeNodes>(reader: &R, pos: &NodePos) -> Result<Option<StoredNode>, TreeError> {
    match reader
        .tree_node(pos)
        .map_err(|e| TreeError::Storage(e.to_string()))?
    {
        Some(bytes) => codec::decode(&bytes, 1024)
            .map(Some)
            .map_err(|e| corrupt(pos, format!("undecodable node: {e}"))),
        None => Ok(None),
    }
}

/// Reads the node at `pos` that its parent says hashes to `expected` (not the empty hash).
fn read_expected<R: TreeNodes>(
    reader: &R,
    pos: &NodePos,
    expected: &Digest,
) -> Result<StoredNode, TreeError> {
    let node =
        read(reader, pos)?.ok_or_else(|| corrupt(pos, "a node its parent names is missing"))?;
    if &node.hash() != expected {
        return Err(corrupt(
            pos,
            format!("node hashes to {}, its parent says {expected}", node.hash()),
        ));
    }
    Ok(node)
}

/// The current root of the tree.
pub fn root<R: TreeNodes>(reader: &R) -> Result<Digest, TreeError> {
    Ok(read(reader, &NodePos::ROOT)?.map_or_else(empty_hash, |n| n.hash()))
}

/// A subtree after an update.
#[derive(Clone, Copy)]
enum Sub {
    Empty,
    Leaf(Digest, Digest),
    Inner(Digest, Digest),
}

impl Sub {
    fn hash(&self) -> Digest {
        match self {
            Sub::Empty => empty_hash(),
            Sub::Leaf(k, v) => leaf_hash(k, v),
            Sub::Inner(l, r) => node_hash(l, r),
        }
    }

    fn stored(&self) -> Option<StoredNode> {
        match *self {
            Sub::Empty => None,
            Sub::Leaf(key_hash, value_hash) => Some(StoredNode::Leaf {
                key_hash,
                value_hash,
            }),
            Sub::Inner(left, right) => Some(StoredNode::Inner { left, right }),
        }
    }

    fn of(node: Option<StoredNode>) -> Sub {
        match node {
            None => Sub::Empty,
            Some(StoredNode::Leaf {
                key_hash,
                value_hash,
            }) => Sub::Leaf(key_hash, value_hash),
            Some(StoredNode::Inner { left, right }) => Sub::Inner(left, right),
        }
    }
}

/// One child of a node being updated.
enum Child {
    /// Updated: its new content, not yet written at its position.
    Touched(Sub),
    /// No update reaches it: its unchanged hash.
    Untouched(Digest),
}

/// A key's update: (key hash, new value hash or `None` to delete).
type Update = (Digest, Option<Digest>);

/// Whether a state key is in the tree. Every entry is, except the replay markers `n/…`: they
/// matter only to execution, and each ordered transaction's receipt (committed to by the log)
/// already shows whether its nonce was fresh. Leaving them out spares the tree one leaf per
/// transaction.
pub fn in_tree(key: &[u8]) -> bool {
    !super::state::keys::is_nonce(key)
}

/// The writes that reach the tree (see [`in_tree`]).
pub fn tree_writes(writes: &[(Vec<u8>, Option<Vec<u8>>)]) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    writes
        .iter()
        .filter(|(key, _)| in_tree(key))
        .cloned()
        .collect()
}

/// Applies a block's writes to the tree in one pass: the new root, and the node writes that turn
/// the stored tree into the new one (in position order, one per position).
pub fn apply<R: TreeNodes>(
    reader: &R,
    writes: &[(Vec<u8>, Option<Vec<u8>>)],
) -> Result<(Digest, Vec<NodeWrite>), TreeError> {
    let mut updates: BTreeMap<Digest, Option<Digest>> = BTreeMap::new();
    for (key, value) in writes {
        updates.insert(key_hash(key), value.as_deref().map(value_hash));
    }
    let updates: Vec<Update> = updates.into_iter().collect();
    let mut out = BTreeMap::new();
    let current = Sub::of(read(reader, &NodePos::ROOT)?);
    let root = update(reader, NodePos::ROOT, current, &updates, &mut out)?;
    out.insert(NodePos::ROOT, root.stored());
    Ok((root.hash(), out.into_iter().collect()))
}

/// Updates the subtree at `pos` whose current content is `current`. Writes the nodes below
/// `pos`; the caller writes `pos` itself.
fn update<R: TreeNodes>(
    reader: &R,
    pos: NodePos,
    current: Sub,
    updates: &[Update],
    out: &mut BTreeMap<NodePos, Option<StoredNode>>,
) -> Result<Sub, TreeError> {
    if updates.is_empty() {
        return Ok(current);
    }
    match current {
        // Nothing is stored below an empty subtree or a leaf: build it afresh from its entries.
        Sub::Empty => {
            let leaves: Vec<(Digest, Digest)> = updates
                .iter()
                .filter_map(|(k, v)| v.map(|v| (*k, v)))
                .collect();
            build(pos, &leaves, out)
        }
        Sub::Leaf(key, value) => {
            let mut leaves: BTreeMap<Digest, Digest> = BTreeMap::from([(key, value)]);
            for (k, v) in updates {
                match v {
                    Some(v) => leaves.insert(*k, *v),
                    None => leaves.remove(k),
                };
            }
            let leaves: Vec<(Digest, Digest)> = leaves.into_iter().collect();
            build(pos, &leaves, out)
        }
        Sub::Inner(left, right) => {
            let depth = pos.depth as usize;
            if depth >= MAX_DEPTH {
                return Err(corrupt(&pos, "an inner node below the last path bit"));
            }
            let split = updates.partition_point(|(k, _)| !bit(k, depth));
            let (left_updates, right_updates) = updates.split_at(split);
            let left = child(reader, pos.child(false), left, left_updates, out)?;
            let right = child(reader, pos.child(true), right, right_updates, out)?;
            combine(reader, pos, left, right, out)
        }
    }
}

/// Updates one child of an inner node, if any update reaches it.
fn child<R: TreeNodes>(
    reader: &R,
    pos: NodePos,
    hash: Digest,
    updates: &[Update],
    out: &mut BTreeMap<NodePos, Option<StoredNode>>,
) -> Result<Child, TreeError> {
    if updates.is_empty() {
        return Ok(Child::Untouched(hash));
    }
    let current = if hash == empty_hash() {
        Sub::Empty
    } else {
        Sub::of(Some(read_expected(reader, &pos, &hash)?))
    };
    Ok(Child::Touched(update(reader, pos, current, updates, out)?))
}

/// The content of an inner node at `pos` after its children were updated. A single leaf left in
/// the subtree moves up to `pos`; the children's positions are written or deleted.
fn combine<R: TreeNodes>(
    reader: &R,
    pos: NodePos,
    left: Child,
    right: Child,
    out: &mut BTreeMap<NodePos, Option<StoredNode>>,
) -> Result<Sub, TreeError> {
    let empty = empty_hash();
    let is_empty = |c: &Child| match c {
        Child::Touched(Sub::Empty) => true,
        Child::Touched(_) => false,
        Child::Untouched(h) => *h == empty,
    };
    let (left_pos, right_pos) = (pos.child(false), pos.child(true));
    let lone = match (is_empty(&left), is_empty(&right)) {
        (true, true) => {
            for (c, p) in [(&left, left_pos), (&right, right_pos)] {
                if let Child::Touched(_) = c {
                    out.insert(p, None);
                }
            }
            return Ok(Sub::Empty);
        }
        (true, false) => Some((&right, right_pos, &left, left_pos)),
        (false, true) => Some((&left, left_pos, &right, right_pos)),
        (false, false) => None,
    };
    if let Some((full, full_pos, void, void_pos)) = lone {
        let content = match full {
            Child::Touched(sub) => *sub,
            Child::Untouched(h) => Sub::of(Some(read_expected(reader, &full_pos, h)?)),
        };
        if let Child::Touched(_) = void {
            out.insert(void_pos, None);
        }
        if let Sub::Leaf(..) = content {
            // The subtree holds one entry: its leaf moves up here.
            out.insert(full_pos, None);
            return Ok(content);
        }
        if let Child::Touched(sub) = full {
            out.insert(full_pos, sub.stored());
        }
        return Ok(inner(&left, &right));
    }
    for (c, p) in [(&left, left_pos), (&right, right_pos)] {
        if let Child::Touched(sub) = c {
            out.insert(p, sub.stored());
        }
    }
    Ok(inner(&left, &right))
}

fn inner(left: &Child, right: &Child) -> Sub {
    let hash = |c: &Child| match c {
        Child::Touched(sub) => sub.hash(),
        Child::Untouched(h) => *h,
    };
    Sub::Inner(hash(left), hash(right))
}

/// Builds the subtree at `pos` holding `leaves` (sorted by key hash, sharing the path's first
/// `pos.depth` bits) where nothing is stored yet. Writes the nodes below `pos`.
fn build(
    pos: NodePos,
    leaves: &[(Digest, Digest)],
    out: &mut BTreeMap<NodePos, Option<StoredNode>>,
) -> Result<Sub, TreeError> {
    match leaves {
        [] => Ok(Sub::Empty),
        [(k, v)] => Ok(Sub::Leaf(*k, *v)),
        _ => {
            let depth = pos.depth as usize;
            if depth >= MAX_DEPTH {
                return Err(corrupt(&pos, "two entries with the same key hash"));
            }
            let split = leaves.partition_point(|(k, _)| !bit(k, depth));
            let mut hashes = [empty_hash(); 2];
            for (side, part) in [(false, &leaves[..split]), (true, &leaves[split..])] {
                let child_pos = pos.child(side);
                let sub = build(child_pos, part, out)?;
                if let Some(node) = sub.stored() {
                    out.insert(child_pos, Some(node));
                }
                hashes[side as usize] = sub.hash();
            }
            Ok(Sub::Inner(hashes[0], hashes[1]))
        }
    }
}

/// The proof, at the stored tree, that `key` holds its current value or none.
pub fn prove<R: TreeNodes>(reader: &R, key: &[u8]) -> Result<StateProof, TreeError> {
    let path = key_hash(key);
    let mut siblings = Vec::new();
    let mut pos = NodePos::ROOT;
    let mut node = read(reader, &pos)?;
    loop {
        match node {
            None => {
                return Ok(StateProof {
                    leaf: None,
                    siblings,
                });
            }
            Some(StoredNode::Leaf {
                key_hash,
                value_hash,
            }) => {
                return Ok(StateProof {
                    leaf: Some((key_hash, value_hash)),
                    siblings,
                });
            }
            Some(StoredNode::Inner { left, right }) => {
                let depth = pos.depth as usize;
                if depth >= MAX_DEPTH {
                    return Err(corrupt(&pos, "an inner node below the last path bit"));
                }
                let side = bit(&path, depth);
                let (next, sibling) = if side { (right, left) } else { (left, right) };
                siblings.push(sibling);
                pos = pos.child(side);
                node = if next == empty_hash() {
                    None
                } else {
                    Some(read_expected(reader, &pos, &next)?)
                };
            }
        }
    }
}

/// The tree in memory: for tests, and for building the genesis tree before it is stored.
#[derive(Default, Debug, Clone, PartialEq, Eq)]
pub struct MemoryTree {
    /// The stored nodes by position.
    pub nodes: BTreeMap<NodePos, StoredNode>,
}

impl MemoryTree {
    /// Applies node writes.
    pub fn write(&mut self, writes: &[NodeWrite]) {
        for (pos, node) in writes {
            match node {
                Some(n) => self.nodes.insert(*pos, *n),
                None => self.nodes.remove(pos),
            };
        }
    }
}

impl TreeNodes for MemoryTree {
    type Error = std::convert::Infallible;
    fn tree_node(&self, pos: &NodePos) -> Result<Option<Vec<u8>>, Self::Error> {
        Ok(self.nodes.get(pos).map(StoredNode::to_bytes))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use caravan_sdk::state_tree::root_of;

    use super::*;

    type Writes = Vec<(Vec<u8>, Option<Vec<u8>>)>;

    fn from_scratch(entries: &BTreeMap<Vec<u8>, Vec<u8>>) -> (Digest, MemoryTree) {
        let writes: Writes = entries
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect();
        let mut tree = MemoryTree::default();
        let (root, nodes) = apply(&tree, &writes).expect("apply");
        tree.write(&nodes);
        (root, tree)
    }

    #[test]
    fn insert_update_delete_down_to_empty() {
        let mut tree = MemoryTree::default();
        assert_eq!(root(&tree).expect("root"), empty_hash());
        let keys: Vec<Vec<u8>> = (0..50).map(|i| format!("k/{i}").into_bytes()).collect();
        let writes: Writes = keys.iter().map(|k| (k.clone(), Some(k.clone()))).collect();
        let (r, nodes) = apply(&tree, &writes).expect("apply");
        tree.write(&nodes);
        assert_eq!(root(&tree).expect("root"), r);
        let deletes: Writes = keys.iter().map(|k| (k.clone(), None)).collect();
        let (r, nodes) = apply(&tree, &deletes).expect("apply");
        tree.write(&nodes);
        assert_eq!(r, empty_hash());
        assert!(tree.nodes.is_empty(), "left behind: {:?}", tree.nodes);
    }

    #[test]
    fn a_damaged_node_is_reported() {
        let entries: BTreeMap<Vec<u8>, Vec<u8>> = (0..8).map(|i| (vec![i], vec![i])).collect();
        let (_, mut tree) = from_scratch(&entries);
        let pos = *tree
            .nodes
            .keys()
            .find(|p| p.depth > 0)
            .expect("a node below the root");
        tree.nodes.insert(
            pos,
            StoredNode::Leaf {
                key_hash: Digest([1; 32]),
                value_hash: Digest([2; 32]),
            },
        );
        let all = (0..8).any(|i| matches!(prove(&tree, &[i]), Err(TreeError::Corrupt { .. })));
        assert!(all);
    }

    proptest! {
        #[test]
        fn incremental_updates_match_a_tree_built_from_scratch(
            batches in proptest::collection::vec(
                proptest::collection::vec(
                    (proptest::collection::vec(0u8..4, 0..3), proptest::option::of(any::<u8>())),
                    0..12,
                ),
                1..8,
            ),
            probes in proptest::collection::vec(proptest::collection::vec(0u8..4, 0..3), 0..6),
        ) {
            let mut tree = MemoryTree::default();
            let mut entries: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
            for batch in batches {
                // A block's writes: one per key, in key order, as the overlay gives them.
                let writes: BTreeMap<Vec<u8>, Option<Vec<u8>>> = batch
                    .into_iter()
                    .map(|(k, v)| (k, v.map(|v| vec![v])))
                    .collect();
                let writes: Writes = writes.into_iter().collect();
                let (new_root, nodes) = apply(&tree, &writes).expect("apply");
                tree.write(&nodes);
                for (k, v) in &writes {
                    match v {
                        Some(v) => entries.insert(k.clone(), v.clone()),
                        None => entries.remove(k),
                    };
                }
                let (scratch_root, scratch) = from_scratch(&entries);
                prop_assert_eq!(new_root, scratch_root);
                prop_assert_eq!(root(&tree).expect("root"), new_root);
                // Latest version only: exactly the nodes of the current tree are stored.
                prop_assert_eq!(&tree.nodes, &scratch.nodes);
                let leaves: Vec<_> = entries
                    .iter()
                    .map(|(k, v)| (key_hash(k), value_hash(v)))
                    .collect();
                prop_assert_eq!(root_of(&leaves), new_root);
            }
            let root = root(&tree).expect("root");
            for (k, v) in &entries {
                let proof = prove(&tree, k).expect("prove");
                prop_assert_eq!(proof.verify(&root, k, Some(v)), Ok(()));
            }
            for k in probes {
                let proof = prove(&tree, &k).expect("prove");
                let value = entries.get(&k).map(Vec::as_slice);
                prop_assert_eq!(proof.verify(&root, &k, value), Ok(()));
            }
        }
    }
}
