//! The trade domain: identifiers and codes of cross-border trade, the key fields of trade
//! documents, the pure cross-validation rules, and the records the ledger keeps about
//! enterprises, credit, documents, consignments and financing liens.

pub mod commitments;
pub mod documents;
pub mod ident;
pub mod model;
pub mod rules;
pub mod sample;
