//! Local Caravan federations: real node processes on loopback started from keys and a genesis
//! made by the real ceremony, the demo scenario, and the helpers the end-to-end tests use.

#![forbid(unsafe_code)]

pub mod baseline;
pub mod cli;
pub mod demo;
pub mod federation;
pub mod load;
pub mod netfault;
