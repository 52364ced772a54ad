//! Caravan's protocol as data, and its verification.
//!
//! Everything a bank or a rail operator needs to check a record offline lives here and does no
//! IO: identifiers, canonical encoding, hashing, keys, transactions, blocks, certificates, the
//! genesis, the Merkle log, the state tree, proof bundles, and credit attestations as W3C
//! Verifiable Credentials. The typed HTTP client and the `caravan` CLI sit behind the `client`
//! feature.

#![forbid(unsafe_code)]

pub mod api;
pub mod block;
pub mod bundle;
pub mod codec;
pub mod credential;
pub mod evidence;
pub mod follow;
pub mod genesis;
pub mod hash;
pub mod ids;
pub mod keys;
pub mod merkle;
pub mod state_tree;
pub mod trade;
pub mod tx;

#[cfg(feature = "client")]
pub mod cli;
#[cfg(feature = "client")]
pub mod client;
