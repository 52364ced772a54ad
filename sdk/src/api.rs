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

/// Most transactions in one batch submission (`POST /v1/txs`).
pub const MAX_BATCH_TRANSACTIONS: usize = 4096;

/// The body of a batch submission: a definite CBOR array of byte strings, each a canonical
/// transaction.
pub fn encode_batch<'a>(items: impl ExactSizeIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut body = Vec::new();
    let mut encoder = minicbor::Encoder::new(&mut body);
    // Writing to a Vec cannot fail.
    let _ = encoder.array(items.len() as u64);
    for item in items {
        let _ = encoder.bytes(item);
    }
    body
}

/// Decodes a body made by [`encode_batch`]: its byte strings, at most `max` of them.
pub fn decode_batch(bytes: &[u8], max: usize) -> Result<Vec<&[u8]>, crate::codec::CodecError> {
    use crate::codec::CodecError;
    let mut decoder = minicbor::Decoder::new(bytes);
    let count = match decoder.array() {
        Ok(Some(n)) if n as usize <= max => n as usize,
        _ => {
            return Err(CodecError::Malformed(format!(
                "expected a definite array of at most {max} byte strings"
            )));
        }
    };
    let mut items = Vec::with_capacity(count);
    for i in 0..count {
        let item = decoder
            .bytes()
            .map_err(|e| CodecError::Malformed(format!("array item {i}: {e}")))?;
        items.push(item);
    }
    if decoder.position() != bytes.len() {
        return Err(CodecError::Malformed(
            "trailing bytes after the array".into(),
        ));
    }
    // Every length in its shortest form, as `encode_batch` writes it: then the sizes add up.
    let canonical = cbor_head_len(count as u64)
        + items
            .iter()
            .map(|item| cbor_head_len(item.len() as u64) + item.len())
            .sum::<usize>();
    if canonical != bytes.len() {
        return Err(CodecError::NonCanonical {
            found: bytes.len(),
            canonical,
        });
    }
    Ok(items)
}

/// Bytes of a CBOR head (major type and length) in its shortest form.
fn cbor_head_len(n: u64) -> usize {
    match n {
        0..=23 => 1,
        24..=0xff => 2,
        0x100..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// Most blocks one `GET /v1/sync/blocks` returns.
pub const MAX_SYNC_BLOCKS: u64 = 256;

/// One transaction's answer in a batch submission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum BatchItem {
    /// Refused at admission; nothing changed.
    Refused {
        /// Stable snake_case reason, as in [`ApiError`].
        error: String,
        /// What was wrong.
        detail: String,
    },
    /// Admitted, waiting for a block (or not committed before the wait ended).
    Pending {
        /// The transaction.
        tx_id: TxId,
    },
    /// In a durable, certified block, and applied.
    Committed {
        /// The transaction.
        tx_id: TxId,
        /// The block's height.
        height: Height,
    },
    /// In a durable, certified block, but refused at execution.
    Rejected {
        /// The transaction.
        tx_id: TxId,
        /// The block's height.
        height: Height,
        /// Why.
        reason: RejectReason,
    },
}

/// The answer to a batch submission: one item per submitted transaction, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResponse {
    /// How many were admitted.
    pub admitted: u32,
    /// Per transaction.
    pub results: Vec<BatchItem>,
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

/// A block with its certificate: `GET /v1/blocks/{height}`. Transactions carrying consignment
/// key fields that the reader may not see are withheld: `block.transactions` then omits them,
/// and `transaction_ids` (all of them, in order) still let the reader check the header's
/// transactions root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertifiedBlock {
    /// The block id.
    pub block_id: BlockId,
    /// The block (without withheld transactions).
    pub block: Block,
    /// Its certificate.
    pub certificate: CommitCertificate,
    /// Every transaction id of the block, in order.
    pub transaction_ids: Vec<TxId>,
    /// Positions of the withheld transactions.
    pub withheld: Vec<u32>,
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
    /// `validator` (an agency's node) or `observer`.
    #[serde(default)]
    pub role: String,
    /// The other validators' nodes this validator is connected to for consensus (0 on an
    /// observer, which follows over HTTP).
    #[serde(default)]
    pub peers: u32,
}

/// Header naming the participant that signs a read request.
pub const READ_PARTICIPANT_HEADER: &str = "x-caravan-participant";
/// Header carrying the request time (milliseconds since the Unix epoch).
pub const READ_TIME_HEADER: &str = "x-caravan-time";
/// Header carrying the signature over [`read_request_digest`].
pub const READ_SIGNATURE_HEADER: &str = "x-caravan-signature";
/// How far a read request's time may be from the node's clock.
pub const READ_MAX_SKEW_MS: u64 = 5 * 60 * 1000;

/// The digest a participant signs to read protected data: the method, the path with its query,
/// and the time.
pub fn read_request_digest(
    method: &str,
    path_and_query: &str,
    time_ms: u64,
) -> crate::hash::Digest {
    crate::hash::hash_parts(
        crate::hash::Domain::ReadRequest,
        &[
            method.as_bytes(),
            b"\n",
            path_and_query.as_bytes(),
            b"\n",
            &time_ms.to_be_bytes(),
        ],
    )
}

/// `GET /v1/sco/{code}`: the enterprise, its credit summary and every attestation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoView {
    /// The enterprise.
    pub enterprise: crate::trade::model::Enterprise,
    /// Its credit summary as of the latest block's day.
    pub summary: crate::trade::model::CreditSummary,
    /// Every attestation, live and revoked.
    pub attestations: Vec<crate::trade::model::CreditAttestation>,
    /// The height the view was read at.
    pub height: Height,
    /// Its consignments (the history the summary counts), by reference.
    #[serde(default)]
    pub consignments: Vec<ConsignmentRef>,
    /// The liens active on its consignments' documents.
    #[serde(default)]
    pub liens: Vec<crate::trade::model::Lien>,
}

/// A consignment in an enterprise's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsignmentRef {
    /// Its reference.
    pub ucr: String,
    /// Open or closed.
    pub status: crate::trade::model::ConsignmentStatus,
    /// Whether its latest cross-validation report is clean; `None` before the first report.
    pub clean: Option<bool>,
    /// Failed rules that no agency overrode.
    pub open_discrepancies: u32,
}

/// A document as a consignment view shows it; key fields only for those allowed to read them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentView {
    /// The document id.
    pub id: TxId,
    /// Its type.
    pub kind: String,
    /// Its number.
    pub number: String,
    /// Its issuer.
    pub issuer: crate::ids::ParticipantId,
    /// The consignment it belongs to.
    #[serde(default)]
    pub consignment: Option<String>,
    /// Its leg, for transport documents.
    pub leg: Option<u16>,
    /// Its versions (content hash and field-commitment root of each).
    pub versions: Vec<crate::trade::model::DocumentVersion>,
    /// Its status.
    pub status: crate::trade::model::DocumentStatus,
    /// Its key fields, when the reader may see them.
    pub fields: Option<crate::trade::documents::DocumentFields>,
}

/// `GET /v1/consignments/{ucr}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsignmentView {
    /// The consignment (its report and attestations only when the reader may see key fields;
    /// legs, parties and transport events are shown to every registered reader).
    pub consignment: crate::trade::model::Consignment,
    /// Its documents.
    pub documents: Vec<DocumentView>,
    /// Whether key fields were withheld from this reader.
    pub redacted: bool,
}

/// `GET /v1/consignments/{ucr}/validation`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationView {
    /// The consignment.
    pub ucr: String,
    /// The current report.
    pub report: Option<crate::trade::rules::Report>,
    /// The hash agencies cite to attest it.
    pub report_hash: Option<crate::hash::Digest>,
    /// Attestations and overrides.
    pub attestations: Vec<crate::trade::model::ReportAttestation>,
}

/// `GET /v1/participants/{id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantView {
    /// The participant id.
    pub id: crate::ids::ParticipantId,
    /// Its name.
    pub name: String,
    /// Its roles.
    pub roles: Vec<crate::tx::Role>,
    /// Its signing key.
    pub public_key: crate::keys::PublicKey,
    /// When it was registered (0 for founding agencies).
    pub registered_at: Height,
    /// Its SCO code, for an enterprise.
    pub sco_code: Option<crate::trade::ident::ScoCode>,
}

#[cfg(test)]
mod batch_tests {
    use super::{decode_batch, encode_batch};

    #[test]
    fn batches_round_trip_and_only_their_shortest_form_is_read() {
        let items: Vec<&[u8]> = vec![b"a", &[7u8; 30], b""];
        let body = encode_batch(items.iter().copied());
        assert_eq!(decode_batch(&body, 8).expect("decode"), items);
        assert!(decode_batch(&body, 2).is_err(), "more items than allowed");
        // An empty array written with an eight-byte length (found by fuzzing).
        let long_head = [0x9b, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(decode_batch(&long_head, 8).is_err());
        // A one-byte string whose length is written in two bytes.
        let long_item = [0x81, 0x58, 0x01, b'a'];
        assert!(decode_batch(&long_item, 8).is_err());
        assert!(decode_batch(&[0x81, 0x41, b'a'], 8).is_ok());
        // Trailing bytes, an indefinite array, an item that is not a byte string.
        assert!(decode_batch(&[0x80, 0x00], 8).is_err());
        assert!(decode_batch(&[0x9f, 0xff], 8).is_err());
        assert!(decode_batch(&[0x81, 0x01], 8).is_err());
    }
}
