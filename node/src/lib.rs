//! Caravan's validator daemon: the consensus adapter (Malachite), the mempool, execution of
//! transactions against state, storage (redb) and the HTTP API (axum).

#![forbid(unsafe_code)]

pub mod api;
pub mod api_trade;
pub mod consensus;
pub mod execution;
pub mod explorer;
pub mod limits;
pub mod mempool;
pub mod node;
pub mod observer;
pub mod recent;
pub mod relay;
pub mod store;
