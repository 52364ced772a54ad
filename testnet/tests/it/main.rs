//! Integration tests of the testnet crate, one binary: scenarios against real processes.

mod baseline;
