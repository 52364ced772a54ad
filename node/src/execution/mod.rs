//! Execution: the pure core that turns a parent state and an ordered list of transactions into
//! receipts, state changes and the new log and state roots. No IO, no clock, no randomness: every
//! validator computes the same result, and a proposer's header is checked by recomputing it.
//!
//! State is a key-value map (canonical CBOR values under typed keys, see `state.rs`); a block's
//! effects are the list of writes, applied by the store in the block's single durable write,
//! with the nodes of the authenticated state tree (`state_tree.rs`) whose root is the header's
//! `state_root`.

mod block;
pub mod governance;
mod state;
pub mod state_tree;
mod trade;
mod tx;
mod types;
mod verified;

pub use block::{BlockError, Built, build_block, execute, verify_block};
pub use state::{Entries, Overlay, StateError, StateView, TxState, ViewNodes, keys};
pub use state_tree::{MemoryTree, NodePos, NodeWrite, StoredNode, TreeError, TreeNodes};
pub use trade::{ids_in_index, report_hash, tkeys};
pub use tx::{Context, admit, admit_with_id, execute_tx};
pub use types::{BlockEffects, Participant, Tip};
pub use verified::Verified;

#[cfg(test)]
pub(crate) mod tests;

#[cfg(test)]
mod governance_tests;
