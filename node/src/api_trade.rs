//! Read endpoints of the trade records, with signed read requests: SCO codes and credit
//! summaries for any registered participant; consignment key fields, documents and validation
//! reports for the consignment's parties and the federation's agencies; liens for banks,
//! agencies and the document's issuer. An unsigned or unknown reader gets 403 and nothing else.

// Handlers return early with a ready error response; its size does not matter on this path.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use caravan_sdk::api::{
    ConsignmentView, DocumentView, READ_MAX_SKEW_MS, READ_PARTICIPANT_HEADER,
    READ_SIGNATURE_HEADER, READ_TIME_HEADER, ScoView, ValidationView, read_request_digest,
};
use caravan_sdk::codec;
use caravan_sdk::ids::{ParticipantId, TxId};
use caravan_sdk::keys::Signature;
use caravan_sdk::trade::model::{
    Consignment, ConsignmentHistory, CreditAttestation, DocumentRecord, Enterprise, Lien,
    credit_summary, day_of,
};
use caravan_sdk::trade::rules::RuleStatus;
use caravan_sdk::tx::Role;

use crate::api::error;
use crate::execution::{Participant, StateView, report_hash, tkeys};
use crate::node::{Shared, now_ms};
use crate::store::Reader;

fn internal(e: impl std::fmt::Display) -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
}

fn forbidden(detail: impl Into<String>) -> Response {
    error(StatusCode::FORBIDDEN, "forbidden", detail)
}

pub(crate) fn get<T>(reader: &Reader, key: &[u8]) -> Result<Option<T>, Response>
where
    T: for<'b> minicbor::Decode<'b, ()> + minicbor::Encode<()>,
{
    match StateView::get(reader, key).map_err(internal)? {
        Some(bytes) => codec::decode(&bytes, codec::MAX_BLOCK_BYTES)
            .map(Some)
            .map_err(internal),
        None => Ok(None),
    }
}

/// Who is reading: a registered participant whose signature over the request verifies.
pub(crate) struct ReaderIdentity {
    id: ParticipantId,
    participant: Participant,
}

impl ReaderIdentity {
    pub(crate) fn is_agency(&self) -> bool {
        self.participant.is_agency()
    }

    /// Whether it may read whole blocks to follow the ledger: an agency, or an observer.
    pub(crate) fn may_follow(&self) -> bool {
        self.is_agency() || self.participant.roles.contains(&Role::Observer)
    }

    /// Who it is.
    pub(crate) fn id(&self) -> &ParticipantId {
        &self.id
    }
}

pub(crate) fn authenticate(
    reader: &Reader,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<ReaderIdentity, Response> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(id), Some(time), Some(signature)) = (
        header(READ_PARTICIPANT_HEADER),
        header(READ_TIME_HEADER),
        header(READ_SIGNATURE_HEADER),
    ) else {
        return Err(forbidden(
            "this resource needs a signed read request from a registered participant",
        ));
    };
    let denied = || forbidden("the read request's signature, time or participant is not valid");
    let id = ParticipantId::new(id).map_err(|_| denied())?;
    let time: u64 = time.parse().map_err(|_| denied())?;
    if now_ms().abs_diff(time) > READ_MAX_SKEW_MS {
        return Err(forbidden(
            "the read request's time is more than 5 minutes from the node's clock",
        ));
    }
    let signature = Signature::from_hex(signature).map_err(|_| denied())?;
    let participant: Participant =
        get(reader, &crate::execution::keys::participant(&id))?.ok_or_else(denied)?;
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("");
    participant
        .public_key
        .verify(&read_request_digest("GET", path, time), &signature)
        .map_err(|_| denied())?;
    Ok(ReaderIdentity { id, participant })
}

/// Opens a read snapshot and authenticates the signed request.
pub(crate) fn signed_reader(
    shared: &Shared,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<(Reader, ReaderIdentity), Response> {
    let reader = shared.store.reader().map_err(internal)?;
    let who = authenticate(&reader, headers, uri)?;
    Ok((reader, who))
}

/// The ids stored under an index prefix (`prefix/<32 bytes>`).
fn ids_under(reader: &Reader, prefix: &[u8]) -> Result<Vec<TxId>, Response> {
    let entries = reader.scan(&tkeys::child(prefix, b"")).map_err(internal)?;
    Ok(crate::execution::ids_in_index(prefix, entries))
}

/// The state key prefixes whose proofs any registered participant may fetch: participants, SCO
/// codes and their enterprises, credit attestations and their index, and the rule parameters.
/// Other records (documents, consignments, liens, nonces and their indexes) are proven to the
/// agencies only, since even a key's absence says something about them.
const PUBLIC_STATE_PREFIXES: [&[u8]; 8] = [b"p", b"e", b"ep", b"el", b"es", b"c", b"cs", b"params"];

/// Whether `who` may fetch the state proof of `key`.
pub(crate) fn may_prove_key(who: &ReaderIdentity, key: &[u8]) -> Result<(), Response> {
    if !crate::execution::state_tree::in_tree(key) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "not_provable",
            "replay markers (keys n/…) are not in the state tree; a transaction's receipt shows \
             whether its nonce was fresh",
        ));
    }
    let prefix = key.split(|b| *b == b'/').next().unwrap_or_default();
    if who.is_agency() || (key.contains(&b'/') && PUBLIC_STATE_PREFIXES.contains(&prefix)) {
        return Ok(());
    }
    Err(forbidden(
        "state proofs of this key are served to the agencies; other participants may prove \
         participants, SCO codes, enterprises and credit attestations (keys p/, e/, ep/, el/, \
         es/, c/, cs/, params/)",
    ))
}

#[derive(Deserialize)]
/// Query of `GET /v1/sco/{code}/proof`.
pub struct ScoProofQuery {
    attestation: Option<String>,
    format: Option<String>,
}

/// `GET /v1/sco/{code}/proof[?attestation=ID]`: the state proof bundle of the SCO code's
/// enterprise record (`e/{code}`), or of one of its credit attestations (`c/{id}`), at the tip.
/// An attestation's proof shows whether it is revoked; an attestation that does not exist gets
/// a proof of absence.
pub async fn sco_proof(
    State(shared): State<Arc<Shared>>,
    Path(code): Path<String>,
    Query(q): Query<ScoProofQuery>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let cbor = match crate::api::wants_cbor(q.format.as_deref(), &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let sco = match caravan_sdk::trade::ident::ScoCode::new(&code) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_id", e.to_string()),
    };
    let attestation = match q.attestation.as_deref().map(str::parse::<TxId>) {
        None => None,
        Some(Ok(id)) => Some(id),
        Some(Err(e)) => return error(StatusCode::BAD_REQUEST, "bad_id", e.to_string()),
    };
    let reader = match signed_reader(&shared, &headers, &uri) {
        Ok((reader, _)) => reader,
        Err(r) => return r,
    };
    let key = match attestation {
        None => tkeys::enterprise(sco.as_str()),
        Some(id) => {
            let key = tkeys::attestation(&id);
            match get::<CreditAttestation>(&reader, &key) {
                Ok(Some(a)) if a.sco_code.as_str() != sco.as_str() => {
                    return error(
                        StatusCode::NOT_FOUND,
                        "not_found",
                        format!("attestation {id} is about {}, not {sco}", a.sco_code),
                    );
                }
                Ok(_) => key,
                Err(r) => return r,
            }
        }
    };
    crate::api::state_bundle(&reader, &key, cbor)
}

/// `GET /v1/sco/{code}`.
pub async fn sco(
    State(shared): State<Arc<Shared>>,
    Path(code): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let reader = match signed_reader(&shared, &headers, &uri) {
        Ok((reader, _)) => reader,
        Err(r) => return r,
    };
    let sco = match caravan_sdk::trade::ident::ScoCode::new(&code) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_id", e.to_string()),
    };
    match sco_view(&shared, &reader, sco.as_str()) {
        Ok(Some(view)) => axum::Json(view).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("SCO code {sco} is not registered"),
        ),
        Err(r) => r,
    }
}

fn sco_view(shared: &Shared, reader: &Reader, sco: &str) -> Result<Option<ScoView>, Response> {
    let Some(enterprise) = get::<Enterprise>(reader, &tkeys::enterprise(sco))? else {
        return Ok(None);
    };
    let tip = shared.store.tip().map_err(internal)?;
    let mut attestations = Vec::new();
    for id in ids_under(reader, &tkeys::attestations_of(sco))? {
        if let Some(a) = get::<CreditAttestation>(reader, &tkeys::attestation(&id))? {
            attestations.push(a);
        }
    }
    let today = day_of(tip.time_ms);
    let mut history = ConsignmentHistory::default();
    let mut consignments = Vec::new();
    let mut liens = Vec::new();
    let prefix = tkeys::child(&tkeys::consignments_of(&enterprise.participant), b"");
    for (key, _) in reader.scan(&prefix).map_err(internal)? {
        let ucr = String::from_utf8_lossy(&key[prefix.len()..]).to_string();
        let Some(k) = get::<Consignment>(reader, &tkeys::consignment(&ucr))? else {
            continue;
        };
        history.consignments += 1;
        let mut open = 0;
        if let Some(report) = &k.report {
            if report.is_clean() {
                history.clean += 1;
            }
            let overridden: Vec<_> = k
                .attestations
                .iter()
                .filter(|a| a.report_hash == report_hash(report))
                .filter_map(|a| match &a.decision {
                    caravan_sdk::trade::model::ReportDecision::Override { rule, .. } => Some(*rule),
                    caravan_sdk::trade::model::ReportDecision::Confirm => None,
                })
                .collect();
            open = report
                .results
                .iter()
                .filter(|r| {
                    matches!(r.status, RuleStatus::Fail { .. }) && !overridden.contains(&r.rule)
                })
                .count() as u32;
            history.open_discrepancies += open;
        }
        for doc in &k.documents {
            for lien in ids_under(reader, &tkeys::liens_on(doc))? {
                if let Some(lien) = get::<Lien>(reader, &tkeys::lien(&lien))?
                    && lien.is_active(today)
                {
                    history.active_liens += 1;
                    liens.push(lien);
                }
            }
        }
        consignments.push(caravan_sdk::api::ConsignmentRef {
            ucr: k.ucr,
            status: k.status,
            clean: k.report.as_ref().map(|r| r.is_clean()),
            open_discrepancies: open,
        });
    }
    let summary = credit_summary(&enterprise, &attestations, history, today);
    attestations.sort_by_key(|a| (a.attested_at, a.id));
    Ok(Some(ScoView {
        enterprise,
        summary,
        attestations,
        height: tip.height,
        consignments,
        liens,
    }))
}

fn document_view(d: DocumentRecord, full: bool) -> DocumentView {
    DocumentView {
        id: d.id,
        kind: d.fields.kind_name().to_string(),
        number: if full {
            d.fields.number().to_string()
        } else {
            String::new()
        },
        issuer: d.issuer,
        consignment: d.consignment,
        leg: d.leg,
        versions: d.versions,
        status: d.status,
        fields: full.then_some(d.fields),
    }
}

fn load_consignment(reader: &Reader, ucr: &str) -> Result<Consignment, Response> {
    get::<Consignment>(reader, &tkeys::consignment(ucr))?.ok_or_else(|| {
        error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no consignment {ucr}"),
        )
    })
}

/// `GET /v1/consignments/{ucr}`.
pub async fn consignment(
    State(shared): State<Arc<Shared>>,
    Path(ucr): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let (reader, who) = match signed_reader(&shared, &headers, &uri) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut k = match load_consignment(&reader, &ucr) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let full = who.is_agency() || k.parties.contains(&who.id);
    let mut documents = Vec::new();
    for id in &k.documents {
        match get::<DocumentRecord>(&reader, &tkeys::document(id)) {
            Ok(Some(d)) => documents.push(document_view(d, full)),
            Ok(None) => {}
            Err(r) => return r,
        }
    }
    if !full {
        k.report = None;
        k.attestations.clear();
    }
    axum::Json(ConsignmentView {
        consignment: k,
        documents,
        redacted: !full,
    })
    .into_response()
}

/// `GET /v1/consignments/{ucr}/validation`.
pub async fn validation(
    State(shared): State<Arc<Shared>>,
    Path(ucr): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let (reader, who) = match signed_reader(&shared, &headers, &uri) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let k = match load_consignment(&reader, &ucr) {
        Ok(k) => k,
        Err(r) => return r,
    };
    if !(who.is_agency() || k.parties.contains(&who.id)) {
        return forbidden(format!(
            "the validation report of {ucr} is readable by its parties and the agencies"
        ));
    }
    axum::Json(ValidationView {
        ucr: k.ucr,
        report_hash: k.report.as_ref().map(report_hash),
        report: k.report,
        attestations: k.attestations,
    })
    .into_response()
}

/// `GET /v1/documents/{id}`.
pub async fn document(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let (reader, who) = match signed_reader(&shared, &headers, &uri) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Ok(id) = id.parse::<TxId>() else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_id",
            format!("{id:?} is not a document id"),
        );
    };
    let d = match get::<DocumentRecord>(&reader, &tkeys::document(&id)) {
        Ok(Some(d)) => d,
        Ok(None) => {
            return error(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no document {id}"),
            );
        }
        Err(r) => return r,
    };
    let full = match may_read_document(&reader, &who, &d) {
        Ok(full) => full,
        Err(r) => return r,
    };
    axum::Json(document_view(d, full)).into_response()
}

/// Whether `who` may read a document's key fields: its issuer, its consignment's parties and
/// the agencies.
pub(crate) fn may_read_document(
    reader: &Reader,
    who: &ReaderIdentity,
    d: &DocumentRecord,
) -> Result<bool, Response> {
    if who.is_agency() || d.issuer == who.id {
        return Ok(true);
    }
    if let Some(ucr) = &d.consignment {
        return Ok(get::<Consignment>(reader, &tkeys::consignment(ucr))?
            .is_some_and(|k| k.parties.contains(&who.id)));
    }
    Ok(false)
}

#[derive(Deserialize)]
/// Query of `GET /v1/liens`.
pub struct LiensQuery {
    document: Option<String>,
}

/// `GET /v1/liens?document=ID`.
pub async fn liens(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<LiensQuery>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let (reader, who) = match signed_reader(&shared, &headers, &uri) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(Ok(document)) = q.document.as_deref().map(str::parse::<TxId>) else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_query",
            "document must be a document id",
        );
    };
    let d = match get::<DocumentRecord>(&reader, &tkeys::document(&document)) {
        Ok(Some(d)) => d,
        Ok(None) => {
            return error(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no document {document}"),
            );
        }
        Err(r) => return r,
    };
    if !(who.is_agency() || who.participant.roles.contains(&Role::Bank) || d.issuer == who.id) {
        return forbidden("liens are readable by banks, agencies and the document's issuer");
    }
    let ids = match ids_under(&reader, &tkeys::liens_on(&document)) {
        Ok(ids) => ids,
        Err(r) => return r,
    };
    let mut out = Vec::new();
    for id in ids {
        match get::<Lien>(&reader, &tkeys::lien(&id)) {
            Ok(Some(l)) => out.push(l),
            Ok(None) => {}
            Err(r) => return r,
        }
    }
    axum::Json(out).into_response()
}

/// `GET /v1/participants/{id}`: any registered participant may look another up.
pub async fn participant(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let reader = match signed_reader(&shared, &headers, &uri) {
        Ok((reader, _)) => reader,
        Err(r) => return r,
    };
    let Ok(id) = ParticipantId::new(id.clone()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_id",
            format!("{id:?} is not a participant id"),
        );
    };
    let p = match get::<Participant>(&reader, &crate::execution::keys::participant(&id)) {
        Ok(Some(p)) => p,
        Ok(None) => {
            return error(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no participant {id}"),
            );
        }
        Err(r) => return r,
    };
    let sco_code = match get::<String>(&reader, &tkeys::enterprise_of(&id)) {
        Ok(code) => code.and_then(|c| caravan_sdk::trade::ident::ScoCode::new(&c).ok()),
        Err(r) => return r,
    };
    axum::Json(caravan_sdk::api::ParticipantView {
        id,
        name: p.name,
        roles: p.roles,
        public_key: p.public_key,
        registered_at: p.registered_at,
        sco_code,
    })
    .into_response()
}

/// Whether a transaction carries consignment key fields (a document's fields).
fn protected(tx: &caravan_sdk::tx::SignedTx) -> Option<TxId> {
    match &tx.tx.body {
        caravan_sdk::tx::Body::AnchorDocument { .. } => Some(tx.id()),
        caravan_sdk::tx::Body::AmendDocument { document, .. } => Some(*document),
        _ => None,
    }
}

/// Whether `who` may read the whole of `tx`: anyone registered for transactions without key
/// fields; for a document's transactions, its issuer, its consignment's parties and the agencies.
pub(crate) fn may_read_tx(
    reader: &Reader,
    who: &ReaderIdentity,
    tx: &caravan_sdk::tx::SignedTx,
) -> Result<bool, Response> {
    let Some(document) = protected(tx) else {
        return Ok(true);
    };
    if who.is_agency() || tx.tx.signer == who.id {
        return Ok(true);
    }
    let Some(d) = get::<DocumentRecord>(reader, &tkeys::document(&document))? else {
        return Ok(false);
    };
    if d.issuer == who.id {
        return Ok(true);
    }
    if let Some(ucr) = &d.consignment
        && let Some(k) = get::<Consignment>(reader, &tkeys::consignment(ucr))?
    {
        return Ok(k.parties.contains(&who.id));
    }
    Ok(false)
}
