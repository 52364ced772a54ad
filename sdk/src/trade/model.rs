//! The trade records the ledger keeps: enterprises with their SCO codes, credit attestations,
//! anchored documents, consignments across legs, and financing liens; and the credit summary,
//! derived deterministically from live attestations and consignment history.

use minicbor::{Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::hash::{Digest, Domain, hash_parts};
use crate::ids::{Height, ParticipantId, TxId};
use crate::keys::PublicKey;
use crate::trade::documents::{Date, DocumentFields};
use crate::trade::ident::{Amount, CountryCode, Lei, ScoCode, UnLocode, Uscc, normalize_name};
use crate::trade::rules::{Report, Rule};
use crate::tx::Role;

/// An enterprise's legal identifiers; at least one is required.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
pub struct LegalIds {
    /// Chinese Unified Social Credit Code.
    #[n(0)]
    pub uscc: Option<Uscc>,
    /// Legal Entity Identifier (ISO 17442).
    #[n(1)]
    pub lei: Option<Lei>,
    /// A national registry id with its country.
    #[n(2)]
    pub national: Option<NationalId>,
}

/// A national registry identifier (e.g. a Kazakh BIN).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
pub struct NationalId {
    /// The issuing country.
    #[n(0)]
    pub country: CountryCode,
    /// The identifier as the registry writes it (1 to 32 letters and digits).
    #[n(1)]
    pub id: String,
}

impl LegalIds {
    /// Checks that at least one identifier is present and the national id is well formed.
    pub fn validate(&self) -> Result<(), String> {
        if self.uscc.is_none() && self.lei.is_none() && self.national.is_none() {
            return Err(
                "an enterprise needs at least one legal id (USCC, LEI or national id)".into(),
            );
        }
        if let Some(n) = &self.national
            && (n.id.is_empty()
                || n.id.len() > 32
                || !n.id.chars().all(|c| c.is_ascii_alphanumeric()))
        {
            return Err(format!(
                "national id {:?} must be 1 to 32 letters and digits",
                n.id
            ));
        }
        Ok(())
    }
}

/// An enterprise registered on the ledger, with the SCO code the ledger issued it.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
pub struct Enterprise {
    /// Its SCO code.
    #[n(0)]
    pub sco_code: ScoCode,
    /// The participant that signs for it.
    #[n(1)]
    pub participant: ParticipantId,
    /// Its legal name.
    #[n(2)]
    pub name: String,
    /// Its country.
    #[n(3)]
    pub country: CountryCode,
    /// Its legal identifiers.
    #[n(4)]
    pub legal_ids: LegalIds,
    /// The agency that registered it.
    #[n(5)]
    pub registered_by: ParticipantId,
    /// When.
    #[n(6)]
    pub registered_at: Height,
    /// Its current signing key.
    #[n(7)]
    pub public_key: PublicKey,
}

/// A China customs credit grade under the regulation that defines it. The two schemes are kept
/// apart: a grade is never converted from one to the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(tag = "regulation", content = "grade", rename_all = "snake_case")]
pub enum CustomsGrade {
    /// GACC Order 251, in force until 2026-03-31.
    #[n(0)]
    Order251(#[n(0)] Grade251),
    /// GACC Order 282, in force from 2026-04-01.
    #[n(1)]
    Order282(#[n(0)] Grade282),
}

/// Grades of Order 251.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(index_only)]
#[serde(rename_all = "snake_case")]
pub enum Grade251 {
    /// 高级认证企业 (AEO).
    #[n(0)]
    AdvancedCertified,
    /// 一般信用企业.
    #[n(1)]
    General,
    /// 失信企业.
    #[n(2)]
    Dishonest,
}

/// Grades of Order 282.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(index_only)]
#[serde(rename_all = "snake_case")]
pub enum Grade282 {
    /// 高级认证 (AEO).
    #[n(0)]
    AdvancedCertified,
    /// 认证 (AEO).
    #[n(1)]
    Certified,
    /// 常规.
    #[n(2)]
    Regular,
    /// 失信.
    #[n(3)]
    Dishonest,
    /// 严重失信.
    #[n(4)]
    SeriouslyDishonest,
}

impl CustomsGrade {
    /// Whether the grade counts as AEO: advanced certified under Order 251; advanced certified or
    /// certified under Order 282.
    pub fn is_aeo(self) -> bool {
        matches!(
            self,
            CustomsGrade::Order251(Grade251::AdvancedCertified)
                | CustomsGrade::Order282(Grade282::AdvancedCertified | Grade282::Certified)
        )
    }

    /// Whether the grade marks the enterprise as dishonest.
    pub fn is_dishonest(self) -> bool {
        matches!(
            self,
            CustomsGrade::Order251(Grade251::Dishonest)
                | CustomsGrade::Order282(Grade282::Dishonest | Grade282::SeriouslyDishonest)
        )
    }
}

/// What a credit attestation says.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CreditRecord {
    /// A China customs credit grade.
    #[n(0)]
    CustomsGrade {
        /// The grade with its regulation.
        #[n(0)]
        grade: CustomsGrade,
    },
    /// AEO mutual recognition by partner countries.
    #[n(1)]
    AeoRecognition {
        /// The recognising countries.
        #[n(0)]
        countries: Vec<CountryCode>,
    },
    /// A partner country's own grade.
    #[n(2)]
    PartnerGrade {
        /// The country.
        #[n(0)]
        country: CountryCode,
        /// The scheme's name.
        #[n(1)]
        scheme: String,
        /// The grade in that scheme.
        #[n(2)]
        grade: String,
    },
    /// A violation and its penalty.
    #[n(3)]
    Violation {
        /// What happened.
        #[n(0)]
        description: String,
        /// The penalty, if any.
        #[n(1)]
        penalty: Option<Amount>,
    },
    /// A smuggling finding.
    #[n(4)]
    SmugglingFinding {
        /// What happened.
        #[n(0)]
        description: String,
    },
    /// Tax unpaid for more than three months.
    #[n(5)]
    UnpaidTax {
        /// How much.
        #[n(0)]
        amount: Amount,
    },
    /// A payment default reported by a bank.
    #[n(6)]
    PaymentDefault {
        /// How much.
        #[n(0)]
        amount: Amount,
    },
    /// Trade volume over a period.
    #[n(7)]
    TradeVolume {
        /// First day.
        #[n(0)]
        from: Date,
        /// Last day.
        #[n(1)]
        to: Date,
        /// The volume.
        #[n(2)]
        amount: Amount,
    },
}

impl CreditRecord {
    /// The roles allowed to attest this record: credit agencies, and banks for payment defaults.
    pub fn attesting_roles(&self) -> &'static [Role] {
        match self {
            CreditRecord::PaymentDefault { .. } => &[Role::Credit, Role::Bank],
            _ => &[Role::Credit],
        }
    }
}

/// A revocation of an attestation.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
pub struct Revocation {
    /// The revoking transaction.
    #[n(0)]
    pub tx: TxId,
    /// When.
    #[n(1)]
    pub at: Height,
    /// Why.
    #[n(2)]
    pub reason: String,
}

/// A credit attestation about an SCO code.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
pub struct CreditAttestation {
    /// The attesting transaction.
    #[n(0)]
    pub id: TxId,
    /// About whom.
    #[n(1)]
    pub sco_code: ScoCode,
    /// What.
    #[n(2)]
    pub record: CreditRecord,
    /// First day of validity.
    #[n(3)]
    pub valid_from: Date,
    /// Last day of validity, if it expires.
    #[n(4)]
    pub valid_until: Option<Date>,
    /// Hash of the evidence, which stays with the issuer.
    #[n(5)]
    pub evidence_hash: Digest,
    /// The issuer.
    #[n(6)]
    pub issuer: ParticipantId,
    /// When it was attested.
    #[n(7)]
    pub attested_at: Height,
    /// Its revocation, if revoked.
    #[n(8)]
    pub revoked: Option<Revocation>,
}

impl CreditAttestation {
    /// Live on `day`: not revoked, started, not expired.
    pub fn is_live(&self, day: Date) -> bool {
        self.revoked.is_none()
            && self.valid_from <= day
            && self.valid_until.is_none_or(|until| day <= until)
    }
}

/// Where a document stands.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum DocumentStatus {
    /// In force.
    #[n(0)]
    Active,
    /// Withdrawn by its issuer.
    #[n(1)]
    Withdrawn {
        /// Why.
        #[n(0)]
        reason: String,
        /// The withdrawing transaction.
        #[n(1)]
        tx: TxId,
    },
}

/// One version of a document.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
pub struct DocumentVersion {
    /// The transaction that anchored or amended it.
    #[n(0)]
    pub tx: TxId,
    /// Hash of the original file.
    #[n(1)]
    pub content_hash: Digest,
    /// Root of the salted field commitments.
    #[n(2)]
    pub fields_root: Digest,
    /// When.
    #[n(3)]
    pub at: Height,
}

/// An anchored document: its key fields, its current version and its history.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
pub struct DocumentRecord {
    /// The document id: the transaction that first anchored it.
    #[n(0)]
    pub id: TxId,
    /// Its issuer.
    #[n(1)]
    pub issuer: ParticipantId,
    /// The consignment it belongs to.
    #[n(2)]
    pub consignment: Option<String>,
    /// The transport leg it belongs to (for transport documents).
    #[n(3)]
    pub leg: Option<u16>,
    /// The current key fields.
    #[n(4)]
    pub fields: DocumentFields,
    /// Every version, oldest first; the last is current.
    #[n(5)]
    pub versions: Vec<DocumentVersion>,
    /// Its status.
    #[n(6)]
    pub status: DocumentStatus,
}

impl DocumentRecord {
    /// The current version.
    pub fn current(&self) -> Option<&DocumentVersion> {
        self.versions.last()
    }
}

/// The business key of a document for the double-financing guard: issuer, normalised number and
/// amount (when the document carries one), hashed.
pub fn business_key(issuer: &ParticipantId, fields: &DocumentFields) -> Digest {
    let number = crate::trade::rules::normalize_reference(fields.number());
    let amount = match fields {
        DocumentFields::Invoice(invoice) => format!(
            "{}:{}",
            invoice.total.minor,
            invoice.total.currency.as_str()
        ),
        _ => String::new(),
    };
    let kind = fields.kind_name();
    hash_parts(
        Domain::Content,
        &[
            b"business key v1",
            kind.as_bytes(),
            &[0],
            normalize_name(issuer.as_str()).as_bytes(),
            &[0],
            number.as_bytes(),
            &[0],
            amount.as_bytes(),
        ],
    )
}

/// The mode of a transport leg.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(index_only)]
#[serde(rename_all = "snake_case")]
pub enum LegMode {
    /// Sea.
    #[n(0)]
    Sea,
    /// Rail.
    #[n(1)]
    Rail,
    /// Road.
    #[n(2)]
    Road,
    /// Air.
    #[n(3)]
    Air,
}

/// One leg of a consignment.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
pub struct Leg {
    /// Mode.
    #[n(0)]
    pub mode: LegMode,
    /// The carrier (a registered participant).
    #[n(1)]
    pub carrier: ParticipantId,
    /// Origin.
    #[n(2)]
    pub from: UnLocode,
    /// Destination.
    #[n(3)]
    pub to: UnLocode,
}

/// What happened to a consignment.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum TransportEventKind {
    /// Loaded onto the means of transport.
    #[n(0)]
    Loaded,
    /// Departed.
    #[n(1)]
    Departed,
    /// Crossed a border at a station.
    #[n(2)]
    BorderCrossing,
    /// Arrived.
    #[n(3)]
    Arrived,
    /// Delivered to the consignee.
    #[n(4)]
    Delivered,
}

/// A transport event as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
pub struct TransportEvent {
    /// The leg.
    #[n(0)]
    pub leg: u16,
    /// What.
    #[n(1)]
    pub kind: TransportEventKind,
    /// Where.
    #[n(2)]
    pub place: UnLocode,
    /// When it happened (reporter's clock, ms since the Unix epoch).
    #[n(3)]
    pub at_ms: u64,
    /// Who recorded it.
    #[n(4)]
    pub recorded_by: ParticipantId,
    /// The recording transaction.
    #[n(5)]
    pub tx: TxId,
}

/// An agency's decision on a validation report.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum ReportDecision {
    /// The agency confirms the report as it stands.
    #[n(0)]
    Confirm,
    /// The agency overrides a failed rule, with a reason.
    #[n(1)]
    Override {
        /// The rule.
        #[n(0)]
        rule: Rule,
        /// Why.
        #[n(1)]
        reason: String,
    },
}

/// An agency's attestation of a report.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
pub struct ReportAttestation {
    /// The agency.
    #[n(0)]
    pub agency: ParticipantId,
    /// The hash of the report it looked at.
    #[n(1)]
    pub report_hash: Digest,
    /// Its decision.
    #[n(2)]
    pub decision: ReportDecision,
    /// The attesting transaction.
    #[n(3)]
    pub tx: TxId,
}

/// Whether a consignment is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(index_only)]
#[serde(rename_all = "snake_case")]
pub enum ConsignmentStatus {
    /// Open.
    #[n(0)]
    Open,
    /// Closed.
    #[n(1)]
    Closed,
}

/// A consignment: one UCR across ordered legs, its documents, events and validation report.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
pub struct Consignment {
    /// The unique consignment reference (WCO UCR).
    #[n(0)]
    pub ucr: String,
    /// Who opened it.
    #[n(1)]
    pub opened_by: ParticipantId,
    /// Its parties (who may read its key fields, with the agencies).
    #[n(2)]
    pub parties: Vec<ParticipantId>,
    /// Its legs, in order.
    #[n(3)]
    pub legs: Vec<Leg>,
    /// Its documents (ids), in anchoring order.
    #[n(4)]
    pub documents: Vec<TxId>,
    /// Its transport events.
    #[n(5)]
    pub events: Vec<TransportEvent>,
    /// Open or closed.
    #[n(6)]
    pub status: ConsignmentStatus,
    /// The latest cross-validation report.
    #[n(7)]
    pub report: Option<Report>,
    /// Agencies' attestations of the current report.
    #[n(8)]
    pub attestations: Vec<ReportAttestation>,
}

/// Checks a WCO Unique Consignment Reference: 1 to 35 characters of A-Z, 0-9 and hyphens.
pub fn validate_ucr(ucr: &str) -> Result<(), String> {
    if ucr.is_empty()
        || ucr.len() > 35
        || !ucr
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(format!(
            "consignment reference {ucr:?} must be 1 to 35 characters of A-Z, 0-9 and '-' (WCO UCR)"
        ));
    }
    Ok(())
}

/// A bank's financing lien on a document.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
pub struct Lien {
    /// The lien id: the registering transaction.
    #[n(0)]
    pub id: TxId,
    /// The bank.
    #[n(1)]
    pub bank: ParticipantId,
    /// The document financed.
    #[n(2)]
    pub document: TxId,
    /// The amount financed.
    #[n(3)]
    pub amount: Amount,
    /// Last day of the lien.
    #[n(4)]
    pub until: Date,
    /// When it was registered.
    #[n(5)]
    pub registered_at: Height,
    /// The releasing transaction, once released.
    #[n(6)]
    pub released_by: Option<TxId>,
}

impl Lien {
    /// Active on `day`: not released and not expired.
    pub fn is_active(&self, day: Date) -> bool {
        self.released_by.is_none() && day <= self.until
    }
}

/// An enterprise's consignment history, as the credit summary counts it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsignmentHistory {
    /// Consignments it is a party to.
    pub consignments: u32,
    /// Of those, with a clean cross-validation report.
    pub clean: u32,
    /// Failed rules not overridden by an agency, summed over its consignments.
    pub open_discrepancies: u32,
    /// Active liens on documents of its consignments.
    pub active_liens: u32,
}

/// The current customs grade in a summary, with its issuer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GradeEntry {
    /// The grade.
    pub grade: CustomsGrade,
    /// Who attested it.
    pub issuer: ParticipantId,
    /// The attestation.
    pub attestation: TxId,
}

/// An SCO code's credit summary: what a bank checking trade credit wants, derived
/// deterministically from the live attestations and the consignment history on a given day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditSummary {
    /// The enterprise.
    pub sco_code: ScoCode,
    /// Its name.
    pub name: String,
    /// The day the summary is for.
    pub as_of: Date,
    /// China customs grades in force (at most one per regulation; the most recent attestation wins).
    pub customs_grades: Vec<GradeEntry>,
    /// Whether any grade in force counts as AEO.
    pub aeo: bool,
    /// Countries recognising its AEO status.
    pub aeo_recognised_by: Vec<CountryCode>,
    /// Partner-country grades in force: (country, scheme, grade).
    pub partner_grades: Vec<(CountryCode, String, String)>,
    /// Live violation and smuggling records.
    pub violations: u32,
    /// Whether tax is unpaid for more than three months.
    pub unpaid_tax: bool,
    /// Live payment defaults reported by banks.
    pub payment_defaults: u32,
    /// Attested trade volumes (latest per currency).
    pub trade_volumes: Vec<Amount>,
    /// Consignment history.
    pub history: ConsignmentHistory,
    /// The live attestations the summary is derived from.
    pub live_attestations: Vec<TxId>,
    /// Revoked attestations (ids), for the record.
    pub revoked_attestations: Vec<TxId>,
    /// An overall reading: `good`, `watch` or `adverse`.
    pub standing: String,
}

/// Derives the credit summary. `attestations` may be in any order: the result does not depend on it.
pub fn credit_summary(
    enterprise: &Enterprise,
    attestations: &[CreditAttestation],
    history: ConsignmentHistory,
    as_of: Date,
) -> CreditSummary {
    let mut sorted: Vec<&CreditAttestation> = attestations.iter().collect();
    // Oldest first, so that later attestations override earlier ones deterministically.
    sorted.sort_by_key(|a| (a.attested_at, a.id));
    let mut grade251: Option<GradeEntry> = None;
    let mut grade282: Option<GradeEntry> = None;
    let mut recognised: Vec<CountryCode> = Vec::new();
    let mut partner: Vec<(CountryCode, String, String)> = Vec::new();
    let mut violations = 0;
    let mut unpaid_tax = false;
    let mut payment_defaults = 0;
    let mut volumes: Vec<Amount> = Vec::new();
    let mut live = Vec::new();
    let mut revoked = Vec::new();
    for a in sorted {
        if a.revoked.is_some() {
            revoked.push(a.id);
            continue;
        }
        if !a.is_live(as_of) {
            continue;
        }
        live.push(a.id);
        match &a.record {
            CreditRecord::CustomsGrade { grade } => {
                let entry = GradeEntry {
                    grade: *grade,
                    issuer: a.issuer.clone(),
                    attestation: a.id,
                };
                match grade {
                    CustomsGrade::Order251(_) => grade251 = Some(entry),
                    CustomsGrade::Order282(_) => grade282 = Some(entry),
                }
            }
            CreditRecord::AeoRecognition { countries } => {
                recognised.extend(countries.iter().cloned())
            }
            CreditRecord::PartnerGrade {
                country,
                scheme,
                grade,
            } => {
                partner.retain(|(c, s, _)| !(c == country && s == scheme));
                partner.push((*country, scheme.clone(), grade.clone()));
            }
            CreditRecord::Violation { .. } | CreditRecord::SmugglingFinding { .. } => {
                violations += 1
            }
            CreditRecord::UnpaidTax { .. } => unpaid_tax = true,
            CreditRecord::PaymentDefault { .. } => payment_defaults += 1,
            CreditRecord::TradeVolume { amount, .. } => {
                volumes.retain(|v| v.currency != amount.currency);
                volumes.push(*amount);
            }
        }
    }
    recognised.sort();
    recognised.dedup();
    partner.sort();
    volumes.sort_by(|a, b| a.currency.as_str().cmp(b.currency.as_str()));
    live.sort();
    revoked.sort();
    let customs_grades: Vec<GradeEntry> = grade251.into_iter().chain(grade282).collect();
    let aeo = customs_grades.iter().any(|g| g.grade.is_aeo());
    let dishonest = customs_grades.iter().any(|g| g.grade.is_dishonest());
    let standing = if dishonest || unpaid_tax || payment_defaults > 0 {
        "adverse"
    } else if violations > 0 || history.open_discrepancies > 0 {
        "watch"
    } else {
        "good"
    };
    CreditSummary {
        sco_code: enterprise.sco_code.clone(),
        name: enterprise.name.clone(),
        as_of,
        customs_grades,
        aeo,
        aeo_recognised_by: recognised,
        partner_grades: partner,
        violations,
        unpaid_tax,
        payment_defaults,
        trade_volumes: volumes,
        history,
        live_attestations: live,
        revoked_attestations: revoked,
        standing: standing.to_string(),
    }
}

/// The day (UTC) of a block time in milliseconds since the Unix epoch.
pub fn day_of(time_ms: u64) -> Date {
    let days = (time_ms / 86_400_000) as i64;
    // 1970-01-01 is day 0; from_days_since_epoch covers years 1..9999.
    Date::from_days_since_epoch(days).unwrap_or(Date::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Digest;
    use crate::trade::sample;

    fn attestation(n: u8, record: CreditRecord, at: u64) -> CreditAttestation {
        CreditAttestation {
            id: TxId(Digest([n; 32])),
            sco_code: sample::sco("CN", 1),
            record,
            valid_from: sample::date(2026, 1, 1),
            valid_until: None,
            evidence_hash: Digest::ZERO,
            issuer: ParticipantId::new("CN-QDG-CUSTOMS").expect("id"),
            attested_at: Height(at),
            revoked: None,
        }
    }

    fn enterprise() -> Enterprise {
        Enterprise {
            sco_code: sample::sco("CN", 1),
            participant: ParticipantId::new("CN-HAINA").expect("id"),
            name: "Haina".into(),
            country: sample::country("CN"),
            legal_ids: LegalIds {
                uscc: sample::seller().uscc,
                lei: None,
                national: None,
            },
            registered_by: ParticipantId::new("CN-QDG-CUSTOMS").expect("id"),
            registered_at: Height(1),
            public_key: crate::keys::Keypair::from_seed(&[1; 32]).public(),
        }
    }

    #[test]
    fn summary_keeps_regulations_apart_and_ignores_revoked_and_expired() {
        let day = sample::date(2026, 6, 1);
        let old = attestation(
            1,
            CreditRecord::CustomsGrade {
                grade: CustomsGrade::Order251(Grade251::General),
            },
            2,
        );
        let new = attestation(
            2,
            CreditRecord::CustomsGrade {
                grade: CustomsGrade::Order282(Grade282::Certified),
            },
            3,
        );
        let mut revoked = attestation(
            3,
            CreditRecord::PaymentDefault {
                amount: sample::usd(100),
            },
            4,
        );
        revoked.revoked = Some(Revocation {
            tx: TxId(Digest([9; 32])),
            at: Height(5),
            reason: "paid".into(),
        });
        let mut expired = attestation(
            4,
            CreditRecord::Violation {
                description: "late manifest".into(),
                penalty: None,
            },
            4,
        );
        expired.valid_until = Some(sample::date(2026, 3, 31));
        let all = vec![old.clone(), new.clone(), revoked.clone(), expired.clone()];
        let summary = credit_summary(&enterprise(), &all, ConsignmentHistory::default(), day);
        assert_eq!(
            summary.customs_grades.len(),
            2,
            "both regulations are kept, never merged"
        );
        assert!(summary.aeo, "certified under Order 282 counts as AEO");
        assert_eq!(summary.payment_defaults, 0);
        assert_eq!(summary.violations, 0);
        assert_eq!(summary.revoked_attestations, vec![revoked.id]);
        assert_eq!(summary.standing, "good");
        // Order does not matter.
        let mut reversed = all.clone();
        reversed.reverse();
        assert_eq!(
            credit_summary(&enterprise(), &reversed, ConsignmentHistory::default(), day),
            summary
        );
        // A dishonest grade is adverse; an open discrepancy is watch.
        let bad = attestation(
            5,
            CreditRecord::CustomsGrade {
                grade: CustomsGrade::Order282(Grade282::Dishonest),
            },
            9,
        );
        assert_eq!(
            credit_summary(
                &enterprise(),
                &[new.clone(), bad],
                ConsignmentHistory::default(),
                day
            )
            .standing,
            "adverse"
        );
        let history = ConsignmentHistory {
            open_discrepancies: 1,
            ..Default::default()
        };
        assert_eq!(
            credit_summary(&enterprise(), &[new], history, day).standing,
            "watch"
        );
    }

    #[test]
    fn business_key_ignores_case_and_spacing_of_the_number() {
        let issuer = ParticipantId::new("CN-HAINA").expect("id");
        let a = crate::trade::documents::DocumentFields::Invoice(sample::invoice());
        let mut other = sample::invoice();
        other.number = " hn-2025 0417".into();
        let b = crate::trade::documents::DocumentFields::Invoice(other.clone());
        assert_eq!(business_key(&issuer, &a), business_key(&issuer, &b));
        other.total = sample::usd(1);
        assert_ne!(
            business_key(&issuer, &a),
            business_key(
                &issuer,
                &crate::trade::documents::DocumentFields::Invoice(other)
            )
        );
    }
}
