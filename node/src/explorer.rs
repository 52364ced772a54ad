//! The explorer: the pages every node serves to people (customs officers, banks, rail operators)
//! and the public routes they read besides the API's own.
//!
//! - `/` and `/explorer/{file}`: a single-page app, its files compiled into the node (no CDN, no
//!   external network). Its proof verification runs in the browser, in the sdk's own
//!   verification compiled to WebAssembly (`caravan.wasm`, built by `scripts/build-wasm`).
//! - `GET /v1/genesis`: the genesis the node runs with, for the verify page.
//! - `GET /v1/overview`: agencies, validator status, height, throughput, the latest blocks.
//! - `GET /v1/search?q=`: where a search term leads. Anyone gets the matches that follow from the
//!   term's form (SCO code, transaction id, height); a signed read also searches document,
//!   container and train numbers and consignment references, among what the reader may see.
//! - `GET /v1/events`: server-sent events, one `block` event per committed block.
//!
//! The block summaries and the search index are this node's own tables, written in the same
//! durable transaction as the block; they are not part of the protocol.

// Handlers return early with a ready error response; its size does not matter on this path.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};

use caravan_sdk::api::READ_PARTICIPANT_HEADER;
use caravan_sdk::block::Block;
use caravan_sdk::codec;
use caravan_sdk::credential::Credential;
use caravan_sdk::ids::{BlockId, Height, TxId};
use caravan_sdk::trade::ident::ScoCode;
use caravan_sdk::trade::model::{Consignment, CreditAttestation, DocumentRecord};

use crate::api::error;
use crate::api_trade::{ReaderIdentity, authenticate, get as get_state};
use crate::execution::tkeys;
use crate::node::{Shared, now_ms};
use crate::store::Reader;

/// The page files, compiled in: (name, content type, bytes).
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../assets/explorer/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/explorer/app.js"),
    ),
    (
        "i18n.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/explorer/i18n.js"),
    ),
    (
        "caravan.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/explorer/caravan.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/explorer/app.css"),
    ),
    (
        "caravan.wasm",
        "application/wasm",
        include_bytes!("../assets/explorer/caravan.wasm"),
    ),
];

/// Pages may load only the node's own files, and may compile WebAssembly (the verifier).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// How many blocks the overview lists.
const OVERVIEW_BLOCKS: u64 = 20;
/// The window over which the overview's throughput is measured.
const RATE_WINDOW_MS: u64 = 60_000;
/// The most blocks read to measure throughput.
const RATE_MAX_BLOCKS: u64 = 2_000;
/// The longest search term.
const MAX_QUERY_CHARS: usize = 128;
/// The most matches a search returns.
const MAX_MATCHES: usize = 50;

/// The explorer's routes.
pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/", get(index))
        .route("/explorer/{file}", get(asset))
        .route("/v1/genesis", get(genesis))
        .route("/v1/overview", get(overview))
        .route("/v1/search", get(search))
        .route("/v1/events", get(events))
        .route("/v1/sco/{code}/credential", get(credential))
}

fn page_headers(response: &mut Response, content_type: &str) {
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
}

async fn index() -> Response {
    asset(Path("index.html".to_string())).await
}

async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, bytes)) => {
            let mut response = bytes.into_response();
            page_headers(&mut response, content_type);
            response
        }
        None => error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("the explorer has no file {file:?}"),
        ),
    }
}

fn internal(e: impl std::fmt::Display) -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
}

/// `GET /v1/genesis`.
async fn genesis(State(shared): State<Arc<Shared>>) -> Response {
    match serde_json::to_vec_pretty(&shared.genesis) {
        Ok(bytes) => {
            let mut response = bytes.into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(e) => internal(e),
    }
}

/// This node's summary of a committed block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockSummary {
    /// Its height.
    pub height: Height,
    /// Its id.
    pub id: BlockId,
    /// The proposer's time.
    pub time_ms: u64,
    /// How many transactions it holds.
    pub txs: u32,
    /// How many of each kind (the body's `type`).
    pub kinds: BTreeMap<String, u32>,
}

impl BlockSummary {
    /// The summary of `block`, whose id is `id`.
    pub fn of(block: &Block, id: BlockId) -> Self {
        let mut kinds = BTreeMap::new();
        for tx in &block.transactions {
            *kinds.entry(tx.tx.body.type_name().to_string()).or_insert(0) += 1;
        }
        BlockSummary {
            height: block.header.height,
            id,
            time_ms: block.header.time_ms,
            txs: block.header.transaction_count,
            kinds,
        }
    }

    /// As stored.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// From stored bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

/// A search term as indexed and looked up: upper case, letters and digits only.
pub fn normalize(term: &str) -> String {
    term.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_uppercase)
        .collect()
}

/// What a document is found by.
fn document_terms(
    fields: &caravan_sdk::trade::documents::DocumentFields,
) -> Vec<(&'static str, String)> {
    use caravan_sdk::trade::documents::DocumentFields as F;
    let mut out = vec![("number", fields.number().to_string())];
    let mut containers = |list: &[caravan_sdk::trade::documents::ContainerSeal]| {
        for c in list {
            out.push(("container", c.container.as_str().to_string()));
        }
    };
    match fields {
        F::Transport(d) => {
            containers(&d.containers);
            if let Some(t) = &d.vessel_voyage_or_train {
                out.push(("train", t.clone()));
            }
        }
        F::PackingList(d) => containers(&d.containers),
        F::InterchangeReceipt(d) => containers(&d.containers),
        F::Declaration(d) => {
            if let Some(t) = &d.voyage_or_train {
                out.push(("train", t.clone()));
            }
            out.push(("number", d.transport_document_number.clone()));
        }
        F::Invoice(_) | F::CertificateOfOrigin(_) => {}
    }
    out.retain(|(_, t)| !normalize(t).is_empty());
    out
}

/// One entry of the search index.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct IndexEntry {
    /// The document.
    document: TxId,
}

/// The search index entries a block's state writes add: each document written, under each of
/// its numbers, containers and trains.
pub fn search_terms(writes: &[(Vec<u8>, Option<Vec<u8>>)]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (key, value) in writes {
        let (Some(rest), Some(value)) = (key.strip_prefix(b"d/"), value) else {
            continue;
        };
        if rest.len() != 32 {
            continue;
        }
        let Ok(record) = codec::decode::<DocumentRecord>(value, codec::MAX_BLOCK_BYTES) else {
            continue;
        };
        let entry = serde_json::to_vec(&IndexEntry {
            document: record.id,
        })
        .unwrap_or_default();
        for (_, term) in document_terms(&record.fields) {
            out.push((normalize(&term), entry.clone()));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// One agency in the overview.
#[derive(Serialize)]
struct AgencyView {
    id: String,
    name: String,
    country: String,
    validator: bool,
    signed_latest: bool,
}

#[derive(Serialize)]
struct NodeView {
    agency: String,
    role: &'static str,
}

#[derive(Serialize)]
struct Overview {
    chain_id: String,
    height: Height,
    node: NodeView,
    agencies: Vec<AgencyView>,
    tx_per_s: f64,
    latest_blocks: Vec<BlockSummary>,
}

/// `GET /v1/overview`.
async fn overview(State(shared): State<Arc<Shared>>) -> Response {
    let work = move || -> Result<Overview, crate::store::StoreError> {
        let reader = shared.store.reader()?;
        let tip = reader.tip()?;
        let validators = reader.validators()?;
        let signers: Vec<_> = match reader.block(tip.height)? {
            Some((_, certificate)) => certificate.signatures.iter().map(|s| s.validator).collect(),
            None => Vec::new(),
        };
        let agencies = reader
            .members()?
            .into_iter()
            .map(|card| {
                let key = validators
                    .validators
                    .iter()
                    .find(|v| v.agency == card.agency)
                    .map(|v| v.public_key);
                AgencyView {
                    id: card.agency.to_string(),
                    name: card.name,
                    country: card.country,
                    validator: key.is_some(),
                    signed_latest: key.is_some_and(|k| signers.contains(&k)),
                }
            })
            .collect();
        let now = now_ms();
        let mut latest_blocks = Vec::new();
        let mut in_window = 0u64;
        let mut h = tip.height.0;
        while h > 0 && tip.height.0 - h < RATE_MAX_BLOCKS {
            let Some(summary) = reader.summary(Height(h))? else {
                break;
            };
            let recent = summary.time_ms + RATE_WINDOW_MS >= now;
            if recent {
                in_window += u64::from(summary.txs);
            }
            let listed = tip.height.0 - h < OVERVIEW_BLOCKS;
            if listed {
                latest_blocks.push(summary);
            } else if !recent {
                break;
            }
            h -= 1;
        }
        Ok(Overview {
            chain_id: shared.chain_id.to_string(),
            height: tip.height,
            node: NodeView {
                agency: shared.agency.to_string(),
                role: if shared.observer {
                    "observer"
                } else {
                    "validator"
                },
            },
            agencies,
            tx_per_s: in_window as f64 * 1000.0 / RATE_WINDOW_MS as f64,
            latest_blocks,
        })
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(view)) => axum::Json(view).into_response(),
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e),
    }
}

#[derive(Deserialize)]
struct SearchQuery {
    q: Option<String>,
}

/// One search result.
#[derive(Serialize, PartialEq, Default)]
struct Match {
    kind: &'static str,
    id: String,
    label: String,
    consignment: Option<String>,
    /// For a document: its kind, its number, and the field that matched with its value.
    #[serde(skip_serializing_if = "Option::is_none")]
    document_kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
}

#[derive(Serialize)]
struct SearchResult {
    query: String,
    signed_in: bool,
    matches: Vec<Match>,
    note: Option<String>,
}

/// `GET /v1/search?q=TEXT`, signed or not.
async fn search(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<SearchQuery>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let query = q.q.unwrap_or_default().trim().to_string();
    if query.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_query",
            "give the search term as ?q=: an SCO code, consignment reference (UCR), document, \
             container or train number, transaction id or block height",
        );
    }
    if query.chars().count() > MAX_QUERY_CHARS {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_query",
            format!("a search term has at most {MAX_QUERY_CHARS} characters"),
        );
    }
    let reader = match shared.store.reader() {
        Ok(r) => r,
        Err(e) => return internal(e),
    };
    let who = if headers.contains_key(READ_PARTICIPANT_HEADER) {
        match authenticate(&reader, &headers, &uri) {
            Ok(who) => Some(who),
            Err(r) => return r,
        }
    } else {
        None
    };
    match find(&reader, who.as_ref(), &query) {
        Ok(matches) => {
            let note = match (&who, matches.is_empty()) {
                (None, _) => Some(
                    "sign in to search consignment references and document, container and \
                     train numbers"
                        .to_string(),
                ),
                (Some(_), true) => Some(format!("nothing you may see matches {query:?}")),
                (Some(_), false) => None,
            };
            axum::Json(SearchResult {
                query,
                signed_in: who.is_some(),
                matches,
                note,
            })
            .into_response()
        }
        Err(r) => r,
    }
}

/// The matches of `query` that `who` (or anyone, for `None`) may see.
fn find(
    reader: &Reader,
    who: Option<&ReaderIdentity>,
    query: &str,
) -> Result<Vec<Match>, Response> {
    let mut matches = Vec::new();
    if let Ok(sco) = ScoCode::new(query) {
        let known = match who {
            Some(_) => get_state::<caravan_sdk::trade::model::Enterprise>(
                reader,
                &tkeys::enterprise(sco.as_str()),
            )?
            .is_some(),
            None => true,
        };
        if known {
            matches.push(Match {
                kind: "sco",
                id: sco.as_str().to_string(),
                label: format!("SCO code {sco}"),
                ..Match::default()
            });
        }
    }
    if let Ok(id) = query.parse::<TxId>()
        && reader.tx(&id).map_err(internal)?.is_some()
    {
        matches.push(Match {
            kind: "tx",
            id: id.to_string(),
            label: format!("transaction {id}"),
            ..Match::default()
        });
    }
    if let Ok(h) = query.parse::<u64>() {
        let tip = reader.tip().map_err(internal)?;
        if h >= 1 && h <= tip.height.0 {
            matches.push(Match {
                kind: "block",
                id: h.to_string(),
                label: format!("block {h}"),
                ..Match::default()
            });
        }
    }
    let Some(who) = who else {
        return Ok(matches);
    };
    for ucr in [query.to_string(), query.to_uppercase()] {
        if let Some(k) = get_state::<Consignment>(reader, &tkeys::consignment(&ucr))? {
            let m = Match {
                kind: "consignment",
                id: k.ucr.clone(),
                label: format!("consignment {}", k.ucr),
                consignment: Some(k.ucr),
                ..Match::default()
            };
            if !matches.contains(&m) {
                matches.push(m);
            }
        }
    }
    let term = normalize(query);
    if term.is_empty() {
        return Ok(matches);
    }
    for entry in reader.search(&term).map_err(internal)? {
        if matches.len() >= MAX_MATCHES {
            break;
        }
        let Ok(entry) = serde_json::from_slice::<IndexEntry>(&entry) else {
            continue;
        };
        let Some(d) = get_state::<DocumentRecord>(reader, &tkeys::document(&entry.document))?
        else {
            continue;
        };
        // The index keeps the numbers of earlier versions; a document is found by its current ones.
        let Some((field, value)) = document_terms(&d.fields)
            .into_iter()
            .find(|(_, t)| normalize(t) == term)
        else {
            continue;
        };
        if !crate::api_trade::may_read_document(reader, who, &d)? {
            continue;
        }
        matches.push(Match {
            kind: "document",
            id: d.id.to_string(),
            label: format!(
                "{} {}: {field} {value}",
                d.fields.kind_name(),
                d.fields.number()
            ),
            consignment: d.consignment.clone(),
            document_kind: Some(d.fields.kind_name()),
            number: Some(d.fields.number().to_string()),
            field: Some(field),
            value: Some(value),
        });
    }
    Ok(matches)
}

/// `GET /v1/events`: one `block` event (its summary as JSON) per committed block, from the
/// moment of connecting; a comment every 15 s keeps the connection open.
async fn events(State(shared): State<Arc<Shared>>) -> Response {
    let receiver = shared.height.subscribe();
    let from = *receiver.borrow();
    let stream = futures_util::stream::unfold(
        (shared, receiver, from, Vec::<Event>::new()),
        |(shared, mut receiver, mut sent, mut pending)| async move {
            loop {
                if let Some(event) = pending.pop() {
                    return Some((
                        Ok::<_, Infallible>(event),
                        (shared, receiver, sent, pending),
                    ));
                }
                if receiver.changed().await.is_err() {
                    return None;
                }
                let now = *receiver.borrow_and_update();
                let reader = match shared.store.reader() {
                    Ok(r) => r,
                    Err(_) => return None,
                };
                // At most the latest 100 blocks: a slow reader skips, it does not lag.
                let first = sent.0.max(now.0.saturating_sub(100)) + 1;
                for h in (first..=now.0).rev() {
                    if let Ok(Some(summary)) = reader.summary(Height(h))
                        && let Ok(e) = Event::default().event("block").json_data(&summary)
                    {
                        pending.push(e);
                    }
                }
                sent = now;
            }
        },
    );
    let mut response = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[derive(Deserialize)]
struct CredentialQuery {
    attestation: Option<String>,
}

/// `GET /v1/sco/{code}/credential?attestation=ID`: a credit attestation of the SCO code as a
/// W3C Verifiable Credential (`application/vc`), carrying its proof bundle. A signed read.
async fn credential(
    State(shared): State<Arc<Shared>>,
    Path(code): Path<String>,
    Query(q): Query<CredentialQuery>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let sco = match ScoCode::new(&code) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_id", e.to_string()),
    };
    let Some(attestation) = q.attestation else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_id",
            "name the credit attestation with ?attestation=ID",
        );
    };
    let id = match attestation.parse::<TxId>() {
        Ok(id) => id,
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_id", e.to_string()),
    };
    let (reader, _who) = match crate::api_trade::signed_reader(&shared, &headers, &uri) {
        Ok(x) => x,
        Err(r) => return r,
    };
    match get_state::<CreditAttestation>(&reader, &tkeys::attestation(&id)) {
        Ok(Some(a)) if a.sco_code.as_str() == sco.as_str() => {}
        Ok(_) => {
            return error(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("{sco} has no credit attestation {id}"),
            );
        }
        Err(r) => return r,
    }
    let bundle = match crate::api::committed_bundle(&reader, &id) {
        Ok(b) => b,
        Err(r) => return r,
    };
    match Credential::from_bundle(&shared.genesis, &bundle) {
        Ok(credential) => {
            let mut response = credential.to_json_pretty().into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/vc"),
            );
            response
        }
        Err(e) => internal(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use caravan_sdk::hash::Digest;
    use caravan_sdk::ids::ParticipantId;
    use caravan_sdk::trade::documents::DocumentFields;
    use caravan_sdk::trade::model::DocumentStatus;
    use caravan_sdk::trade::sample;

    fn record(id: u8, fields: DocumentFields) -> (Vec<u8>, Option<Vec<u8>>) {
        let id = TxId(Digest([id; 32]));
        let record = DocumentRecord {
            id,
            issuer: ParticipantId::new("CN-CR-EXPRESS").expect("id"),
            consignment: Some("CN-QDG-2026-0001".into()),
            leg: Some(2),
            fields,
            versions: Vec::new(),
            status: DocumentStatus::Active,
        };
        (tkeys::document(&id), Some(codec::encode(&record)))
    }

    #[test]
    fn terms_are_case_and_punctuation_free() {
        assert_eq!(normalize(" smgs 24-0417/0093 "), "SMGS2404170093");
        assert_eq!(normalize("x8017"), "X8017");
        assert_eq!(normalize("--"), "");
    }

    #[test]
    fn documents_are_indexed_by_number_container_and_train() {
        let rail = DocumentFields::Transport(sample::rail_consignment_note());
        let containers: Vec<String> = sample::containers()
            .iter()
            .map(|c| c.container.as_str().to_string())
            .collect();
        assert!(!containers.is_empty());
        let writes = vec![
            record(7, rail),
            // Other records are not documents: skipped, however they decode.
            (b"k/CN-QDG-2026-0001".to_vec(), Some(vec![1, 2, 3])),
            (b"d/short".to_vec(), Some(vec![1])),
            (tkeys::document(&TxId(Digest([8; 32]))), None),
        ];
        let terms = search_terms(&writes);
        let keys: Vec<&str> = terms.iter().map(|(t, _)| t.as_str()).collect();
        assert!(keys.contains(&"SMGS2404170093"), "{keys:?}");
        assert!(keys.contains(&"X8017"), "{keys:?}");
        for c in &containers {
            assert!(
                keys.contains(&normalize(c).as_str()),
                "{c} missing from {keys:?}"
            );
        }
        assert_eq!(terms.len(), 2 + containers.len(), "{keys:?}");
        for (_, entry) in &terms {
            let entry: IndexEntry = serde_json::from_slice(entry).expect("entry");
            assert_eq!(entry.document, TxId(Digest([7; 32])));
        }
    }

    #[test]
    fn a_declaration_is_found_by_its_transport_document_number_too() {
        let declaration = sample::declaration();
        let writes = vec![record(9, DocumentFields::Declaration(declaration.clone()))];
        let keys: Vec<String> = search_terms(&writes).into_iter().map(|(t, _)| t).collect();
        assert!(keys.contains(&normalize(&declaration.number)));
        assert!(keys.contains(&normalize(&declaration.transport_document_number)));
    }

    #[test]
    fn every_page_file_is_served_with_its_type_and_policy() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        for (name, content_type, bytes) in ASSETS {
            let response = runtime.block_on(asset(Path(name.to_string())));
            assert_eq!(response.status(), StatusCode::OK, "{name}");
            assert_eq!(response.headers()[header::CONTENT_TYPE], *content_type);
            assert!(
                response.headers()[header::CONTENT_SECURITY_POLICY]
                    .to_str()
                    .expect("ascii")
                    .starts_with("default-src 'self'")
            );
            assert!(!bytes.is_empty(), "{name} is empty");
        }
        let missing = runtime.block_on(asset(Path("../ledger.redb".to_string())));
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    }
}
