//! The HTTP API. Every error answer is JSON `{"error": reason, "detail": message}` with a
//! fitting status, bodies are size-capped before parsing, and a bad request changes nothing.

// Handlers return early with a ready error response; its size does not matter on this path.
#![allow(clippy::result_large_err)]

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use caravan_sdk::api::{
    ApiError, BatchItem, BatchResponse, CertifiedBlock, Checkpoint, Health, MAX_BATCH_TRANSACTIONS,
    MAX_SYNC_BLOCKS, TxStatus, http_status_of,
};
use caravan_sdk::bundle::ProofBundle;
use caravan_sdk::codec::{self, MAX_TRANSACTION_BYTES};
use caravan_sdk::ids::{Height, TxId};
use caravan_sdk::tx::{Outcome, RejectReason, Rejection, SignedTx};

use crate::node::{AdmitError, Shared};
use crate::recent::Recent;
use crate::store::Reader;

/// Largest JSON transaction body (hex doubles the byte strings).
const MAX_JSON_TX_BYTES: usize = 4 * MAX_TRANSACTION_BYTES;
/// Largest relay batch body.
const MAX_RELAY_BYTES: usize = 16 * 1024 * 1024;
/// How long admission waits for this node to apply a block that may create an unknown signer or record.
const UNKNOWN_SIGNER_GRACE: Duration = Duration::from_secs(2);
/// How long `?wait=commit` waits at most.
const MAX_WAIT: Duration = Duration::from_secs(30);

static OPENAPI: &str = include_str!("../../docs/openapi.json");

/// The API's routes.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/tx", post(submit))
        .route("/v1/txs", post(submit_batch))
        .route("/v1/relay", post(relay))
        .route("/v1/tx/{id}", get(tx_status))
        .route("/v1/blocks/{height}", get(block))
        .route("/v1/sync/blocks", get(sync_blocks))
        .route("/v1/checkpoint", get(checkpoint))
        .route("/v1/validators", get(validators))
        .route("/v1/proposals/{id}", get(proposal))
        .route("/v1/evidence", get(evidence))
        .route("/v1/proof/tx/{id}", get(proof))
        .route("/v1/state/proof", get(state_proof))
        .route("/v1/sco/{code}/proof", get(crate::api_trade::sco_proof))
        .route("/v1/consistency", get(consistency))
        .route("/v1/sco/{code}", get(crate::api_trade::sco))
        .route("/v1/participants/{id}", get(crate::api_trade::participant))
        .route("/v1/consignments/{ucr}", get(crate::api_trade::consignment))
        .route(
            "/v1/consignments/{ucr}/validation",
            get(crate::api_trade::validation),
        )
        .route("/v1/documents/{id}", get(crate::api_trade::document))
        .route("/v1/liens", get(crate::api_trade::liens))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .merge(crate::explorer::routes())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(crate::limits::Guard::new(shared.limits)),
            crate::limits::guard,
        ))
        .with_state(shared)
}

pub(crate) fn error(status: StatusCode, reason: &str, detail: impl Into<String>) -> Response {
    (
        status,
        axum::Json(ApiError {
            error: reason.to_string(),
            detail: detail.into(),
        }),
    )
        .into_response()
}

fn rejection(r: Rejection) -> Response {
    let status = StatusCode::from_u16(http_status_of(r.reason)).unwrap_or(StatusCode::BAD_REQUEST);
    error(status, r.reason.as_str(), r.detail)
}

fn internal(e: impl std::fmt::Display) -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
}

/// An observer's answer to a submission.
fn observer_refuses() -> Response {
    error(
        StatusCode::FORBIDDEN,
        "observer",
        "this node is an observer: it follows the ledger and serves reads, and accepts no transactions; submit to an agency's node",
    )
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such route; see /openapi.json",
    )
}

async fn read_body(body: Body, limit: usize) -> Result<axum::body::Bytes, Response> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("request body exceeds {limit} bytes"),
        )
    })
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.starts_with("application/json"))
        .unwrap_or(false)
}

#[derive(Deserialize)]
struct SubmitQuery {
    wait: Option<String>,
}

impl SubmitQuery {
    /// Whether to wait for commit: `wait=commit`, or absent.
    fn wait(&self) -> Result<bool, Response> {
        match self.wait.as_deref() {
            None => Ok(false),
            Some("commit") => Ok(true),
            Some(other) => Err(error(
                StatusCode::BAD_REQUEST,
                "bad_query",
                format!("wait must be \"commit\", found {other:?}"),
            )),
        }
    }
}

fn decode_tx(headers: &HeaderMap, bytes: &[u8]) -> Result<(SignedTx, usize), Response> {
    if is_json(headers) {
        let tx: SignedTx = serde_json::from_slice(bytes).map_err(|e| {
            error(
                StatusCode::BAD_REQUEST,
                "malformed",
                format!("not a signed transaction in JSON: {e}"),
            )
        })?;
        let size = codec::encode(&tx).len();
        if size > MAX_TRANSACTION_BYTES {
            return Err(error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("transaction is {size} bytes, the limit is {MAX_TRANSACTION_BYTES}"),
            ));
        }
        Ok((tx, size))
    } else {
        let tx = SignedTx::from_bytes(bytes).map_err(rejection)?;
        Ok((tx, bytes.len()))
    }
}

async fn submit(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<SubmitQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if shared.observer {
        return observer_refuses();
    }
    let wait = match q.wait() {
        Ok(w) => w,
        Err(r) => return r,
    };
    let limit = if is_json(&headers) {
        MAX_JSON_TX_BYTES
    } else {
        MAX_TRANSACTION_BYTES
    };
    let bytes = match read_body(body, limit).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (tx, size) = match decode_tx(&headers, &bytes) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let canonical = if is_json(&headers) {
        codec::encode(&tx)
    } else {
        bytes.to_vec()
    };
    let mut height_rx = shared.height.subscribe();
    let since = match log_size(&shared) {
        Ok(size) => size,
        Err(r) => return r,
    };
    // A signer or a record (consignment, document...) created in a block that this node has not
    // applied yet (the client saw it committed through another node) gets a short grace:
    // re-check as blocks arrive.
    let grace = tokio::time::Instant::now() + UNKNOWN_SIGNER_GRACE;
    let id = loop {
        match shared.admit(tx.clone(), size) {
            Ok(id) => break id,
            Err(AdmitError::Rejected(r))
                if matches!(
                    r.reason,
                    RejectReason::UnknownSigner | RejectReason::NotFound
                ) && tokio::time::Instant::now() < grace =>
            {
                if tokio::time::timeout_at(grace, height_rx.changed())
                    .await
                    .is_err()
                {
                    return rejection(r);
                }
            }
            Err(AdmitError::Rejected(r)) => return rejection(r),
            Err(AdmitError::Internal(e)) => return internal(e),
        }
    };
    // Best effort: a full relay queue only delays inclusion until this node proposes.
    let _ = shared.relay.try_send(canonical);
    if !wait {
        return (
            StatusCode::ACCEPTED,
            axum::Json(TxStatus::Pending { tx_id: id }),
        )
            .into_response();
    }
    let deadline = tokio::time::Instant::now() + MAX_WAIT;
    loop {
        match status_of(&shared, &id, since) {
            Ok(Some(status)) if status.is_final() => {
                return (StatusCode::OK, axum::Json(status)).into_response();
            }
            Ok(_) => {}
            Err(r) => return r,
        }
        match tokio::time::timeout_at(deadline, height_rx.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return internal("node is stopping"),
            Err(_) => {
                return error(
                    StatusCode::GATEWAY_TIMEOUT,
                    "wait_timeout",
                    format!(
                        "transaction {id} is pending but not committed after {}s; poll /v1/tx/{id}",
                        MAX_WAIT.as_secs()
                    ),
                );
            }
        }
    }
}

/// The transactions of a batch body: a definite CBOR array of canonical transaction byte strings.
fn decode_batch(bytes: &[u8]) -> Result<Vec<&[u8]>, Response> {
    caravan_sdk::api::decode_batch(bytes, MAX_BATCH_TRANSACTIONS).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            "malformed",
            format!(
                "body must be a canonical, definite CBOR array of at most \
                 {MAX_BATCH_TRANSACTIONS} transaction byte strings: {e}"
            ),
        )
    })
}

/// Decodes each item and admits the decodable ones together (signatures batch-verified off the
/// async workers). One result per item, in order.
async fn admit_items(
    shared: &Arc<Shared>,
    items: &[&[u8]],
) -> Result<Vec<Result<TxId, Rejection>>, Response> {
    let mut results: Vec<Option<Result<TxId, Rejection>>> = Vec::with_capacity(items.len());
    let mut decoded = Vec::with_capacity(items.len());
    for bytes in items {
        match SignedTx::from_bytes(bytes) {
            Ok(tx) => {
                decoded.push((tx, bytes.len()));
                results.push(None);
            }
            Err(r) => results.push(Some(Err(r))),
        }
    }
    let worker = Arc::clone(shared);
    let admitted = tokio::task::spawn_blocking(move || worker.admit_many(decoded))
        .await
        .map_err(internal)?;
    let mut admitted = admitted.into_iter();
    let mut out = Vec::with_capacity(results.len());
    for slot in results {
        out.push(match slot {
            Some(r) => r,
            None => match admitted.next() {
                Some(Ok(id)) => Ok(id),
                Some(Err(AdmitError::Rejected(r))) => Err(r),
                Some(Err(AdmitError::Internal(e))) => {
                    return Err(internal(e));
                }
                None => return Err(internal("admission lost a transaction")),
            },
        });
    }
    Ok(out)
}

async fn submit_batch(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<SubmitQuery>,
    body: Body,
) -> Response {
    if shared.observer {
        return observer_refuses();
    }
    let wait = match q.wait() {
        Ok(w) => w,
        Err(r) => return r,
    };
    let bytes = match read_body(body, MAX_RELAY_BYTES).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let items = match decode_batch(&bytes) {
        Ok(items) => items,
        Err(r) => return r,
    };
    let mut height_rx = shared.height.subscribe();
    let since = match log_size(&shared) {
        Ok(size) => size,
        Err(r) => return r,
    };
    let admitted = match admit_items(&shared, &items).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let mut results = Vec::with_capacity(admitted.len());
    let mut count = 0u32;
    for (bytes, outcome) in items.iter().zip(admitted) {
        results.push(match outcome {
            Ok(tx_id) => {
                count += 1;
                // Best effort: a full relay queue only delays inclusion until this node proposes.
                let _ = shared.relay.try_send(bytes.to_vec());
                BatchItem::Pending { tx_id }
            }
            Err(r) => BatchItem::Refused {
                error: r.reason.as_str().to_string(),
                detail: r.detail,
            },
        });
    }
    if wait {
        let deadline = tokio::time::Instant::now() + MAX_WAIT;
        loop {
            match finalise(&shared, &mut results, since) {
                Ok(true) => break,
                Ok(false) => {}
                Err(r) => return r,
            }
            match tokio::time::timeout_at(deadline, height_rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return internal("node is stopping"),
                // Those still pending are reported as such; the client polls them.
                Err(_) => break,
            }
        }
    }
    axum::Json(BatchResponse {
        admitted: count,
        results,
    })
    .into_response()
}

/// The committed log's size, read before admitting transactions: none of them can be committed
/// at an earlier log position, so their look-ups start there ([`Reader::tx_since`]).
///
/// [`Reader::tx_since`]: crate::store::Reader::tx_since
fn log_size(shared: &Shared) -> Result<u64, Response> {
    let reader = shared.store.reader().map_err(internal)?;
    Ok(reader.tip().map_err(internal)?.log.size())
}

/// Turns pending items that are now in a certified block into their final status. True when
/// none is pending. The items were admitted when the log had `since` entries.
fn finalise(shared: &Shared, results: &mut [BatchItem], since: u64) -> Result<bool, Response> {
    // The recent blocks' outcomes in memory first: a batch's wait looks at every new height.
    let pending: Vec<TxId> = results
        .iter()
        .filter_map(|item| match item {
            BatchItem::Pending { tx_id } => Some(*tx_id),
            _ => None,
        })
        .collect();
    let mut answers = shared.recent.lookup(&pending, since).into_iter();
    let (mut done, mut unknown) = (true, false);
    for item in results.iter_mut() {
        let BatchItem::Pending { tx_id } = *item else {
            continue;
        };
        match answers.next() {
            Some(Recent::Committed((height, None))) => {
                *item = BatchItem::Committed { tx_id, height }
            }
            Some(Recent::Committed((height, Some(reason)))) => {
                *item = BatchItem::Rejected {
                    tx_id,
                    height,
                    reason,
                }
            }
            Some(Recent::Pending) => done = false,
            Some(Recent::Unknown) | None => unknown = true,
        }
    }
    if !unknown {
        return Ok(done);
    }
    // The wait reaches back before the kept blocks (or none are kept yet): the index.
    let reader = shared.store.reader().map_err(internal)?;
    let mut done = true;
    for item in results.iter_mut() {
        let BatchItem::Pending { tx_id } = item else {
            continue;
        };
        match reader.tx_since(tx_id, since).map_err(internal)? {
            Some(record) => {
                let height = record.receipt.height;
                *item = match record.receipt.outcome {
                    Outcome::Accepted => BatchItem::Committed {
                        tx_id: *tx_id,
                        height,
                    },
                    Outcome::Rejected { rejection } => BatchItem::Rejected {
                        tx_id: *tx_id,
                        height,
                        reason: rejection.reason,
                    },
                };
            }
            None => done = false,
        }
    }
    Ok(done)
}

async fn relay(State(shared): State<Arc<Shared>>, body: Body) -> Response {
    if shared.observer {
        return observer_refuses();
    }
    let bytes = match read_body(body, MAX_RELAY_BYTES).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let items = match decode_batch(&bytes) {
        Ok(items) => items,
        Err(r) => return r,
    };
    // Each relayed transaction goes through full admission; duplicates are expected.
    let admitted = match admit_items(&shared, &items).await {
        Ok(a) => a.iter().filter(|r| r.is_ok()).count(),
        Err(r) => return r,
    };
    (
        StatusCode::OK,
        axum::Json(serde_json::json!({ "admitted": admitted })),
    )
        .into_response()
}

fn parse_tx_id(text: &str) -> Result<TxId, Response> {
    text.parse::<TxId>()
        .map_err(|e| error(StatusCode::BAD_REQUEST, "bad_id", e.to_string()))
}

/// A transaction's status; it cannot be committed before the log had `since` entries (0 when
/// that is not known).
fn status_of(shared: &Shared, id: &TxId, since: u64) -> Result<Option<TxStatus>, Response> {
    let reader = shared.store.reader().map_err(internal)?;
    if let Some(record) = reader.tx_since(id, since).map_err(internal)? {
        let status = match record.receipt.outcome {
            Outcome::Accepted => TxStatus::Committed {
                tx_id: *id,
                receipt: record.receipt,
                block_id: record.block_id,
            },
            Outcome::Rejected { .. } => TxStatus::Rejected {
                tx_id: *id,
                receipt: record.receipt,
                block_id: record.block_id,
            },
        };
        return Ok(Some(status));
    }
    let pending = shared
        .mempool
        .lock()
        .map_err(|_| internal("mempool lock poisoned"))?
        .contains(id);
    Ok(pending.then_some(TxStatus::Pending { tx_id: *id }))
}

async fn tx_status(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let id = match parse_tx_id(&id) {
        Ok(id) => id,
        Err(r) => return r,
    };
    match status_of(&shared, &id, 0) {
        Ok(Some(status)) => axum::Json(status).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("transaction {id} is neither pending nor committed on this node"),
        ),
        Err(r) => r,
    }
}

async fn block(
    State(shared): State<Arc<Shared>>,
    Path(height): Path<String>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let Ok(height) = height.parse::<u64>() else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_height",
            format!("height must be a positive integer, found {height:?}"),
        );
    };
    let (reader, who) = match crate::api_trade::signed_reader(&shared, &headers, &uri) {
        Ok(x) => x,
        Err(r) => return r,
    };
    match reader.block(Height(height)) {
        Ok(Some((mut block, certificate))) => {
            let block_id = block.id();
            let transaction_ids: Vec<TxId> = block.transactions.iter().map(|t| t.id()).collect();
            let mut withheld = Vec::new();
            let mut kept = Vec::with_capacity(block.transactions.len());
            for (i, tx) in block.transactions.into_iter().enumerate() {
                match crate::api_trade::may_read_tx(&reader, &who, &tx) {
                    Ok(true) => kept.push(tx),
                    Ok(false) => withheld.push(i as u32),
                    Err(r) => return r,
                }
            }
            block.transactions = kept;
            axum::Json(CertifiedBlock {
                block_id,
                block,
                certificate,
                transaction_ids,
                withheld,
            })
            .into_response()
        }
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no block at height {height} on this node"),
        ),
        Err(e) => internal(e),
    }
}

async fn checkpoint(State(shared): State<Arc<Shared>>) -> Response {
    let tip = match shared.store.tip() {
        Ok(t) => t,
        Err(e) => return internal(e),
    };
    if tip.height.0 == 0 {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no block has been committed yet",
        );
    }
    match shared.store.block(tip.height) {
        Ok(Some((block, certificate))) => axum::Json(Checkpoint {
            header: block.header,
            certificate,
        })
        .into_response(),
        Ok(None) => internal("tip block missing"),
        Err(e) => internal(e),
    }
}

/// The federation's membership as of the committed tip.
#[derive(serde::Serialize)]
struct Membership {
    /// The committed height.
    height: Height,
    /// The set that certifies the next block.
    validators: caravan_sdk::block::ValidatorSet,
    /// A scheduled set, with the first height it certifies.
    pending: Option<crate::execution::governance::PendingSet>,
    /// The current agencies' member cards.
    members: Vec<caravan_sdk::genesis::MemberCard>,
    /// The certified changes of the validator set since the genesis, in height order: with the
    /// genesis, they let a light client check a header at any height.
    changes: Vec<caravan_sdk::block::SetChange>,
}

async fn validators(State(shared): State<Arc<Shared>>) -> Response {
    let read = || -> Result<Membership, crate::store::StoreError> {
        let tip = shared.store.tip()?;
        let reader = shared.store.reader()?;
        let pending = match crate::execution::StateView::get(
            &reader,
            &crate::execution::governance::gkeys::pending_validators(),
        )? {
            Some(bytes) => Some(
                codec::decode(&bytes, codec::MAX_BLOCK_BYTES)
                    .map_err(|e| crate::store::StoreError::Corrupt(format!("pending set: {e}")))?,
            ),
            None => None,
        };
        Ok(Membership {
            height: tip.height,
            validators: reader.validators()?,
            pending,
            members: reader.members()?,
            changes: reader.validator_changes(Height(u64::MAX))?,
        })
    };
    match read() {
        Ok(m) => axum::Json(m).into_response(),
        Err(e) => internal(e),
    }
}

/// `GET /v1/evidence`: every equivocation recorded on the ledger, oldest report first.
async fn evidence(State(shared): State<Arc<Shared>>) -> Response {
    use crate::execution::governance::{EquivocationRecord, gkeys};
    let read = || -> Result<Vec<EquivocationRecord>, crate::store::StoreError> {
        let reader = shared.store.reader()?;
        let mut records = Vec::new();
        for (key, bytes) in crate::execution::StateView::scan(&reader, &gkeys::equivocations())? {
            records.push(codec::decode(&bytes, codec::MAX_BLOCK_BYTES).map_err(|e| {
                crate::store::StoreError::Corrupt(format!(
                    "evidence {}: {e}",
                    String::from_utf8_lossy(&key)
                ))
            })?);
        }
        records.sort_by_key(|r: &EquivocationRecord| r.recorded_at);
        Ok(records)
    };
    match read() {
        Ok(records) => axum::Json(records).into_response(),
        Err(e) => internal(e),
    }
}

async fn proposal(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let id = match parse_tx_id(&id) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let reader = match shared.store.reader() {
        Ok(r) => r,
        Err(e) => return internal(e),
    };
    let key = crate::execution::governance::gkeys::proposal(&id);
    match crate::execution::StateView::get(&reader, &key) {
        Ok(Some(bytes)) => {
            match codec::decode::<crate::execution::governance::Proposal>(
                &bytes,
                codec::MAX_BLOCK_BYTES,
            ) {
                Ok(p) => axum::Json(p).into_response(),
                Err(e) => internal(e),
            }
        }
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no proposal {id} is committed"),
        ),
        Err(e) => internal(e),
    }
}

#[derive(Deserialize)]
struct SyncQuery {
    from: u64,
    count: Option<u64>,
}

/// Largest body of one `GET /v1/sync/blocks` answer; at least one block is always returned.
const MAX_SYNC_BYTES: usize = 16 * 1024 * 1024;

async fn sync_blocks(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<SyncQuery>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let (reader, who) = match crate::api_trade::signed_reader(&shared, &headers, &uri) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if !who.may_follow() {
        return error(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "{} may not read whole blocks: only agencies and participants registered with the observer role follow the ledger",
                who.id()
            ),
        );
    }
    if q.from == 0 {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_height",
            "from must be a height of at least 1",
        );
    }
    let count = q.count.unwrap_or(MAX_SYNC_BLOCKS).clamp(1, MAX_SYNC_BLOCKS);
    let mut items: Vec<Vec<u8>> = Vec::new();
    let mut size = 0;
    for height in q.from..q.from.saturating_add(count) {
        match reader.block_bytes(Height(height)) {
            Ok(Some((block, certificate))) => {
                size += block.len() + certificate.len();
                items.push(block);
                items.push(certificate);
                if size >= MAX_SYNC_BYTES {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => return internal(e),
        }
    }
    (
        [(header::CONTENT_TYPE, "application/cbor")],
        caravan_sdk::api::encode_batch(items.iter().map(|i| i.as_slice())),
    )
        .into_response()
}

/// The proof bundle of a committed transaction, or the answer that it is not committed here.
pub(crate) fn committed_bundle(reader: &Reader, id: &TxId) -> Result<ProofBundle, Response> {
    match reader.bundle(id) {
        Ok(Some(b)) => Ok(b),
        Ok(None) => Err(error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("transaction {id} is not committed on this node"),
        )),
        Err(e) => Err(internal(e)),
    }
}

#[derive(Deserialize)]
struct ProofQuery {
    format: Option<String>,
}

async fn proof(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(q): Query<ProofQuery>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let id = match parse_tx_id(&id) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let wants_cbor = match wants_cbor(q.format.as_deref(), &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (reader, who) = match crate::api_trade::signed_reader(&shared, &headers, &uri) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let bundle = match committed_bundle(&reader, &id) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(item) = &bundle.item else {
        return internal("a transaction's bundle without the transaction");
    };
    match crate::api_trade::may_read_tx(&reader, &who, &item.transaction) {
        Ok(true) => {}
        Ok(false) => {
            return error(
                StatusCode::FORBIDDEN,
                "forbidden",
                "this transaction carries consignment key fields, readable by the document's issuer, the consignment's parties and the agencies",
            );
        }
        Err(r) => return r,
    }
    bundle_response(&bundle, wants_cbor)
}

/// Whether a bundle is wanted as CBOR: `format=cbor` or `json`, else an `Accept` header naming
/// `application/cbor`.
pub(crate) fn wants_cbor(format: Option<&str>, headers: &HeaderMap) -> Result<bool, Response> {
    match format {
        Some("cbor") => Ok(true),
        Some("json") => Ok(false),
        Some(other) => Err(error(
            StatusCode::BAD_REQUEST,
            "bad_query",
            format!("format must be cbor or json, found {other:?}"),
        )),
        None => Ok(headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("application/cbor"))),
    }
}

/// A bundle as CBOR or JSON.
pub(crate) fn bundle_response(bundle: &ProofBundle, cbor: bool) -> Response {
    if cbor {
        (
            [(header::CONTENT_TYPE, "application/cbor")],
            bundle.to_bytes(),
        )
            .into_response()
    } else {
        axum::Json(bundle).into_response()
    }
}

/// The longest state key a proof is served for.
const MAX_STATE_KEY_BYTES: usize = 1024;

#[derive(Deserialize)]
struct StateProofQuery {
    key: Option<String>,
    format: Option<String>,
}

/// Parses a state key given as UTF-8 text, or as `hex:` and its hex.
fn parse_state_key(text: Option<&str>) -> Result<Vec<u8>, Response> {
    let bad = |detail: String| error(StatusCode::BAD_REQUEST, "bad_query", detail);
    let Some(text) = text else {
        return Err(bad(
            "key is required: the state key as text, or hex: and its hex".into(),
        ));
    };
    let key = match text.strip_prefix("hex:") {
        Some(h) => hex::decode(h).map_err(|e| bad(format!("key after hex: is not hex: {e}")))?,
        None => text.as_bytes().to_vec(),
    };
    if key.is_empty() || key.len() > MAX_STATE_KEY_BYTES {
        return Err(bad(format!(
            "a state key has 1 to {MAX_STATE_KEY_BYTES} bytes, found {}",
            key.len()
        )));
    }
    Ok(key)
}

/// The state proof bundle of `key` at the tip, or the answer saying why there is none.
pub(crate) fn state_bundle(reader: &Reader, key: &[u8], cbor: bool) -> Response {
    match reader.state_bundle(key) {
        Ok(Some(bundle)) => bundle_response(&bundle, cbor),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no block has been committed yet: there is no certified state root to prove against",
        ),
        Err(e) => internal(e),
    }
}

async fn state_proof(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<StateProofQuery>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let cbor = match wants_cbor(q.format.as_deref(), &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let key = match parse_state_key(q.key.as_deref()) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let (reader, who) = match crate::api_trade::signed_reader(&shared, &headers, &uri) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Err(r) = crate::api_trade::may_prove_key(&who, &key) {
        return r;
    }
    state_bundle(&reader, &key, cbor)
}

#[derive(Deserialize)]
struct ConsistencyQuery {
    from: Option<String>,
    to: Option<String>,
}

async fn consistency(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<ConsistencyQuery>,
) -> Response {
    let parse = |name: &str, v: Option<String>| -> Result<u64, Response> {
        v.as_deref().unwrap_or("").parse::<u64>().map_err(|_| {
            error(
                StatusCode::BAD_REQUEST,
                "bad_query",
                format!("{name} must be a log size (an integer), found {v:?}"),
            )
        })
    };
    let (from, to) = match (parse("from", q.from), parse("to", q.to)) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let tip = match shared.store.tip() {
        Ok(t) => t,
        Err(e) => return internal(e),
    };
    if from > to || to > tip.log.size() {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_range",
            format!(
                "need from <= to <= {} (the current log size), found from={from} to={to}",
                tip.log.size()
            ),
        );
    }
    match shared
        .store
        .reader()
        .map_err(|e| e.to_string())
        .and_then(|r| r.consistency(from, to))
    {
        Ok(proof) => axum::Json(proof).into_response(),
        Err(e) => internal(e),
    }
}

async fn health(State(shared): State<Arc<Shared>>) -> Response {
    let tip = match shared.store.tip() {
        Ok(t) => t,
        Err(e) => return internal(e),
    };
    let mempool = shared.mempool.lock().map(|m| m.len()).unwrap_or(0);
    axum::Json(Health {
        status: "ok".into(),
        agency: shared.agency.clone(),
        chain_id: shared.chain_id,
        height: tip.height,
        mempool,
        role: if shared.observer {
            "observer"
        } else {
            "validator"
        }
        .into(),
        peers: u32::try_from(shared.metrics.peers.load(Ordering::Relaxed)).unwrap_or(u32::MAX),
    })
    .into_response()
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let m = &shared.metrics;
    let height = shared.store.tip().map(|t| t.height.0).unwrap_or(0);
    let mempool = shared.mempool.lock().map(|m| m.len()).unwrap_or(0);
    let text = format!(
        "# HELP caravan_height Latest durable, certified height.\n# TYPE caravan_height gauge\ncaravan_height {height}\n\
# HELP caravan_mempool_transactions Transactions waiting for a block.\n# TYPE caravan_mempool_transactions gauge\ncaravan_mempool_transactions {mempool}\n\
# HELP caravan_transactions_admitted_total Transactions admitted into the mempool.\n# TYPE caravan_transactions_admitted_total counter\ncaravan_transactions_admitted_total {}\n\
# HELP caravan_transactions_refused_total Transactions refused at admission.\n# TYPE caravan_transactions_refused_total counter\ncaravan_transactions_refused_total {}\n\
# HELP caravan_transactions_committed_total Transactions in committed blocks.\n# TYPE caravan_transactions_committed_total counter\ncaravan_transactions_committed_total {}\n\
# HELP caravan_blocks_committed_total Blocks committed by this node.\n# TYPE caravan_blocks_committed_total counter\ncaravan_blocks_committed_total {}\n\
# HELP caravan_consensus_peers Validators' nodes connected for consensus now.\n# TYPE caravan_consensus_peers gauge\ncaravan_consensus_peers {}\n",
        m.admitted.load(Ordering::Relaxed),
        m.refused.load(Ordering::Relaxed),
        m.committed.load(Ordering::Relaxed),
        m.blocks.load(Ordering::Relaxed),
        m.peers.load(Ordering::Relaxed),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

#[cfg(test)]
mod tests {
    use super::OPENAPI;

    #[test]
    fn every_route_is_documented() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).expect("openapi.json is JSON");
        let paths = doc["paths"].as_object().expect("paths");
        let source = [include_str!("api.rs"), include_str!("explorer.rs")].join("\n");
        let mut routes = 0;
        for line in source.lines() {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix(".route(\"") {
                let path = rest.split('"').next().expect("path");
                assert!(
                    paths.contains_key(path),
                    "route {path} is missing from docs/openapi.json"
                );
                routes += 1;
            }
        }
        assert!(routes >= 28, "found only {routes} routes");
    }
}
