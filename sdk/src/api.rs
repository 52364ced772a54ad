//! The HTTP API's JSON shapes, shared by the node (which serves them) and the client (which reads
//! them), so the two cannot drift apart.

use serde::{Deserialize, Serialize};

use crate::block::{Block, CommitCertificate, Header};
use crate::ids::{AgencyId, BlockId, ChainId, Height, TxId};
use crate::tx::{Receipt, RejectReason};

/// An error answer: a machine-readable reason and a message for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// Stable snake_case reason, e.g. `bad_signature`, `not_found`.
    pub error: String,
    /// What was expected and what was found.
    pub detail: String,
}

/// Where a transaction stands, as `GET /v1/tx/{id}` reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TxStatus {
    /// Admitted, waiting for a block.
    Pending {
        /// The transaction.
        tx_id: TxId,
    },
    /// In a durable, certified block, and applied.
    Committed {
        /// The transaction.
        tx_id: TxId,
        /// Its receipt.
        receipt: Receipt,
        /// The block holding it.
        block_id: BlockId,
    },
    /// In a durable, certified block, but refused at execution.
    Rejected {
        /// The transaction.
        tx_id: TxId,
        /// Its receipt, with the reason.
        receipt: Receipt,
        /// The block holding it.
        block_id: BlockId,
    },
}

impl TxStatus {
    /// The transaction id.
    pub fn tx_id(&self) -> TxId {
        match self {
            TxStatus::Pending { tx_id }
            | TxStatus::Committed { tx_id, .. }
            | TxStatus::Rejected { tx_id, .. } => *tx_id,
        }
    }

    /// Whether it is in a certified block (accepted or not).
    pub fn is_final(&self) -> bool {
        !matches!(self, TxStatus::Pending { .. })
    }
}

/// A refusal at admission, mapped to an HTTP status.
pub fn http_status_of(reason: RejectReason) -> u16 {
    match reason {
        RejectReason::BadSignature => 401,
        RejectReason::UnknownSigner | RejectReason::MissingRole | RejectReason::NotPermitted => 403,
        RejectReason::NotFound => 404,
        RejectReason::Replayed
        | RejectReason::NonceUsed
        | RejectReason::DuplicateParticipant
        | RejectReason::Conflict
        | RejectReason::DoubleFinancing => 409,
        RejectReason::TooLarge => 413,
        RejectReason::MempoolFull => 503,
        RejectReason::WrongChain
        | RejectReason::Malformed
        | RejectReason::NonCanonical
        | RejectReason::UnknownRecordKind
        | RejectReason::InvalidBody => 400,
    }
}

/// A certified header: `GET /v1/checkpoint`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The header.
    pub header: Header,
    /// Its certificate.
    pub certificate: CommitCertificate,
}

/// A block with its certificate: `GET /v1/blocks/{height}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertifiedBlock {
    /// The block id.
    pub block_id: BlockId,
    /// The block.
    pub block: Block,
    /// Its certificate.
    pub certificate: CommitCertificate,
}

/// `GET /health`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `ok` while the node serves.
    pub status: String,
    /// The agency running it.
    pub agency: AgencyId,
    /// The federation.
    pub chain_id: ChainId,
    /// The latest durable, certified height (0 before the first block).
    pub height: Height,
    /// Transactions waiting for a block.
    pub mempool: usize,
}
