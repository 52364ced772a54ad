//! Execution of the trade bodies: enterprises and SCO codes, credit attestations, documents,
//! consignments with their cross-validation reports, and financing liens. Each function checks
//! the record's rules against state and writes the changes into the transaction's layer; a
//! refusal names the record and the rule.

use caravan_sdk::codec;
use caravan_sdk::hash::{Digest, Domain, hash_parts};
use caravan_sdk::ids::{ParticipantId, TxId};
use caravan_sdk::trade::documents::DocumentFields;
use caravan_sdk::trade::ident::ScoCode;
use caravan_sdk::trade::model::{
    Consignment, ConsignmentStatus, CreditAttestation, DocumentRecord, DocumentStatus,
    DocumentVersion, Enterprise, Lien, ReportAttestation, ReportDecision, Revocation,
    TransportEvent, business_key, day_of,
};
use caravan_sdk::trade::rules::{self, ConsignmentDocuments, Report, RuleParams, RuleStatus};
use caravan_sdk::tx::{Body, RejectReason, Rejection, SignedTx};

use super::state::{StateError, StateView, TxState, keys};
use super::tx::Context;
use super::types::Participant;

type Applied = Result<Result<(), Rejection>, StateError>;

fn refuse(reason: RejectReason, detail: impl Into<String>) -> Applied {
    Ok(Err(Rejection::new(reason, detail)))
}

/// State keys of the trade records.
pub mod tkeys {
    use caravan_sdk::hash::Digest;
    use caravan_sdk::ids::{ParticipantId, TxId};

    use super::keys::raw;

    /// An enterprise by SCO code.
    pub fn enterprise(sco: &str) -> Vec<u8> {
        raw("e", &[sco.as_bytes()])
    }
    /// The SCO code of a participant.
    pub fn enterprise_of(participant: &ParticipantId) -> Vec<u8> {
        raw("ep", &[participant.as_str().as_bytes()])
    }
    /// An enterprise by legal id (`uscc:...`, `lei:...`, `nat:CC:...`).
    pub fn legal_id(id: &str) -> Vec<u8> {
        raw("el", &[id.as_bytes()])
    }
    /// The next SCO serial of a country.
    pub fn serial(country: &str) -> Vec<u8> {
        raw("es", &[country.as_bytes()])
    }
    /// A credit attestation.
    pub fn attestation(id: &TxId) -> Vec<u8> {
        raw("c", &[id.0.as_bytes()])
    }
    /// Index: attestations of an SCO code.
    pub fn attestations_of(sco: &str) -> Vec<u8> {
        raw("cs", &[sco.as_bytes()])
    }
    /// A document.
    pub fn document(id: &TxId) -> Vec<u8> {
        raw("d", &[id.0.as_bytes()])
    }
    /// Index: documents by content hash.
    pub fn by_content(hash: &Digest) -> Vec<u8> {
        raw("dh", &[hash.as_bytes()])
    }
    /// Index: documents by business key.
    pub fn by_business_key(key: &Digest) -> Vec<u8> {
        raw("dk", &[key.as_bytes()])
    }
    /// A consignment.
    pub fn consignment(ucr: &str) -> Vec<u8> {
        raw("k", &[ucr.as_bytes()])
    }
    /// Index: consignments of a participant.
    pub fn consignments_of(participant: &ParticipantId) -> Vec<u8> {
        raw("kp", &[participant.as_str().as_bytes()])
    }
    /// A lien.
    pub fn lien(id: &TxId) -> Vec<u8> {
        raw("l", &[id.0.as_bytes()])
    }
    /// Index: liens on a document.
    pub fn liens_on(document: &TxId) -> Vec<u8> {
        raw("ld", &[document.0.as_bytes()])
    }
    /// The rule set's parameters.
    pub fn rule_params() -> Vec<u8> {
        raw("params", &[b"rules"])
    }
    /// `prefix/child`.
    pub fn child(prefix: &[u8], child: &[u8]) -> Vec<u8> {
        let mut out = prefix.to_vec();
        out.push(b'/');
        out.extend_from_slice(child);
        out
    }
}

/// The ids stored under an index prefix (`prefix/<32 bytes>`).
fn index_ids<V: StateView>(state: &TxState<'_, V>, prefix: &[u8]) -> Result<Vec<TxId>, StateError> {
    Ok(ids_in_index(
        prefix,
        state.scan(&tkeys::child(prefix, b""))?,
    ))
}

/// The ids in the entries of an index under `prefix` (keys `prefix/<32 bytes>`), as returned by
/// a scan of `prefix/`.
pub fn ids_in_index(prefix: &[u8], entries: super::Entries) -> Vec<TxId> {
    entries
        .into_iter()
        .filter_map(|(key, _)| <[u8; 32]>::try_from(key.get(prefix.len() + 1..)?).ok())
        .map(|bytes| TxId(Digest(bytes)))
        .collect()
}

/// The hash agencies cite when they attest a report.
pub fn report_hash(report: &Report) -> Digest {
    hash_parts(
        Domain::Content,
        &[b"validation report v1", &codec::encode(report)],
    )
}

fn participant<V: StateView>(
    state: &TxState<'_, V>,
    id: &ParticipantId,
) -> Result<Option<Participant>, StateError> {
    state.get(&keys::participant(id))
}

/// Executes a trade body. `signer` is authenticated and holds one of the body's roles.
pub fn apply<V: StateView>(
    state: &mut TxState<'_, V>,
    ctx: &Context<'_>,
    tx: &SignedTx,
    id: TxId,
    signer: &Participant,
) -> Applied {
    let who = &tx.tx.signer;
    let today = day_of(ctx.time_ms);
    match &tx.tx.body {
        Body::RegisterEnterprise {
            id: pid,
            name,
            country,
            legal_ids,
            roles,
            public_key,
        } => {
            if state.contains(&keys::participant(pid))? {
                return refuse(
                    RejectReason::DuplicateParticipant,
                    format!("participant {pid} is already registered"),
                );
            }
            let mut legal_keys = Vec::new();
            if let Some(u) = &legal_ids.uscc {
                legal_keys.push(format!("uscc:{u}"));
            }
            if let Some(l) = &legal_ids.lei {
                legal_keys.push(format!("lei:{l}"));
            }
            if let Some(n) = &legal_ids.national {
                legal_keys.push(format!("nat:{}:{}", n.country, n.id));
            }
            for key in &legal_keys {
                if let Some(existing) = state.get::<String>(&tkeys::legal_id(key))? {
                    return refuse(
                        RejectReason::DuplicateParticipant,
                        format!("legal id {key} is already registered as {existing}"),
                    );
                }
            }
            let serial_key = tkeys::serial(country.as_str());
            let serial: u32 = state.get(&serial_key)?.unwrap_or(1);
            let sco = match ScoCode::issue(country, serial) {
                Ok(sco) => sco,
                Err(e) => {
                    return refuse(
                        RejectReason::Conflict,
                        format!("cannot issue an SCO code: {e}"),
                    );
                }
            };
            state.put(serial_key, &(serial + 1));
            for key in legal_keys {
                state.put(tkeys::legal_id(&key), &sco.as_str().to_string());
            }
            state.put(
                keys::participant(pid),
                &Participant {
                    name: name.clone(),
                    roles: roles.clone(),
                    public_key: *public_key,
                    registered_at: ctx.height,
                    registered_by_tx: Some(id),
                    agency: false,
                },
            );
            state.put(tkeys::enterprise_of(pid), &sco.as_str().to_string());
            state.put(
                tkeys::enterprise(sco.as_str()),
                &Enterprise {
                    sco_code: sco,
                    participant: pid.clone(),
                    name: name.clone(),
                    country: *country,
                    legal_ids: legal_ids.clone(),
                    registered_by: who.clone(),
                    registered_at: ctx.height,
                    public_key: *public_key,
                },
            );
            Ok(Ok(()))
        }
        Body::AttestCredit {
            sco_code,
            record,
            valid_from,
            valid_until,
            evidence_hash,
        } => {
            if !state.contains(&tkeys::enterprise(sco_code.as_str()))? {
                return refuse(
                    RejectReason::NotFound,
                    format!("SCO code {sco_code} is not registered"),
                );
            }
            state.put(
                tkeys::attestation(&id),
                &CreditAttestation {
                    id,
                    sco_code: sco_code.clone(),
                    record: record.clone(),
                    valid_from: *valid_from,
                    valid_until: *valid_until,
                    evidence_hash: *evidence_hash,
                    issuer: who.clone(),
                    attested_at: ctx.height,
                    revoked: None,
                },
            );
            state.mark(tkeys::child(
                &tkeys::attestations_of(sco_code.as_str()),
                id.0.as_bytes(),
            ));
            Ok(Ok(()))
        }
        Body::RevokeCredit {
            attestation,
            reason,
        } => {
            let key = tkeys::attestation(attestation);
            let Some(mut a) = state.get::<CreditAttestation>(&key)? else {
                return refuse(
                    RejectReason::NotFound,
                    format!("no credit attestation {attestation}"),
                );
            };
            if &a.issuer != who {
                return refuse(
                    RejectReason::NotPermitted,
                    format!(
                        "attestation {attestation} was issued by {}; only its issuer revokes it",
                        a.issuer
                    ),
                );
            }
            if a.revoked.is_some() {
                return refuse(
                    RejectReason::Conflict,
                    format!("attestation {attestation} is already revoked"),
                );
            }
            a.revoked = Some(Revocation {
                tx: id,
                at: ctx.height,
                reason: reason.clone(),
            });
            state.put(key, &a);
            Ok(Ok(()))
        }
        Body::AnchorDocument {
            consignment,
            leg,
            content_hash,
            fields_root,
            fields,
        } => {
            let mut fields = (**fields).clone();
            fields.canonicalize();
            if let Some(ucr) = consignment {
                let Some(mut k) = state.get::<Consignment>(&tkeys::consignment(ucr))? else {
                    return refuse(
                        RejectReason::NotFound,
                        format!("no consignment {ucr}: open it before anchoring its documents"),
                    );
                };
                if k.status != ConsignmentStatus::Open {
                    return refuse(
                        RejectReason::Conflict,
                        format!("consignment {ucr} is closed"),
                    );
                }
                if !signer.is_agency() && !k.parties.contains(who) {
                    return refuse(
                        RejectReason::NotPermitted,
                        format!("{who} is not a party to consignment {ucr}"),
                    );
                }
                if let Some(leg) = leg
                    && usize::from(*leg) >= k.legs.len()
                {
                    return refuse(
                        RejectReason::NotFound,
                        format!(
                            "consignment {ucr} has {} legs; there is no leg {leg}",
                            k.legs.len()
                        ),
                    );
                }
                if matches!(fields, DocumentFields::Transport(_)) && leg.is_none() {
                    return refuse(
                        RejectReason::Conflict,
                        "a transport document of a consignment must name its leg",
                    );
                }
                k.documents.push(id);
                write_document(
                    state,
                    id,
                    who,
                    consignment.clone(),
                    *leg,
                    fields.clone(),
                    *content_hash,
                    *fields_root,
                    ctx,
                )?;
                revalidate(state, &mut k)?;
                state.put(tkeys::consignment(ucr), &k);
            } else {
                write_document(
                    state,
                    id,
                    who,
                    None,
                    *leg,
                    fields,
                    *content_hash,
                    *fields_root,
                    ctx,
                )?;
            }
            Ok(Ok(()))
        }
        Body::AmendDocument {
            document,
            content_hash,
            fields_root,
            fields,
        } => {
            let key = tkeys::document(document);
            let mut d = match issued_active(state, document, who, "amends")? {
                Ok(d) => d,
                Err(r) => return Ok(Err(r)),
            };
            if d.fields.kind_name() != fields.kind_name() {
                return refuse(
                    RejectReason::Conflict,
                    format!(
                        "document {document} is a {}; an amendment cannot make it a {}",
                        d.fields.kind_name(),
                        fields.kind_name()
                    ),
                );
            }
            let mut fields = (**fields).clone();
            fields.canonicalize();
            d.fields = fields;
            d.versions.push(DocumentVersion {
                tx: id,
                content_hash: *content_hash,
                fields_root: *fields_root,
                at: ctx.height,
            });
            state.mark(tkeys::child(
                &tkeys::by_content(content_hash),
                document.0.as_bytes(),
            ));
            state.mark(tkeys::child(
                &tkeys::by_business_key(&business_key(&d.issuer, &d.fields)),
                document.0.as_bytes(),
            ));
            let ucr = d.consignment.clone();
            state.put(key, &d);
            revalidate_consignment(state, ucr.as_deref())?;
            Ok(Ok(()))
        }
        Body::WithdrawDocument { document, reason } => {
            let key = tkeys::document(document);
            let mut d = match issued_active(state, document, who, "withdraws")? {
                Ok(d) => d,
                Err(r) => return Ok(Err(r)),
            };
            d.status = DocumentStatus::Withdrawn {
                reason: reason.clone(),
                tx: id,
            };
            let ucr = d.consignment.clone();
            state.put(key, &d);
            revalidate_consignment(state, ucr.as_deref())?;
            Ok(Ok(()))
        }
        Body::OpenConsignment { ucr, legs, parties } => {
            let key = tkeys::consignment(ucr);
            if state.contains(&key)? {
                return refuse(
                    RejectReason::Conflict,
                    format!("consignment {ucr} already exists"),
                );
            }
            let mut all: Vec<ParticipantId> = vec![who.clone()];
            all.extend(legs.iter().map(|l| l.carrier.clone()));
            all.extend(parties.iter().cloned());
            all.sort();
            all.dedup();
            for p in &all {
                if participant(state, p)?.is_none() {
                    return refuse(
                        RejectReason::NotFound,
                        format!("party {p} of consignment {ucr} is not a registered participant"),
                    );
                }
            }
            for p in &all {
                state.mark(tkeys::child(&tkeys::consignments_of(p), ucr.as_bytes()));
            }
            state.put(
                key,
                &Consignment {
                    ucr: ucr.clone(),
                    opened_by: who.clone(),
                    parties: all,
                    legs: legs.clone(),
                    documents: Vec::new(),
                    events: Vec::new(),
                    status: ConsignmentStatus::Open,
                    report: None,
                    attestations: Vec::new(),
                },
            );
            Ok(Ok(()))
        }
        Body::RecordTransportEvent {
            ucr,
            leg,
            event,
            place,
            at_ms,
        } => {
            let key = tkeys::consignment(ucr);
            let Some(mut k) = state.get::<Consignment>(&key)? else {
                return refuse(RejectReason::NotFound, format!("no consignment {ucr}"));
            };
            if k.status != ConsignmentStatus::Open {
                return refuse(
                    RejectReason::Conflict,
                    format!("consignment {ucr} is closed"),
                );
            }
            let Some(l) = k.legs.get(usize::from(*leg)) else {
                return refuse(
                    RejectReason::NotFound,
                    format!(
                        "consignment {ucr} has {} legs; there is no leg {leg}",
                        k.legs.len()
                    ),
                );
            };
            if !signer.is_agency() && &l.carrier != who {
                return refuse(
                    RejectReason::NotPermitted,
                    format!(
                        "leg {leg} of {ucr} is carried by {}; only its carrier or an agency records its events",
                        l.carrier
                    ),
                );
            }
            k.events.push(TransportEvent {
                leg: *leg,
                kind: event.clone(),
                place: place.clone(),
                at_ms: *at_ms,
                recorded_by: who.clone(),
                tx: id,
            });
            state.put(key, &k);
            Ok(Ok(()))
        }
        Body::CloseConsignment { ucr } => {
            let key = tkeys::consignment(ucr);
            let Some(mut k) = state.get::<Consignment>(&key)? else {
                return refuse(RejectReason::NotFound, format!("no consignment {ucr}"));
            };
            if !signer.is_agency() && &k.opened_by != who {
                return refuse(
                    RejectReason::NotPermitted,
                    format!("only {} or an agency closes {ucr}", k.opened_by),
                );
            }
            if k.status == ConsignmentStatus::Closed {
                return refuse(
                    RejectReason::Conflict,
                    format!("consignment {ucr} is already closed"),
                );
            }
            k.status = ConsignmentStatus::Closed;
            state.put(key, &k);
            Ok(Ok(()))
        }
        Body::AttestReport {
            ucr,
            report_hash: cited,
            decision,
        } => {
            let key = tkeys::consignment(ucr);
            let Some(mut k) = state.get::<Consignment>(&key)? else {
                return refuse(RejectReason::NotFound, format!("no consignment {ucr}"));
            };
            if !signer.is_agency() {
                return refuse(
                    RejectReason::NotPermitted,
                    "only agencies of the federation attest validation reports",
                );
            }
            let Some(report) = &k.report else {
                return refuse(
                    RejectReason::Conflict,
                    format!("consignment {ucr} has no validation report yet"),
                );
            };
            let current = report_hash(report);
            if &current != cited {
                return refuse(
                    RejectReason::Conflict,
                    format!(
                        "the report of {ucr} is now {current}; the attestation cites {cited} (re-read the report)"
                    ),
                );
            }
            if let ReportDecision::Override { rule, .. } = decision
                && !matches!(report.status(*rule), Some(RuleStatus::Fail { .. }))
            {
                return refuse(
                    RejectReason::Conflict,
                    format!(
                        "rule {} did not fail in the current report; nothing to override",
                        rule.name()
                    ),
                );
            }
            k.attestations.push(ReportAttestation {
                agency: who.clone(),
                report_hash: current,
                decision: decision.clone(),
                tx: id,
            });
            state.put(key, &k);
            Ok(Ok(()))
        }
        Body::RegisterLien {
            document,
            amount,
            until,
        } => {
            let Some(d) = state.get::<DocumentRecord>(&tkeys::document(document))? else {
                return refuse(RejectReason::NotFound, format!("no document {document}"));
            };
            if let DocumentStatus::Withdrawn { reason, .. } = &d.status {
                return refuse(
                    RejectReason::Conflict,
                    format!("document {document} is withdrawn ({reason}); it cannot be financed"),
                );
            }
            if *until < today {
                return refuse(
                    RejectReason::Conflict,
                    format!("the lien would end on {until}, before today ({today})"),
                );
            }
            // The same document: the same id, any document with the same content hash, or the
            // same normalised business key (issuer + number + amount).
            let mut candidates = vec![*document];
            for version in &d.versions {
                candidates.extend(index_ids(state, &tkeys::by_content(&version.content_hash))?);
            }
            candidates.extend(index_ids(
                state,
                &tkeys::by_business_key(&business_key(&d.issuer, &d.fields)),
            )?);
            candidates.sort();
            candidates.dedup();
            for candidate in candidates {
                for lien_id in index_ids(state, &tkeys::liens_on(&candidate))? {
                    if let Some(existing) = state.get::<Lien>(&tkeys::lien(&lien_id))?
                        && existing.is_active(today)
                    {
                        let how = if &candidate == document {
                            "the same document"
                        } else {
                            "a copy of this document"
                        };
                        return refuse(
                            RejectReason::DoubleFinancing,
                            format!(
                                "{how} ({candidate}) is already financed by lien {} of {} for {} until {}",
                                existing.id, existing.bank, existing.amount, existing.until
                            ),
                        );
                    }
                }
            }
            state.put(
                tkeys::lien(&id),
                &Lien {
                    id,
                    bank: who.clone(),
                    document: *document,
                    amount: *amount,
                    until: *until,
                    registered_at: ctx.height,
                    released_by: None,
                },
            );
            state.mark(tkeys::child(&tkeys::liens_on(document), id.0.as_bytes()));
            Ok(Ok(()))
        }
        Body::ReleaseLien { lien } => {
            let key = tkeys::lien(lien);
            let Some(mut l) = state.get::<Lien>(&key)? else {
                return refuse(RejectReason::NotFound, format!("no lien {lien}"));
            };
            if &l.bank != who {
                return refuse(
                    RejectReason::NotPermitted,
                    format!(
                        "lien {lien} belongs to {}; only it releases the lien",
                        l.bank
                    ),
                );
            }
            if l.released_by.is_some() {
                return refuse(
                    RejectReason::Conflict,
                    format!("lien {lien} is already released"),
                );
            }
            l.released_by = Some(id);
            state.put(key, &l);
            Ok(Ok(()))
        }
        Body::RegisterParticipant { .. }
        | Body::AnchorRecord { .. }
        | Body::ProposeChange { .. }
        | Body::ApproveChange { .. }
        | Body::ReportEquivocation { .. } => Ok(Ok(())),
    }
}

#[allow(clippy::too_many_arguments)]
fn write_document<V: StateView>(
    state: &mut TxState<'_, V>,
    id: TxId,
    issuer: &ParticipantId,
    consignment: Option<String>,
    leg: Option<u16>,
    fields: DocumentFields,
    content_hash: Digest,
    fields_root: Digest,
    ctx: &Context<'_>,
) -> Result<(), StateError> {
    state.mark(tkeys::child(
        &tkeys::by_content(&content_hash),
        id.0.as_bytes(),
    ));
    state.mark(tkeys::child(
        &tkeys::by_business_key(&business_key(issuer, &fields)),
        id.0.as_bytes(),
    ));
    state.put(
        tkeys::document(&id),
        &DocumentRecord {
            id,
            issuer: issuer.clone(),
            consignment,
            leg,
            fields,
            versions: vec![DocumentVersion {
                tx: id,
                content_hash,
                fields_root,
                at: ctx.height,
            }],
            status: DocumentStatus::Active,
        },
    );
    Ok(())
}

/// The document, if it exists, was issued by `who` and is active; otherwise the refusal.
fn issued_active<V: StateView>(
    state: &TxState<'_, V>,
    document: &TxId,
    who: &ParticipantId,
    verb: &str,
) -> Result<Result<DocumentRecord, Rejection>, StateError> {
    let Some(d) = state.get::<DocumentRecord>(&tkeys::document(document))? else {
        return Ok(Err(Rejection::new(
            RejectReason::NotFound,
            format!("no document {document}"),
        )));
    };
    if &d.issuer != who {
        return Ok(Err(Rejection::new(
            RejectReason::NotPermitted,
            format!(
                "document {document} was issued by {}; only its issuer {verb} it",
                d.issuer
            ),
        )));
    }
    if d.status != DocumentStatus::Active {
        return Ok(Err(Rejection::new(
            RejectReason::Conflict,
            format!("document {document} is withdrawn"),
        )));
    }
    Ok(Ok(d))
}

/// Re-runs the rules of the consignment `ucr` (if any) and stores its report.
fn revalidate_consignment<V: StateView>(
    state: &mut TxState<'_, V>,
    ucr: Option<&str>,
) -> Result<(), StateError> {
    if let Some(ucr) = ucr
        && let Some(mut k) = state.get::<Consignment>(&tkeys::consignment(ucr))?
    {
        revalidate(state, &mut k)?;
        state.put(tkeys::consignment(ucr), &k);
    }
    Ok(())
}

/// Re-runs the rule set over the consignment's active documents and stores the report.
fn revalidate<V: StateView>(state: &TxState<'_, V>, k: &mut Consignment) -> Result<(), StateError> {
    let params: RuleParams = state.get(&tkeys::rule_params())?.unwrap_or_default();
    let mut records = Vec::new();
    for doc in &k.documents {
        if let Some(d) = state.get::<DocumentRecord>(&tkeys::document(doc))?
            && d.status == DocumentStatus::Active
        {
            records.push(d);
        }
    }
    // The latest active document of each kind counts (anchoring order); transport documents
    // count per leg, in leg order.
    let mut docs = ConsignmentDocuments::default();
    let mut transport: Vec<Option<&caravan_sdk::trade::documents::TransportDocument>> =
        vec![None; k.legs.len()];
    for d in &records {
        match &d.fields {
            DocumentFields::Invoice(f) => docs.invoice = Some(f),
            DocumentFields::Declaration(f) => docs.declaration = Some(f),
            DocumentFields::Transport(f) => {
                if let Some(slot) = d.leg.and_then(|l| transport.get_mut(usize::from(l))) {
                    *slot = Some(f);
                }
            }
            DocumentFields::PackingList(f) => docs.packing_list = Some(f),
            DocumentFields::CertificateOfOrigin(f) => docs.certificate_of_origin = Some(f),
            DocumentFields::InterchangeReceipt(f) => docs.interchange_receipts.push(f),
        }
    }
    docs.transport = transport.into_iter().flatten().collect();
    k.report = Some(rules::validate(&docs, &params));
    Ok(())
}
