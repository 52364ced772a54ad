//! The values execution reads and produces.

use minicbor::{Decode, Encode};

use caravan_sdk::block::ValidatorSet;
use caravan_sdk::hash::Digest;
use caravan_sdk::ids::{BlockId, Height, TxId};
use caravan_sdk::keys::PublicKey;
use caravan_sdk::merkle::{Frontier, NodeKey};
use caravan_sdk::tx::{Receipt, Role};

use super::state_tree::NodeWrite;

/// A registered participant as the state holds it.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, serde::Serialize)]
#[cbor(array)]
pub struct Participant {
    /// Display name.
    #[n(0)]
    pub name: String,
    /// Roles.
    #[n(1)]
    pub roles: Vec<Role>,
    /// Signing key.
    #[n(2)]
    pub public_key: PublicKey,
    /// Height of registration (0 for founding agencies).
    #[n(3)]
    pub registered_at: Height,
    /// The registration transaction (none for founding agencies).
    #[n(4)]
    pub registered_by_tx: Option<TxId>,
    /// Whether it is an agency of the federation (a founder, or admitted by governance).
    #[n(5)]
    pub agency: bool,
}

impl Participant {
    /// Whether this participant is an agency of the federation.
    pub fn is_agency(&self) -> bool {
        self.agency
    }
}

/// The committed tip that the next block builds on.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(array)]
pub struct Tip {
    /// Height of the last block (0 before the first).
    #[n(0)]
    pub height: Height,
    /// Its id.
    #[n(1)]
    pub block_id: BlockId,
    /// Its time.
    #[n(2)]
    pub time_ms: u64,
    /// The state tree's root after it.
    #[n(3)]
    pub state_root: Digest,
    /// The log after it.
    #[n(4)]
    pub log: Frontier,
}

impl Tip {
    /// The tip before the first block, whose state is the genesis state with tree root
    /// `state_root`.
    pub fn genesis(state_root: Digest) -> Self {
        Tip {
            height: Height(0),
            block_id: BlockId(Digest::ZERO),
            time_ms: 0,
            state_root,
            log: Frontier::new(),
        }
    }
}

/// Everything a block changes, ready to be written in one transaction.
#[derive(Clone, Debug)]
pub struct BlockEffects {
    /// The transactions' ids, in order.
    pub tx_ids: Vec<TxId>,
    /// One per transaction, in order.
    pub receipts: Vec<Receipt>,
    /// State writes in key order: a value, or `None` to delete.
    pub writes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// The state tree's node writes that turn the parent's tree into this block's, by position.
    pub tree_nodes: Vec<NodeWrite>,
    /// The tip after the block.
    pub tip: Tip,
    /// The set that certifies the block.
    pub validators: ValidatorSet,
    /// Its hash.
    pub validators_hash: Digest,
    /// Hash of the set that certifies the next block.
    pub next_validators_hash: Digest,
    /// The set that certifies the next block, when the block changes it.
    pub new_validators: Option<ValidatorSet>,
    /// Merkle log nodes completed by the block.
    pub log_nodes: Vec<(NodeKey, Digest)>,
}
