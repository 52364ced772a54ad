//! The adapter between Caravan and the Malachite consensus engine. Everything that names the
//! engine lives in this folder, so an engine upgrade touches one place.

pub mod app;
pub mod codec;
pub mod signing;
pub mod types;
