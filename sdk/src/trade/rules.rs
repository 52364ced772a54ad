//! Cross-validation of a consignment's documents: the eleven rule families of the domain
//! reference, run as a pure function from documents and a versioned rule set to a report.
//! No IO, no clock: the same documents and parameters always give the same report, whatever
//! order the documents arrived in.
//!
//! A rule fails as soon as the documents present contradict each other; it is pending when no
//! contradiction is visible yet but a document it needs is missing; it passes when everything
//! it needs is present and agrees, with a note saying what was compared and how.

use std::collections::{BTreeMap, BTreeSet};

use minicbor::{Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::trade::documents::{
    CertificateOfOrigin, CommercialInvoice, ContainerSeal, CustomsDeclaration, Date,
    DeclarationKind, InterchangeReceipt, PackingList, Party, Quantity, TransportDocument,
    format_milli,
};
use crate::trade::ident::{Amount, UnitCode, UnitDimension, normalize_name};

/// The parameters of a versioned rule set: tolerances and limits, changed by governance and
/// held on the ledger.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
#[serde(deny_unknown_fields)]
pub struct RuleParams {
    /// Version of the rule set these parameters belong to; recorded in every report.
    #[n(0)]
    pub version: u32,
    /// Gross weights agree within this many thousandths of the largest (5 = 0.5 %)...
    #[n(1)]
    pub weight_tolerance_permille: u32,
    /// ...or within this many grams, whichever is larger.
    #[n(2)]
    pub weight_tolerance_min_g: u64,
    /// Largest difference between invoice and declaration totals, in minor currency units.
    #[n(3)]
    pub amount_tolerance_minor: i64,
    /// Bulk (mass or volume) quantities agree within this many thousandths of the larger
    /// (50 = ±5 %, UCP 600 art. 30(b)); counted units must match exactly.
    #[n(4)]
    pub bulk_quantity_tolerance_permille: u32,
    /// Latest shipment or acceptance of the first leg, in days after the export declaration.
    #[n(5)]
    pub max_days_declaration_to_shipment: u32,
}

impl Default for RuleParams {
    /// Rule set version 1.
    fn default() -> Self {
        RuleParams {
            version: 1,
            weight_tolerance_permille: 5,
            weight_tolerance_min_g: 1000,
            amount_tolerance_minor: 0,
            bulk_quantity_tolerance_permille: 50,
            max_days_declaration_to_shipment: 30,
        }
    }
}

/// Rule-set parameters that governance must not adopt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// A parameter outside its meaningful range.
    #[error("rule parameter {param} is {found}: expected {expected}")]
    InvalidParam {
        /// The parameter's name.
        param: &'static str,
        /// Its value.
        found: String,
        /// Its meaningful range.
        expected: &'static str,
    },
}

impl RuleParams {
    /// Checks that every parameter is in its meaningful range.
    pub fn check(&self) -> Result<(), RuleError> {
        let invalid = |param, found: String, expected| {
            Err(RuleError::InvalidParam {
                param,
                found,
                expected,
            })
        };
        if self.version == 0 {
            return invalid("version", self.version.to_string(), "1 or more");
        }
        if self.weight_tolerance_permille > 1000 {
            return invalid(
                "weight_tolerance_permille",
                self.weight_tolerance_permille.to_string(),
                "0 to 1000",
            );
        }
        if self.amount_tolerance_minor < 0 {
            return invalid(
                "amount_tolerance_minor",
                self.amount_tolerance_minor.to_string(),
                "0 or more",
            );
        }
        if self.bulk_quantity_tolerance_permille > 1000 {
            return invalid(
                "bulk_quantity_tolerance_permille",
                self.bulk_quantity_tolerance_permille.to_string(),
                "0 to 1000",
            );
        }
        Ok(())
    }
}

/// The documents of one consignment, as the rules see them.
#[derive(Clone, Debug, Default)]
pub struct ConsignmentDocuments<'a> {
    /// The commercial invoice.
    pub invoice: Option<&'a CommercialInvoice>,
    /// The customs declaration.
    pub declaration: Option<&'a CustomsDeclaration>,
    /// The transport documents, one per leg, in leg order.
    pub transport: Vec<&'a TransportDocument>,
    /// The packing list.
    pub packing_list: Option<&'a PackingList>,
    /// The certificate of origin.
    pub certificate_of_origin: Option<&'a CertificateOfOrigin>,
    /// Equipment interchange receipts, in any order.
    pub interchange_receipts: Vec<&'a InterchangeReceipt>,
}

/// A rule family of the domain reference, in its order.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode, Serialize, Deserialize,
)]
#[cbor(index_only)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// 1. The declaration's transport document number is that of a leg.
    #[n(1)]
    TransportReference,
    /// 2. Seller, buyer and consignee agree across invoice, declaration and transport.
    #[n(2)]
    Parties,
    /// 3. Declared HS headings appear on the invoice and the transport documents.
    #[n(3)]
    HsCodes,
    /// 4. Package counts are equal.
    #[n(4)]
    Packages,
    /// 5. Gross weights agree within tolerance; net never exceeds gross.
    #[n(5)]
    Weights,
    /// 6. Declared quantities match the invoice: counted units exactly, bulk within tolerance.
    #[n(6)]
    Quantities,
    /// 7. Totals, currency and incoterm agree; freight and insurance where the incoterm needs.
    #[n(7)]
    Value,
    /// 8. Containers and seals agree across documents.
    #[n(8)]
    Containers,
    /// 9. Ports and stations agree and legs connect.
    #[n(9)]
    Places,
    /// 10. Invoice, declaration and shipment dates are in order.
    #[n(10)]
    Dates,
    /// 11. Contract numbers agree; origin agrees with the certificate of origin.
    #[n(11)]
    ContractAndOrigin,
}

impl Rule {
    /// Every rule, in the domain reference's order.
    pub const ALL: [Rule; 11] = [
        Rule::TransportReference,
        Rule::Parties,
        Rule::HsCodes,
        Rule::Packages,
        Rule::Weights,
        Rule::Quantities,
        Rule::Value,
        Rule::Containers,
        Rule::Places,
        Rule::Dates,
        Rule::ContractAndOrigin,
    ];

    /// Stable snake_case name, as in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Rule::TransportReference => "transport_reference",
            Rule::Parties => "parties",
            Rule::HsCodes => "hs_codes",
            Rule::Packages => "packages",
            Rule::Weights => "weights",
            Rule::Quantities => "quantities",
            Rule::Value => "value",
            Rule::Containers => "containers",
            Rule::Places => "places",
            Rule::Dates => "dates",
            Rule::ContractAndOrigin => "contract_and_origin",
        }
    }
}

impl core::fmt::Display for Rule {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.pad(self.name())
    }
}

/// One discrepancy: the field compared, the value each document gives, and the tolerance.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// What was compared, e.g. `weight_gross` or `container CSQU3054383`.
    #[n(0)]
    pub field: String,
    /// (document, value) pairs, e.g. `("declaration 4220…", "10000 KGM")`.
    #[n(1)]
    pub values: Vec<(String, String)>,
    /// The tolerance applied, when there is one.
    #[n(2)]
    pub tolerance: Option<String>,
    /// What is wrong, in a sentence.
    #[n(3)]
    pub message: String,
}

/// The outcome of one rule.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RuleStatus {
    /// The documents agree.
    #[n(0)]
    Pass {
        /// What was compared and how it matched, e.g. "seller = consignor on USCC".
        #[n(0)]
        note: String,
    },
    /// The documents disagree.
    #[n(1)]
    Fail {
        /// Every discrepancy found.
        #[n(0)]
        findings: Vec<Finding>,
    },
    /// No discrepancy yet, but documents the rule needs are missing.
    #[n(2)]
    Pending {
        /// The missing document kinds, e.g. `packing_list`.
        #[n(0)]
        missing: Vec<String>,
    },
}

/// One rule and its outcome.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
#[serde(deny_unknown_fields)]
pub struct RuleResult {
    /// The rule.
    #[n(0)]
    pub rule: Rule,
    /// Its outcome.
    #[n(1)]
    pub status: RuleStatus,
}

/// The cross-validation report of a consignment: one result per rule, in rule order.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Version of the rule set that produced the report.
    #[n(0)]
    pub rule_set_version: u32,
    /// One result per rule, in [`Rule::ALL`] order.
    #[n(1)]
    pub results: Vec<RuleResult>,
}

impl Report {
    /// The outcome of `rule`, if the report has it.
    pub fn status(&self, rule: Rule) -> Option<&RuleStatus> {
        self.results
            .iter()
            .find(|result| result.rule == rule)
            .map(|result| &result.status)
    }

    /// Whether every rule passed.
    pub fn is_clean(&self) -> bool {
        Rule::ALL
            .iter()
            .all(|&rule| matches!(self.status(rule), Some(RuleStatus::Pass { .. })))
    }

    /// The report as text, one line per pass or pending rule and per failed finding.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for result in &self.results {
            let name = result.rule.name();
            match &result.status {
                RuleStatus::Pass { note } => out.push(format!("pass    {name:<20} {note}")),
                RuleStatus::Pending { missing } => {
                    out.push(format!("pending {name:<20} missing {}", missing.join(", ")))
                }
                RuleStatus::Fail { findings } => {
                    for f in findings {
                        let values: Vec<String> = f
                            .values
                            .iter()
                            .map(|(doc, v)| format!("{doc}: {v}"))
                            .collect();
                        let tolerance = f
                            .tolerance
                            .as_ref()
                            .map(|t| format!(" tolerance {t}"))
                            .unwrap_or_default();
                        out.push(format!(
                            "FAIL    {name:<20} {}: {} [{}]{tolerance}",
                            f.field,
                            f.message,
                            values.join("; ")
                        ));
                    }
                }
            }
        }
        out
    }

    /// The rules that failed, in rule order.
    pub fn failed(&self) -> Vec<Rule> {
        self.rules_where(|status| matches!(status, RuleStatus::Fail { .. }))
    }

    /// The rules that are pending, in rule order.
    pub fn pending(&self) -> Vec<Rule> {
        self.rules_where(|status| matches!(status, RuleStatus::Pending { .. }))
    }

    fn rules_where(&self, wanted: impl Fn(&RuleStatus) -> bool) -> Vec<Rule> {
        self.results
            .iter()
            .filter(|result| wanted(&result.status))
            .map(|result| result.rule)
            .collect()
    }
}

/// Normalises a document reference (transport document, contract or seal number) for
/// comparison: whitespace and hyphens removed, letters upper-cased.
pub fn normalize_reference(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

/// Runs every rule of the rule set `params` over the documents of one consignment.
pub fn validate(docs: &ConsignmentDocuments<'_>, params: &RuleParams) -> Report {
    let view = View::new(docs);
    let results = Rule::ALL
        .iter()
        .map(|&rule| RuleResult {
            rule,
            status: match rule {
                Rule::TransportReference => transport_reference(&view),
                Rule::Parties => parties(&view),
                Rule::HsCodes => hs_codes(&view),
                Rule::Packages => packages(&view),
                Rule::Weights => weights(&view, params),
                Rule::Quantities => quantities(&view, params),
                Rule::Value => value(&view, params),
                Rule::Containers => containers(&view),
                Rule::Places => places(&view),
                Rule::Dates => dates(&view, params),
                Rule::ContractAndOrigin => contract_and_origin(&view),
            },
        })
        .collect();
    Report {
        rule_set_version: params.version,
        results,
    }
}

// ---- shared machinery -----------------------------------------------------------------------

const INVOICE: &str = "invoice";
const DECLARATION: &str = "declaration";
const TRANSPORT: &str = "transport";
const PACKING_LIST: &str = "packing_list";
const CERTIFICATE_OF_ORIGIN: &str = "certificate_of_origin";

const REFERENCE_NORMALISATION: &str =
    "exact after trimming, upper-casing and removing spaces and hyphens";

/// Containers by number, each with its normalised seals.
type ContainerSet = BTreeMap<String, BTreeSet<String>>;

fn container_set<'x>(lists: impl IntoIterator<Item = &'x ContainerSeal>) -> ContainerSet {
    let mut set = ContainerSet::new();
    for entry in lists {
        set.entry(entry.container.to_string())
            .or_default()
            .extend(entry.seals.iter().map(|seal| normalize_reference(seal)));
    }
    set
}

/// The documents with labels and in an order that does not depend on arrival.
struct View<'a> {
    invoice: Option<&'a CommercialInvoice>,
    declaration: Option<&'a CustomsDeclaration>,
    transport: &'a [&'a TransportDocument],
    packing_list: Option<&'a PackingList>,
    certificate_of_origin: Option<&'a CertificateOfOrigin>,
    /// Interchange receipts sorted by number, then content, with their container sets.
    receipts: Vec<(&'a InterchangeReceipt, ContainerSet)>,
}

impl<'a> View<'a> {
    fn new(docs: &'a ConsignmentDocuments<'a>) -> View<'a> {
        let mut receipts: Vec<(&InterchangeReceipt, ContainerSet)> = docs
            .interchange_receipts
            .iter()
            .map(|r| (*r, container_set(&r.containers)))
            .collect();
        receipts.sort_by(|a, b| (&a.0.number, &a.1).cmp(&(&b.0.number, &b.1)));
        View {
            invoice: docs.invoice,
            declaration: docs.declaration,
            transport: &docs.transport,
            packing_list: docs.packing_list,
            certificate_of_origin: docs.certificate_of_origin,
            receipts,
        }
    }

    fn legs(&self) -> impl Iterator<Item = (String, &'a TransportDocument)> + '_ {
        self.transport
            .iter()
            .enumerate()
            .map(|(i, t)| (leg_label(i, t), *t))
    }
}

fn invoice_label(invoice: &CommercialInvoice) -> String {
    format!("invoice {}", invoice.number)
}

fn declaration_label(declaration: &CustomsDeclaration) -> String {
    format!("declaration {}", declaration.number)
}

fn leg_label(index: usize, transport: &TransportDocument) -> String {
    format!("leg {} {} {}", index + 1, transport.kind, transport.number)
}

fn packing_list_label(packing_list: &PackingList) -> String {
    format!("packing_list {}", packing_list.number)
}

fn certificate_label(certificate: &CertificateOfOrigin) -> String {
    format!("certificate_of_origin {}", certificate.number)
}

fn join<I: IntoIterator<Item = S>, S: AsRef<str>>(items: I) -> String {
    let parts: Vec<String> = items.into_iter().map(|s| s.as_ref().to_string()).collect();
    parts.join(", ")
}

/// Collects findings, missing documents and notes; decides the status.
#[derive(Default)]
struct Check {
    findings: Vec<Finding>,
    missing: Vec<&'static str>,
    notes: Vec<String>,
}

impl Check {
    /// Records `kind` as missing when `doc` is absent, and hands `doc` back.
    fn need<T>(&mut self, doc: Option<T>, kind: &'static str) -> Option<T> {
        if doc.is_none() {
            self.missing.push(kind);
        }
        doc
    }

    /// Records the transport documents as missing when there are none.
    fn need_transport(&mut self, view: &View<'_>) -> bool {
        if view.transport.is_empty() {
            self.missing.push(TRANSPORT);
        }
        !view.transport.is_empty()
    }

    fn fail(
        &mut self,
        field: impl Into<String>,
        values: Vec<(String, String)>,
        tolerance: Option<String>,
        message: impl Into<String>,
    ) {
        self.findings.push(Finding {
            field: field.into(),
            values,
            tolerance,
            message: message.into(),
        });
    }

    fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    fn finish(self) -> RuleStatus {
        if !self.findings.is_empty() {
            RuleStatus::Fail {
                findings: self.findings,
            }
        } else if !self.missing.is_empty() {
            let mut missing: Vec<String> = Vec::new();
            for kind in self.missing {
                if !missing.iter().any(|m| m == kind) {
                    missing.push(kind.to_string());
                }
            }
            RuleStatus::Pending { missing }
        } else {
            RuleStatus::Pass {
                note: self.notes.join("; "),
            }
        }
    }
}

// ---- 1. transport reference -----------------------------------------------------------------

fn transport_reference(view: &View<'_>) -> RuleStatus {
    let mut check = Check::default();
    let declaration = check.need(view.declaration, DECLARATION);
    let has_transport = check.need_transport(view);
    let Some(declaration) = declaration.filter(|_| has_transport) else {
        return check.finish();
    };
    let wanted = normalize_reference(&declaration.transport_document_number);
    let matched = view
        .legs()
        .find(|(_, t)| !wanted.is_empty() && normalize_reference(&t.number) == wanted);
    match matched {
        Some((label, _)) => check.note(format!(
            "declaration transport document number {} is the number of {label}",
            declaration.transport_document_number.trim()
        )),
        None => {
            let mut values = vec![(
                declaration_label(declaration),
                declaration.transport_document_number.clone(),
            )];
            values.extend(view.legs().map(|(label, t)| (label, t.number.clone())));
            check.fail(
                "transport_document_number",
                values,
                Some(REFERENCE_NORMALISATION.to_string()),
                "the declaration's transport document number is not the number of any leg's transport document",
            );
        }
    }
    check.finish()
}

// ---- 2. parties -----------------------------------------------------------------------------

enum PartyMatch {
    /// Both carry this identifier and it is equal (and no identifier differs).
    Identifier(&'static str),
    /// No identifier in common; normalised names equal.
    Name,
    /// Both carry this identifier and it differs.
    Conflict(&'static str),
    /// No identifier in common and names differ.
    NoMatch,
}

fn match_parties(a: &Party, b: &Party) -> PartyMatch {
    let identifiers = [
        (
            "SCO code",
            a.sco_code.as_ref().map(|id| id.as_str()),
            b.sco_code.as_ref().map(|id| id.as_str()),
        ),
        (
            "USCC",
            a.uscc.as_ref().map(|id| id.as_str()),
            b.uscc.as_ref().map(|id| id.as_str()),
        ),
        (
            "LEI",
            a.lei.as_ref().map(|id| id.as_str()),
            b.lei.as_ref().map(|id| id.as_str()),
        ),
    ];
    let mut matched = None;
    for (what, left, right) in identifiers {
        if let (Some(left), Some(right)) = (left, right) {
            if left != right {
                // Two different legal ids are two enterprises, whatever their names say.
                return PartyMatch::Conflict(what);
            }
            matched.get_or_insert(what);
        }
    }
    if let Some(what) = matched {
        return PartyMatch::Identifier(what);
    }
    let (left, right) = (normalize_name(&a.name), normalize_name(&b.name));
    if !left.is_empty() && left == right {
        PartyMatch::Name
    } else {
        PartyMatch::NoMatch
    }
}

fn party_text(party: &Party) -> String {
    let mut ids = Vec::new();
    if let Some(id) = &party.sco_code {
        ids.push(format!("SCO code {id}"));
    }
    if let Some(id) = &party.uscc {
        ids.push(format!("USCC {id}"));
    }
    if let Some(id) = &party.lei {
        ids.push(format!("LEI {id}"));
    }
    if ids.is_empty() {
        party.name.clone()
    } else {
        format!("{} [{}]", party.name, join(ids))
    }
}

fn mismatch_message(outcome: &PartyMatch) -> String {
    match outcome {
        PartyMatch::Conflict(what) => format!("{what}s differ"),
        _ => "no identifier in common and the normalised names differ".to_string(),
    }
}

/// Compares one pair of parties: notes how they matched, or records a finding.
fn compare_parties(
    check: &mut Check,
    pair: &str,
    (left_label, left): (String, &Party),
    (right_label, right): (String, &Party),
) {
    let outcome = match_parties(left, right);
    match outcome {
        PartyMatch::Identifier(what) => check.note(format!("{pair} on {what}")),
        PartyMatch::Name => check.note(format!("{pair} on normalised name")),
        PartyMatch::Conflict(_) | PartyMatch::NoMatch => check.fail(
            pair,
            vec![
                (left_label, party_text(left)),
                (right_label, party_text(right)),
            ],
            None,
            format!("{pair}: {}", mismatch_message(&outcome)),
        ),
    }
}

fn parties(view: &View<'_>) -> RuleStatus {
    let mut check = Check::default();
    let invoice = check.need(view.invoice, INVOICE);
    let declaration = check.need(view.declaration, DECLARATION);
    check.need_transport(view);
    if let (Some(invoice), Some(declaration)) = (invoice, declaration) {
        compare_parties(
            &mut check,
            "seller = consignor",
            (invoice_label(invoice), &invoice.seller),
            (declaration_label(declaration), &declaration.consignor),
        );
        compare_parties(
            &mut check,
            "buyer = consignee",
            (invoice_label(invoice), &invoice.buyer),
            (declaration_label(declaration), &declaration.consignee),
        );
    }
    // The transport documents are held against the declaration's consignee, or the buyer.
    let reference = declaration
        .map(|d| (declaration_label(d), &d.consignee))
        .or_else(|| invoice.map(|i| (invoice_label(i), &i.buyer)));
    let Some((reference_label, reference)) = reference else {
        return check.finish();
    };
    for (label, transport) in view.legs() {
        let candidates = [
            ("consignee", transport.consignee.as_ref()),
            ("notify party", transport.notify_party.as_ref()),
        ];
        let mut matched = None;
        let mut values = Vec::new();
        let mut reasons = Vec::new();
        for (role, party) in candidates {
            let Some(party) = party else { continue };
            match match_parties(party, reference) {
                PartyMatch::Identifier(what) => matched = Some(format!("{role} on {what}")),
                PartyMatch::Name => matched = Some(format!("{role} on normalised name")),
                outcome => {
                    values.push((format!("{label} {role}"), party_text(party)));
                    reasons.push(format!("{role}: {}", mismatch_message(&outcome)));
                }
            }
            if matched.is_some() {
                break;
            }
        }
        match matched {
            Some(how) => check.note(format!("{label} {how}")),
            None => {
                if values.is_empty() {
                    values.push((label.clone(), "no consignee, no notify party".to_string()));
                    reasons.push("the transport document names neither".to_string());
                }
                values.push((reference_label.clone(), party_text(reference)));
                check.fail(
                    "consignee or notify party",
                    values,
                    None,
                    format!(
                        "neither the consignee nor the notify party of {label} is the consignee of {reference_label} ({})",
                        reasons.join("; ")
                    ),
                );
            }
        }
    }
    check.finish()
}

// ---- 3. HS codes ----------------------------------------------------------------------------

fn hs_codes(view: &View<'_>) -> RuleStatus {
    let mut check = Check::default();
    let invoice = check.need(view.invoice, INVOICE);
    let declaration = check.need(view.declaration, DECLARATION);
    check.need_transport(view);
    let Some(declaration) = declaration else {
        return check.finish();
    };
    // Heading -> the declaration's commodity codes under it.
    let mut declared: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in &declaration.lines {
        declared
            .entry(line.commodity_code.heading6().to_string())
            .or_default()
            .insert(line.commodity_code.to_string());
    }
    let mut compared = Vec::new();
    let mut unverified = Vec::new();
    // `partial`: the document has goods without HS codes, so a heading it lacks may be on them.
    let mut against = |check: &mut Check, label: String, headings: &BTreeSet<String>, partial| {
        let mut lacking = Vec::new();
        for (heading, codes) in &declared {
            if headings.contains(heading) {
                continue;
            }
            if partial {
                lacking.push(heading.as_str());
                continue;
            }
            check.fail(
                format!("hs_code {heading}"),
                vec![
                    (declaration_label(declaration), join(codes)),
                    (label.clone(), join(headings)),
                ],
                Some("first 6 digits".to_string()),
                format!("HS heading {heading} of the declaration is not on {label}"),
            );
        }
        if !lacking.is_empty() {
            unverified.push(format!(
                "{label}: heading(s) {} not verified",
                join(lacking)
            ));
        }
        compared.push(label);
    };
    if let Some(invoice) = invoice {
        let headings = invoice
            .lines
            .iter()
            .map(|l| l.hs_code.heading6().to_string())
            .collect();
        against(&mut check, invoice_label(invoice), &headings, false);
    }
    let mut skipped = Vec::new();
    for (label, transport) in view.legs() {
        let headings: BTreeSet<String> = transport
            .goods
            .iter()
            .filter_map(|g| g.hs_code.as_ref().map(|hs| hs.heading6().to_string()))
            .collect();
        let without = transport
            .goods
            .iter()
            .filter(|g| g.hs_code.is_none())
            .count();
        if headings.is_empty() {
            skipped.push(format!("{label} gives no HS codes, skipped"));
            continue;
        }
        if without > 0 {
            skipped.push(format!(
                "{label}: {without} goods item(s) without HS code skipped"
            ));
        }
        against(&mut check, label, &headings, without > 0);
    }
    check.note(format!(
        "declared headings {} checked against {}",
        join(declared.keys()),
        join(&compared)
    ));
    for note in skipped.into_iter().chain(unverified) {
        check.note(note);
    }
    check.finish()
}

// ---- 4. packages ----------------------------------------------------------------------------

/// Labels the absent members of the declaration / transport / packing list trio.
fn absent_trio(view: &View<'_>) -> Vec<&'static str> {
    let mut absent = Vec::new();
    if view.declaration.is_none() {
        absent.push(DECLARATION);
    }
    if view.transport.is_empty() {
        absent.push(TRANSPORT);
    }
    if view.packing_list.is_none() {
        absent.push(PACKING_LIST);
    }
    absent
}

fn packages(view: &View<'_>) -> RuleStatus {
    let mut check = Check::default();
    let mut counts: Vec<(String, u32)> = Vec::new();
    if let Some(d) = view.declaration {
        counts.push((declaration_label(d), d.package_count));
    }
    counts.extend(view.legs().map(|(label, t)| (label, t.package_count)));
    if let Some(p) = view.packing_list {
        counts.push((packing_list_label(p), p.package_count));
    }
    if counts.len() < 2 {
        check.missing = absent_trio(view);
        return check.finish();
    }
    let first = counts[0].1;
    if counts.iter().all(|(_, count)| *count == first) {
        check.note(format!(
            "{first} packages on {}",
            join(counts.iter().map(|(label, _)| label))
        ));
    } else {
        check.fail(
            "package_count",
            counts
                .into_iter()
                .map(|(label, count)| (label, count.to_string()))
                .collect(),
            Some("exact".to_string()),
            "package counts differ",
        );
    }
    check.finish()
}

// ---- 5. weights -----------------------------------------------------------------------------

/// A weight in thousandths of a kilogram (grams), or a finding if it is not a mass.
fn grams(check: &mut Check, field: &str, label: &str, weight: &Quantity) -> Option<i64> {
    if weight.unit.dimension() != UnitDimension::Mass {
        check.fail(
            field,
            vec![(label.to_string(), weight.to_string())],
            None,
            format!(
                "{label} states {field} in {}, not a unit of mass",
                weight.unit
            ),
        );
        return None;
    }
    let grams = weight.to_base();
    if grams.is_none() {
        check.fail(
            field,
            vec![(label.to_string(), weight.to_string())],
            None,
            format!("{label} states a {field} too large to convert to KGM"),
        );
    }
    grams
}

fn weight_text(weight: &Quantity, grams: i64) -> String {
    if weight.unit == UnitCode::Kilogram {
        weight.to_string()
    } else {
        format!("{weight} = {} KGM", format_milli(i128::from(grams)))
    }
}

fn weights(view: &View<'_>, params: &RuleParams) -> RuleStatus {
    let mut check = Check::default();
    let mut gross: Vec<(String, &Quantity)> = Vec::new();
    let mut net: Vec<(String, &Quantity, &Quantity)> = Vec::new();
    if let Some(d) = view.declaration {
        gross.push((declaration_label(d), &d.weight_gross));
        net.push((declaration_label(d), &d.weight_net, &d.weight_gross));
    }
    gross.extend(view.legs().map(|(label, t)| (label, &t.weight_gross)));
    if let Some(p) = view.packing_list {
        gross.push((packing_list_label(p), &p.weight_gross));
        net.push((packing_list_label(p), &p.weight_net, &p.weight_gross));
    }
    // Every gross weight in grams; a weight that is not a mass becomes a finding, once.
    let mut converted: Vec<(String, &Quantity, i64)> = Vec::new();
    for (label, weight) in &gross {
        if let Some(g) = grams(&mut check, "weight_gross", label, weight) {
            converted.push((label.clone(), weight, g));
        }
    }
    // Net never exceeds gross, on any document, whatever else is missing.
    for (label, weight_net, weight_gross) in &net {
        let net_g = grams(&mut check, "weight_net", label, weight_net);
        let gross_g = converted
            .iter()
            .find(|(l, _, _)| l == label)
            .map(|(_, _, g)| *g);
        if let (Some(net_g), Some(gross_g)) = (net_g, gross_g)
            && net_g > gross_g
        {
            check.fail(
                "weight_net",
                vec![
                    (format!("{label} net"), weight_text(weight_net, net_g)),
                    (format!("{label} gross"), weight_text(weight_gross, gross_g)),
                ],
                Some("net <= gross".to_string()),
                format!("net weight exceeds gross weight on {label}"),
            );
        }
    }
    if gross.len() < 2 {
        check.missing = absent_trio(view);
        return check.finish();
    }
    let (Some(largest), Some(smallest)) = (
        converted.iter().map(|(_, _, g)| *g).max(),
        converted.iter().map(|(_, _, g)| *g).min(),
    ) else {
        return check.finish();
    };
    let permille = i128::from(params.weight_tolerance_permille);
    let tolerance =
        (i128::from(largest) * permille / 1000).max(i128::from(params.weight_tolerance_min_g));
    let spread = i128::from(largest) - i128::from(smallest);
    let tolerance_text = format!(
        "{} KGM ({}‰ of the largest, at least {} KGM)",
        format_milli(tolerance),
        params.weight_tolerance_permille,
        format_milli(i128::from(params.weight_tolerance_min_g))
    );
    if spread > tolerance {
        check.fail(
            "weight_gross",
            converted
                .iter()
                .map(|(label, weight, g)| (label.clone(), weight_text(weight, *g)))
                .collect(),
            Some(tolerance_text),
            format!(
                "gross weights differ by {} KGM, more than the tolerance",
                format_milli(spread)
            ),
        );
    } else {
        check.note(format!(
            "gross weights {} to {} KGM agree within {tolerance_text} across {}; net <= gross",
            format_milli(i128::from(smallest)),
            format_milli(i128::from(largest)),
            join(converted.iter().map(|(label, _, _)| label))
        ));
    }
    check.finish()
}

// ---- 6. quantities --------------------------------------------------------------------------

/// Heading -> base unit -> (sum in thousandths of the base unit, counted?).
type QuantitySums = BTreeMap<String, BTreeMap<String, (i128, bool)>>;

/// The base unit a quantity sums in: KGM, MTQ, or the counted unit itself (pieces and sets do
/// not add up); and whether it is counted.
fn base_unit(unit: &UnitCode) -> (String, bool) {
    (
        unit.base().to_string(),
        unit.dimension() == UnitDimension::Count,
    )
}

fn add_quantity(
    check: &mut Check,
    sums: &mut QuantitySums,
    label: &str,
    heading: &str,
    quantity: &Quantity,
) {
    let (unit, counted) = base_unit(&quantity.unit);
    match quantity.to_base() {
        Some(base) => {
            let entry = sums
                .entry(heading.to_string())
                .or_default()
                .entry(unit)
                .or_insert((0, counted));
            entry.0 += i128::from(base);
        }
        None => check.fail(
            format!("quantity {heading}"),
            vec![(label.to_string(), quantity.to_string())],
            None,
            format!("a quantity of {label} is too large to convert to {unit}"),
        ),
    }
}

fn percent(permille: u32) -> String {
    format!("{}.{}%", permille / 10, permille % 10)
}

fn quantities(view: &View<'_>, params: &RuleParams) -> RuleStatus {
    let mut check = Check::default();
    let invoice = check.need(view.invoice, INVOICE);
    let declaration = check.need(view.declaration, DECLARATION);
    let (Some(invoice), Some(declaration)) = (invoice, declaration) else {
        return check.finish();
    };
    let (invoice_label, declaration_label) =
        (invoice_label(invoice), declaration_label(declaration));
    let mut declared = QuantitySums::new();
    for line in &declaration.lines {
        let heading = line.commodity_code.heading6();
        add_quantity(
            &mut check,
            &mut declared,
            &declaration_label,
            heading,
            &line.quantity,
        );
    }
    let mut invoiced = QuantitySums::new();
    for line in &invoice.lines {
        let heading = line.hs_code.heading6();
        add_quantity(
            &mut check,
            &mut invoiced,
            &invoice_label,
            heading,
            &line.quantity,
        );
    }
    let permille = i128::from(params.bulk_quantity_tolerance_permille);
    let mut agreed = Vec::new();
    for (heading, units) in &declared {
        let on_invoice = invoiced.get(heading);
        for (unit, (declared_sum, counted)) in units {
            let invoiced_sum = on_invoice
                .and_then(|units| units.get(unit))
                .map_or(0, |(sum, _)| *sum);
            let difference = (declared_sum - invoiced_sum).abs();
            let larger = declared_sum.abs().max(invoiced_sum.abs());
            let (ok, tolerance) = if *counted {
                (difference == 0, "exact (counted units)".to_string())
            } else {
                (
                    difference * 1000 <= larger * permille,
                    format!(
                        "±{} of the larger (UCP 600 art. 30)",
                        percent(params.bulk_quantity_tolerance_permille)
                    ),
                )
            };
            if ok {
                agreed.push(format!("{heading} {} {unit}", format_milli(*declared_sum)));
                continue;
            }
            let mut invoice_text = format!("{} {unit}", format_milli(invoiced_sum));
            let other_units: Vec<&String> = on_invoice
                .map(|units| units.keys().filter(|u| *u != unit).collect())
                .unwrap_or_default();
            if !other_units.is_empty() {
                invoice_text.push_str(&format!(" (also lines in {})", join(other_units)));
            }
            check.fail(
                format!("quantity {heading}"),
                vec![
                    (
                        declaration_label.clone(),
                        format!("{} {unit}", format_milli(*declared_sum)),
                    ),
                    (invoice_label.clone(), invoice_text),
                ],
                Some(tolerance),
                format!(
                    "the declared quantity under heading {heading} differs from the invoiced quantity by {} {unit}",
                    format_milli(difference)
                ),
            );
        }
    }
    check.note(format!(
        "declared quantities match the invoice by heading: {} (counted exactly, bulk within ±{})",
        join(agreed),
        percent(params.bulk_quantity_tolerance_permille)
    ));
    check.finish()
}

// ---- 7. value -------------------------------------------------------------------------------

fn charged(amount: Option<&Amount>) -> bool {
    amount.is_some_and(|a| a.minor > 0)
}

fn amount_text(amount: Option<&Amount>) -> String {
    amount.map_or_else(|| "absent".to_string(), |a| a.to_string())
}

fn value(view: &View<'_>, params: &RuleParams) -> RuleStatus {
    let mut check = Check::default();
    let invoice = check.need(view.invoice, INVOICE);
    let declaration = check.need(view.declaration, DECLARATION);
    let (Some(invoice), Some(declaration)) = (invoice, declaration) else {
        return check.finish();
    };
    let (il, dl) = (invoice_label(invoice), declaration_label(declaration));
    let (it, dt) = (&invoice.total, &declaration.total);
    if it.currency != dt.currency {
        check.fail(
            "currency",
            vec![
                (il.clone(), it.currency.to_string()),
                (dl.clone(), dt.currency.to_string()),
            ],
            None,
            "invoice and declaration totals are in different currencies",
        );
    } else {
        let difference = (i128::from(it.minor) - i128::from(dt.minor)).abs();
        let tolerance = Amount {
            minor: params.amount_tolerance_minor,
            currency: it.currency,
        }
        .to_string();
        if difference > i128::from(params.amount_tolerance_minor) {
            check.fail(
                "total",
                vec![
                    (il.clone(), amount_text(Some(it))),
                    (dl.clone(), amount_text(Some(dt))),
                ],
                Some(format!("{tolerance} (in minor units)")),
                "invoice and declaration totals differ by more than the tolerance",
            );
        } else {
            check.note(format!(
                "total {} agrees within {tolerance}",
                amount_text(Some(dt))
            ));
        }
    }
    if invoice.incoterm != declaration.incoterm {
        check.fail(
            "incoterm",
            vec![
                (il.clone(), invoice.incoterm.to_string()),
                (dl.clone(), declaration.incoterm.to_string()),
            ],
            None,
            "invoice and declaration state different incoterms",
        );
    } else {
        check.note(format!("incoterm {}", declaration.incoterm));
    }
    let terms = [invoice.incoterm, declaration.incoterm];
    let charges = [
        (
            "freight",
            terms.iter().find(|t| t.requires_freight()),
            [invoice.freight.as_ref(), declaration.freight.as_ref()],
        ),
        (
            "insurance",
            terms.iter().find(|t| t.requires_insurance()),
            [invoice.insurance.as_ref(), declaration.insurance.as_ref()],
        ),
    ];
    for (charge, requiring, [on_invoice, on_declaration]) in charges {
        let Some(term) = requiring else { continue };
        if charged(on_invoice) || charged(on_declaration) {
            check.note(format!("{term} {charge} stated"));
        } else {
            check.fail(
                charge,
                vec![
                    (il.clone(), amount_text(on_invoice)),
                    (dl.clone(), amount_text(on_declaration)),
                ],
                None,
                format!("{term} requires {charge}, and neither invoice nor declaration states it"),
            );
        }
    }
    check.finish()
}

// ---- 8. containers --------------------------------------------------------------------------

fn seals_text(seals: Option<&BTreeSet<String>>) -> String {
    match seals {
        None => "absent".to_string(),
        Some(seals) if seals.is_empty() => "no seals".to_string(),
        Some(seals) => join(seals),
    }
}

fn containers(view: &View<'_>) -> RuleStatus {
    let mut check = Check::default();
    let declaration = check.need(view.declaration, DECLARATION);
    check.need_transport(view);
    // Container numbers pass ISO 6346 by construction: decoding refuses a bad check digit.
    let mut sources: Vec<(String, ContainerSet)> = Vec::new();
    if let Some(d) = declaration {
        sources.push((declaration_label(d), container_set(&d.containers)));
    }
    for (label, transport) in view.legs() {
        if transport.containers.is_empty() {
            check.note(format!("{label} lists no containers, skipped"));
        } else {
            sources.push((label, container_set(&transport.containers)));
        }
    }
    if let Some(p) = view.packing_list {
        if p.containers.is_empty() {
            check.note(format!(
                "{} lists no containers, skipped",
                packing_list_label(p)
            ));
        } else {
            sources.push((packing_list_label(p), container_set(&p.containers)));
        }
    }
    if !view.receipts.is_empty() {
        let label = format!(
            "interchange_receipts {}",
            join(view.receipts.iter().map(|(r, _)| &r.number))
        );
        let mut union = ContainerSet::new();
        for (_, set) in &view.receipts {
            for (container, seals) in set {
                union
                    .entry(container.clone())
                    .or_default()
                    .extend(seals.iter().cloned());
            }
        }
        sources.push((label, union));
    }
    let all: BTreeSet<&String> = sources.iter().flat_map(|(_, set)| set.keys()).collect();
    for container in &all {
        let listed = sources
            .iter()
            .filter(|(_, set)| set.contains_key(*container))
            .count();
        if listed < sources.len() {
            check.fail(
                format!("container {container}"),
                sources
                    .iter()
                    .map(|(label, set)| {
                        let state = if set.contains_key(*container) {
                            "listed"
                        } else {
                            "absent"
                        };
                        (label.clone(), state.to_string())
                    })
                    .collect(),
                None,
                format!("container {container} is not on every document"),
            );
            continue;
        }
        let first = sources.first().and_then(|(_, set)| set.get(*container));
        if sources.iter().any(|(_, set)| set.get(*container) != first) {
            check.fail(
                format!("seals {container}"),
                sources
                    .iter()
                    .map(|(label, set)| (label.clone(), seals_text(set.get(*container))))
                    .collect(),
                Some(REFERENCE_NORMALISATION.to_string()),
                format!("the seals of container {container} differ between documents"),
            );
        }
    }
    if all.is_empty() {
        check.note("no containers on any document");
    } else {
        check.note(format!(
            "containers {} and their seals agree across {}",
            join(&all),
            join(sources.iter().map(|(label, _)| label))
        ));
    }
    check.finish()
}

// ---- 9. places ------------------------------------------------------------------------------

fn places(view: &View<'_>) -> RuleStatus {
    let mut check = Check::default();
    let declaration = check.need(view.declaration, DECLARATION);
    check.need_transport(view);
    let legs: Vec<(String, &TransportDocument)> = view.legs().collect();
    for pair in legs.windows(2) {
        let [(from_label, from), (to_label, to)] = pair else {
            continue;
        };
        if from.place_of_discharge != to.place_of_loading {
            check.fail(
                "leg connection",
                vec![
                    (
                        format!("{from_label} place_of_discharge"),
                        from.place_of_discharge.to_string(),
                    ),
                    (
                        format!("{to_label} place_of_loading"),
                        to.place_of_loading.to_string(),
                    ),
                ],
                None,
                format!("{to_label} does not start where {from_label} ends"),
            );
        }
    }
    let (Some(declaration), Some((first_label, first)), Some((last_label, last))) =
        (declaration, legs.first(), legs.last())
    else {
        return check.finish();
    };
    let dl = declaration_label(declaration);
    let ends = [
        (
            "port_of_loading",
            &declaration.port_of_loading,
            first_label,
            "place_of_loading",
            &first.place_of_loading,
        ),
        (
            "port_of_discharge",
            &declaration.port_of_discharge,
            last_label,
            "place_of_discharge",
            &last.place_of_discharge,
        ),
    ];
    for (field, declared, leg_label, leg_field, carried) in ends {
        if declared != carried {
            check.fail(
                field,
                vec![
                    (dl.clone(), declared.to_string()),
                    (format!("{leg_label} {leg_field}"), carried.to_string()),
                ],
                None,
                format!("the declaration's {field} is not the {leg_field} of {leg_label}"),
            );
        }
    }
    if let Some(exit) = &declaration.exit_port {
        let route: BTreeSet<String> = legs
            .iter()
            .flat_map(|(_, t)| {
                [&t.place_of_loading, &t.place_of_discharge]
                    .into_iter()
                    .chain(&t.border_stations)
                    .map(|p| p.to_string())
            })
            .collect();
        if !route.contains(&exit.to_string()) {
            check.fail(
                "exit_port",
                vec![
                    (dl.clone(), exit.to_string()),
                    ("transport documents".to_string(), join(&route)),
                ],
                None,
                "the declared port of exit is no place or border station of any leg",
            );
        }
    }
    let mut route = vec![first.place_of_loading.to_string()];
    for (_, leg) in &legs {
        route.extend(leg.border_stations.iter().map(|p| p.to_string()));
        route.push(leg.place_of_discharge.to_string());
    }
    check.note(format!(
        "route {} agrees with the declaration ({} to {}{})",
        route.join(" → "),
        declaration.port_of_loading,
        declaration.port_of_discharge,
        declaration
            .exit_port
            .as_ref()
            .map_or_else(String::new, |exit| format!(", exit {exit}"))
    ));
    check.finish()
}

// ---- 10. dates ------------------------------------------------------------------------------

fn dates(view: &View<'_>, params: &RuleParams) -> RuleStatus {
    let mut check = Check::default();
    let invoice = check.need(view.invoice, INVOICE);
    let declaration = check.need(view.declaration, DECLARATION);
    let Some(declaration) = declaration else {
        return check.finish();
    };
    let dl = declaration_label(declaration);
    if let Some(invoice) = invoice {
        let days = Date::days_between(invoice.issue_date, declaration.date);
        if days < 0 {
            check.fail(
                "issue_date",
                vec![
                    (invoice_label(invoice), invoice.issue_date.to_string()),
                    (dl.clone(), declaration.date.to_string()),
                ],
                Some("invoice date <= declaration date".to_string()),
                format!(
                    "the invoice is dated {} day(s) after the declaration",
                    -days
                ),
            );
        } else {
            check.note(format!(
                "invoice dated {days} day(s) before the declaration"
            ));
        }
    }
    if declaration.kind != DeclarationKind::Export {
        check.note("not an export declaration: shipment date not compared");
        return check.finish();
    }
    check.need_transport(view);
    let Some((label, first)) = view.legs().next() else {
        return check.finish();
    };
    let shipped = first.shipped_on_board_or_acceptance_date;
    let days = Date::days_between(declaration.date, shipped);
    let max = params.max_days_declaration_to_shipment;
    if days < 0 || days > i64::from(max) {
        let relation = if days < 0 {
            format!("{} day(s) before", -days)
        } else {
            format!("{days} day(s) after")
        };
        check.fail(
            "shipped_on_board_or_acceptance_date",
            vec![
                (dl, declaration.date.to_string()),
                (label.clone(), shipped.to_string()),
            ],
            Some(format!("0 to {max} days after the declaration date")),
            format!("{label} was shipped or accepted {relation} the export declaration"),
        );
    } else {
        check.note(format!(
            "{label} shipped or accepted {days} day(s) after the export declaration (at most {max})"
        ));
    }
    check.finish()
}

// ---- 11. contract and origin ----------------------------------------------------------------

fn contract_and_origin(view: &View<'_>) -> RuleStatus {
    let mut check = Check::default();
    let invoice = check.need(view.invoice, INVOICE);
    let declaration = check.need(view.declaration, DECLARATION);
    let certificate = check.need(view.certificate_of_origin, CERTIFICATE_OF_ORIGIN);
    if let (Some(invoice), Some(declaration)) = (invoice, declaration) {
        let declared = normalize_reference(&declaration.contract_number);
        if declared.is_empty() || declared != normalize_reference(&invoice.contract_reference) {
            check.fail(
                "contract_number",
                vec![
                    (
                        declaration_label(declaration),
                        declaration.contract_number.clone(),
                    ),
                    (invoice_label(invoice), invoice.contract_reference.clone()),
                ],
                Some(REFERENCE_NORMALISATION.to_string()),
                "the declaration's contract number is not the invoice's contract reference",
            );
        } else {
            check.note(format!("contract {}", declaration.contract_number.trim()));
        }
    }
    let Some(certificate) = certificate else {
        return check.finish();
    };
    let certified = &certificate.origin_country;
    // Origin -> the codes of the lines claiming it, per document.
    let mut claims: Vec<(String, BTreeMap<String, BTreeSet<String>>)> = Vec::new();
    if let Some(d) = declaration {
        let mut origins: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for line in &d.lines {
            origins
                .entry(line.origin.to_string())
                .or_default()
                .insert(line.commodity_code.to_string());
        }
        claims.push((declaration_label(d), origins));
    }
    if let Some(i) = invoice {
        let mut origins: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for line in &i.lines {
            origins
                .entry(line.origin.to_string())
                .or_default()
                .insert(line.hs_code.to_string());
        }
        claims.push((invoice_label(i), origins));
    }
    let mut agreeing = Vec::new();
    for (label, origins) in claims {
        let mut agrees = true;
        for (origin, codes) in &origins {
            if origin != certified.as_str() {
                agrees = false;
                check.fail(
                    "origin",
                    vec![
                        (label.clone(), format!("{origin} ({})", join(codes))),
                        (certificate_label(certificate), certified.to_string()),
                    ],
                    None,
                    format!("lines of {label} claim origin {origin}, the certificate of origin certifies {certified}"),
                );
            }
        }
        if agrees {
            agreeing.push(label);
        }
    }
    check.note(format!(
        "origin {certified} of {} agrees with {}",
        join(agreeing),
        certificate_label(certificate)
    ));
    check.finish()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::trade::documents::fixtures::*;
    use crate::trade::documents::{
        DeclarationLine, GoodsItem, InterchangeReceipt, InvoiceLine, TransportDocumentKind,
    };
    use crate::trade::ident::Incoterm;
    use proptest::prelude::*;

    fn view(c: &Consignment) -> ConsignmentDocuments<'_> {
        ConsignmentDocuments {
            invoice: c.invoice.as_ref(),
            declaration: c.declaration.as_ref(),
            transport: c.transport.iter().collect(),
            packing_list: c.packing_list.as_ref(),
            certificate_of_origin: c.certificate_of_origin.as_ref(),
            interchange_receipts: c.receipts.iter().collect(),
        }
    }

    fn run(c: &Consignment, params: &RuleParams) -> Report {
        validate(&view(c), params)
    }

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Expect {
        Pass,
        Fail,
        Pending,
    }

    fn outcome(status: &RuleStatus) -> Expect {
        match status {
            RuleStatus::Pass { .. } => Expect::Pass,
            RuleStatus::Fail { .. } => Expect::Fail,
            RuleStatus::Pending { .. } => Expect::Pending,
        }
    }

    type Mutation = fn(&mut Consignment);

    struct Case {
        name: &'static str,
        mutate: Mutation,
        params: RuleParams,
        expect: Expect,
        /// Text the status (its note, findings or missing list) must contain.
        mentions: &'static str,
    }

    fn case(name: &'static str, mutate: Mutation, expect: Expect, mentions: &'static str) -> Case {
        Case {
            name,
            mutate,
            params: RuleParams::default(),
            expect,
            mentions,
        }
    }

    impl Case {
        fn with(mut self, params: RuleParams) -> Case {
            self.params = params;
            self
        }
    }

    fn run_table(rule: Rule, cases: Vec<Case>) {
        let mut seen = Vec::new();
        for case in &cases {
            let mut consignment = qingdao_almaty();
            (case.mutate)(&mut consignment);
            let report = run(&consignment, &case.params);
            let status = report.status(rule).unwrap();
            assert_eq!(
                outcome(status),
                case.expect,
                "{rule} / {}: {status:#?}",
                case.name
            );
            let text = format!("{status:?}");
            assert!(
                text.contains(case.mentions),
                "{rule} / {}: expected {:?} in {text}",
                case.name,
                case.mentions
            );
            seen.push(case.expect);
        }
        for expect in [Expect::Pass, Expect::Fail, Expect::Pending] {
            assert!(seen.contains(&expect), "{rule}: no {expect:?} case");
        }
    }

    fn invoice(c: &mut Consignment) -> &mut CommercialInvoice {
        c.invoice.as_mut().unwrap()
    }

    fn declaration(c: &mut Consignment) -> &mut CustomsDeclaration {
        c.declaration.as_mut().unwrap()
    }

    fn packing(c: &mut Consignment) -> &mut PackingList {
        c.packing_list.as_mut().unwrap()
    }

    fn certificate(c: &mut Consignment) -> &mut CertificateOfOrigin {
        c.certificate_of_origin.as_mut().unwrap()
    }

    fn strip_ids(party: &mut Party) {
        party.sco_code = None;
        party.uscc = None;
        party.lei = None;
    }

    /// Every gross weight 100 kg and every net weight 80 kg.
    fn small_weights(c: &mut Consignment) {
        declaration(c).weight_gross = qty(100_000, "KGM");
        declaration(c).weight_net = qty(80_000, "KGM");
        packing(c).weight_gross = qty(100_000, "KGM");
        packing(c).weight_net = qty(80_000, "KGM");
        for leg in &mut c.transport {
            leg.weight_gross = qty(100_000, "KGM");
        }
    }

    #[test]
    fn complete_consignment_is_clean() {
        let report = run(&qingdao_almaty(), &RuleParams::default());
        assert!(report.is_clean(), "{report:#?}");
        assert!(report.failed().is_empty());
        assert!(report.pending().is_empty());
        assert_eq!(report.rule_set_version, 1);
        let rules: Vec<Rule> = report.results.iter().map(|r| r.rule).collect();
        assert_eq!(rules, Rule::ALL);
        let parties = format!("{:?}", report.status(Rule::Parties));
        for how in [
            "seller = consignor on SCO code",
            "buyer = consignee on SCO code",
            "leg 1 sea_bill_of_lading COSU6401234560 notify party on SCO code",
            "leg 2 rail_consignment_note SMGS 24-0417-0093 consignee on normalised name",
        ] {
            assert!(parties.contains(how), "{how}: {parties}");
        }
    }

    #[test]
    fn no_documents_is_pending_everywhere() {
        let report = validate(&ConsignmentDocuments::default(), &RuleParams::default());
        assert_eq!(report.pending(), Rule::ALL);
        assert!(!report.is_clean());
    }

    #[test]
    fn transport_reference_table() {
        run_table(
            Rule::TransportReference,
            vec![
                case(
                    "first leg, normalised",
                    |_| {},
                    Expect::Pass,
                    "is the number of leg 1",
                ),
                case(
                    "second leg, other spacing and case",
                    |c| declaration(c).transport_document_number = " smgs24-0417 0093 ".into(),
                    Expect::Pass,
                    "is the number of leg 2",
                ),
                case(
                    "no leg has the number",
                    |c| declaration(c).transport_document_number = "COSU6401234561".into(),
                    Expect::Fail,
                    "transport_document_number",
                ),
                case(
                    "blank number matches nothing",
                    |c| declaration(c).transport_document_number = " - ".into(),
                    Expect::Fail,
                    "not the number of any leg",
                ),
                case(
                    "no declaration",
                    |c| c.declaration = None,
                    Expect::Pending,
                    "\"declaration\"",
                ),
                case(
                    "no transport",
                    |c| c.transport.clear(),
                    Expect::Pending,
                    "\"transport\"",
                ),
            ],
        );
    }

    #[test]
    fn parties_table() {
        run_table(
            Rule::Parties,
            vec![
                case(
                    "sco codes",
                    |_| {},
                    Expect::Pass,
                    "seller = consignor on SCO code",
                ),
                case(
                    "names differing only in spacing, case and punctuation",
                    |c| {
                        let seller = &mut invoice(c).seller;
                        strip_ids(seller);
                        seller.name = "  QINGDAO  haina machinery co., ltd.".into();
                        let consignor = &mut declaration(c).consignor;
                        strip_ids(consignor);
                        consignor.name = "Qingdao Haina Machinery Co Ltd".into();
                    },
                    Expect::Pass,
                    "seller = consignor on normalised name",
                ),
                case(
                    "uscc when there is no sco code",
                    |c| {
                        invoice(c).seller.sco_code = None;
                        declaration(c).consignor.sco_code = None;
                    },
                    Expect::Pass,
                    "seller = consignor on USCC",
                ),
                case(
                    "lei when there is no sco code",
                    |c| {
                        invoice(c).buyer.sco_code = None;
                        declaration(c).consignee.sco_code = None;
                    },
                    Expect::Pass,
                    "buyer = consignee on LEI",
                ),
                case(
                    "different usccs, same name and sco code",
                    |c| declaration(c).consignor.uscc = Some(uscc("91370200MA3C9X7Q3")),
                    Expect::Fail,
                    "USCCs differ",
                ),
                case(
                    "no identifier in common, names differ",
                    |c| {
                        strip_ids(&mut invoice(c).seller);
                        strip_ids(&mut declaration(c).consignor);
                        declaration(c).consignor.name = "Qingdao Haina Trading Co., Ltd.".into();
                    },
                    Expect::Fail,
                    "normalised names differ",
                ),
                case(
                    "rail consignee is someone else",
                    |c| c.transport[1].consignee = Some(name_only("Astana Machinery LLP")),
                    Expect::Fail,
                    "leg 2 rail_consignment_note SMGS 24-0417-0093 consignee",
                ),
                case(
                    "bank as consignee, buyer as notify party",
                    |c| {
                        let mut bank = name_only("Halyk Bank of Kazakhstan JSC");
                        bank.lei = Some(lei("2138001YYSD1A1ZSKG"));
                        c.transport[0].consignee = Some(bank);
                    },
                    Expect::Pass,
                    "leg 1 sea_bill_of_lading COSU6401234560 notify party on SCO code",
                ),
                case(
                    "a discrepancy shows even with transport missing",
                    |c| {
                        c.transport.clear();
                        declaration(c).consignor.uscc = Some(uscc("91370200MA3C9X7Q3"));
                    },
                    Expect::Fail,
                    "seller = consignor",
                ),
                case(
                    "no transport",
                    |c| c.transport.clear(),
                    Expect::Pending,
                    "\"transport\"",
                ),
                case(
                    "no invoice",
                    |c| c.invoice = None,
                    Expect::Pending,
                    "\"invoice\"",
                ),
            ],
        );
    }

    #[test]
    fn hs_codes_table() {
        run_table(
            Rule::HsCodes,
            vec![
                case(
                    "headings on invoice and bill of lading; rail note without HS skipped",
                    |_| {},
                    Expect::Pass,
                    "leg 2 rail_consignment_note SMGS 24-0417-0093 gives no HS codes, skipped",
                ),
                case(
                    "bill of lading gives another heading",
                    |c| c.transport[0].goods[1].hs_code = Some(hs("846694")),
                    Expect::Fail,
                    "hs_code 846693",
                ),
                case(
                    "invoice gives another heading",
                    |c| invoice(c).lines[0].hs_code = hs("845720"),
                    Expect::Fail,
                    "HS heading 845710 of the declaration is not on invoice HN-2025-0417",
                ),
                case(
                    "a goods item without HS code leaves its heading unverified",
                    |c| c.transport[0].goods[1].hs_code = None,
                    Expect::Pass,
                    "heading(s) 846693 not verified",
                ),
                case(
                    "no invoice",
                    |c| c.invoice = None,
                    Expect::Pending,
                    "\"invoice\"",
                ),
            ],
        );
    }

    #[test]
    fn packages_table() {
        run_table(
            Rule::Packages,
            vec![
                case("all twenty", |_| {}, Expect::Pass, "20 packages"),
                case(
                    "packing list differs",
                    |c| packing(c).package_count = 21,
                    Expect::Fail,
                    "\"21\"",
                ),
                case(
                    "rail leg differs",
                    |c| c.transport[1].package_count = 19,
                    Expect::Fail,
                    "\"19\"",
                ),
                case(
                    "no packing list",
                    |c| c.packing_list = None,
                    Expect::Pass,
                    "20 packages",
                ),
                case(
                    "declaration alone",
                    |c| {
                        c.transport.clear();
                        c.packing_list = None;
                    },
                    Expect::Pending,
                    "[\"transport\", \"packing_list\"]",
                ),
            ],
        );
    }

    #[test]
    fn weights_table() {
        let looser = RuleParams {
            weight_tolerance_permille: 10,
            ..RuleParams::default()
        };
        run_table(
            Rule::Weights,
            vec![
                case("all 10000 kg", |_| {}, Expect::Pass, "agree within 50 KGM"),
                case(
                    "22046.226 LBR is 10000 KGM",
                    |c| c.transport[1].weight_gross = qty(22_046_226, "LBR"),
                    Expect::Pass,
                    "agree within",
                ),
                case(
                    "23000 LBR is not",
                    |c| c.transport[1].weight_gross = qty(23_000_000, "LBR"),
                    Expect::Fail,
                    "23000 LBR = 10432.625 KGM",
                ),
                case(
                    "40 kg over is within 0.5 %",
                    |c| packing(c).weight_gross = qty(10_040_000, "KGM"),
                    Expect::Pass,
                    "agree within",
                ),
                case(
                    "60 kg over is not",
                    |c| packing(c).weight_gross = qty(10_060_000, "KGM"),
                    Expect::Fail,
                    "differ by 60 KGM",
                ),
                case(
                    "60 kg over with a 1 % rule set",
                    |c| packing(c).weight_gross = qty(10_060_000, "KGM"),
                    Expect::Pass,
                    "agree within 100.6 KGM",
                )
                .with(looser),
                case(
                    "small weights: 0.9 kg apart is within the 1 kg floor",
                    |c| {
                        small_weights(c);
                        packing(c).weight_gross = qty(100_900, "KGM");
                    },
                    Expect::Pass,
                    "at least 1 KGM",
                ),
                case(
                    "small weights: 1.5 kg apart is not",
                    |c| {
                        small_weights(c);
                        packing(c).weight_gross = qty(101_500, "KGM");
                    },
                    Expect::Fail,
                    "differ by 1.5 KGM",
                ),
                case(
                    "gross below net on the packing list",
                    |c| packing(c).weight_net = qty(10_000_001, "KGM"),
                    Expect::Fail,
                    "net weight exceeds gross weight on packing_list",
                ),
                case(
                    "net in pounds above gross in kilograms",
                    |c| declaration(c).weight_net = qty(22_100_000, "LBR"),
                    Expect::Fail,
                    "net weight exceeds gross weight on declaration",
                ),
                case(
                    "gross weight in sets",
                    |c| declaration(c).weight_gross = qty(20_000, "SET"),
                    Expect::Fail,
                    "not a unit of mass",
                ),
                case(
                    "net above gross shows on a lone declaration",
                    |c| {
                        c.transport.clear();
                        c.packing_list = None;
                        declaration(c).weight_net = qty(10_000_001, "KGM");
                    },
                    Expect::Fail,
                    "net weight exceeds gross weight",
                ),
                case(
                    "declaration alone",
                    |c| {
                        c.transport.clear();
                        c.packing_list = None;
                    },
                    Expect::Pending,
                    "packing_list",
                ),
            ],
        );
    }

    #[test]
    fn quantities_table() {
        run_table(
            Rule::Quantities,
            vec![
                case(
                    "sets exact, kilograms exact",
                    |_| {},
                    Expect::Pass,
                    "845710 2 SET",
                ),
                case(
                    "one set more on the invoice",
                    |c| invoice(c).lines[0].quantity = qty(3_000, "SET"),
                    Expect::Fail,
                    "exact (counted units)",
                ),
                case(
                    "bulk 4.1 % apart",
                    |c| invoice(c).lines[1].quantity = qty(1_200_000, "KGM"),
                    Expect::Pass,
                    "846693 1150.5 KGM",
                ),
                case(
                    "bulk 8 % apart",
                    |c| invoice(c).lines[1].quantity = qty(1_250_000, "KGM"),
                    Expect::Fail,
                    "±5.0%",
                ),
                case(
                    "invoice in tonnes",
                    |c| invoice(c).lines[1].quantity = qty(1_151, "TNE"),
                    Expect::Pass,
                    "846693",
                ),
                case(
                    "invoice counts machines by weight",
                    |c| invoice(c).lines[0].quantity = qty(6_800_000, "KGM"),
                    Expect::Fail,
                    "also lines in KGM",
                ),
                case(
                    "invoice splits a heading over two lines",
                    |c| {
                        let inv = invoice(c);
                        let mut second = inv.lines[0].clone();
                        second.quantity = qty(1_000, "SET");
                        second.amount = usd(8_500_000);
                        inv.lines[0].quantity = qty(1_000, "SET");
                        inv.lines[0].amount = usd(8_500_000);
                        inv.lines.push(second);
                    },
                    Expect::Pass,
                    "845710 2 SET",
                ),
                case(
                    "no invoice",
                    |c| c.invoice = None,
                    Expect::Pending,
                    "\"invoice\"",
                ),
            ],
        );
    }

    #[test]
    fn value_table() {
        let one_cent = RuleParams {
            amount_tolerance_minor: 1,
            ..RuleParams::default()
        };
        run_table(
            Rule::Value,
            vec![
                case(
                    "equal totals, CIP with both charges",
                    |_| {},
                    Expect::Pass,
                    "total 179204.00 USD",
                ),
                case(
                    "one cent apart, exact rule set",
                    |c| declaration(c).total.minor += 1,
                    Expect::Fail,
                    "179204.01 USD",
                ),
                case(
                    "one cent apart, one-cent tolerance",
                    |c| declaration(c).total.minor += 1,
                    Expect::Pass,
                    "agrees within 0.01 USD",
                )
                .with(one_cent.clone()),
                case(
                    "two cents apart, one-cent tolerance",
                    |c| declaration(c).total.minor -= 2,
                    Expect::Fail,
                    "0.01 USD (in minor units)",
                )
                .with(one_cent),
                case(
                    "declaration in euro",
                    |c| declaration(c).total.currency = currency("EUR"),
                    Expect::Fail,
                    "different currencies",
                ),
                case(
                    "different incoterms",
                    |c| declaration(c).incoterm = Incoterm::Fca,
                    Expect::Fail,
                    "different incoterms",
                ),
                case(
                    "CFR without freight",
                    |c| {
                        invoice(c).freight = None;
                        declaration(c).freight = None;
                        invoice(c).incoterm = Incoterm::Cfr;
                        declaration(c).incoterm = Incoterm::Cfr;
                    },
                    Expect::Fail,
                    "CFR requires freight",
                ),
                case(
                    "CIF without insurance",
                    |c| {
                        invoice(c).insurance = None;
                        declaration(c).insurance = Some(usd(0));
                        invoice(c).incoterm = Incoterm::Cif;
                        declaration(c).incoterm = Incoterm::Cif;
                    },
                    Expect::Fail,
                    "CIF requires insurance",
                ),
                case(
                    "CIF with insurance on the declaration only",
                    |c| {
                        invoice(c).insurance = None;
                        invoice(c).incoterm = Incoterm::Cif;
                        declaration(c).incoterm = Incoterm::Cif;
                    },
                    Expect::Pass,
                    "CIF insurance stated",
                ),
                case(
                    "FOB needs neither",
                    |c| {
                        invoice(c).freight = None;
                        invoice(c).insurance = None;
                        declaration(c).freight = None;
                        declaration(c).insurance = None;
                        invoice(c).incoterm = Incoterm::Fob;
                        declaration(c).incoterm = Incoterm::Fob;
                    },
                    Expect::Pass,
                    "incoterm FOB",
                ),
                case(
                    "no declaration",
                    |c| c.declaration = None,
                    Expect::Pending,
                    "\"declaration\"",
                ),
            ],
        );
    }

    #[test]
    fn containers_table() {
        run_table(
            Rule::Containers,
            vec![
                case(
                    "same containers and seals everywhere",
                    |_| {},
                    Expect::Pass,
                    "containers CSQU3054383, TGHU",
                ),
                case(
                    "receipt shows another seal",
                    |c| c.receipts[0].containers[0].seals[0] = "CN2025041799".into(),
                    Expect::Fail,
                    "seals CSQU3054383",
                ),
                case(
                    "seal written with other spacing and case",
                    |c| packing(c).containers[0].seals[1] = " kzc 118834".into(),
                    Expect::Pass,
                    "and their seals agree",
                ),
                case(
                    "rail note lacks a container",
                    |c| {
                        c.transport[1].containers.pop();
                    },
                    Expect::Fail,
                    "is not on every document",
                ),
                case(
                    "no receipt for a container",
                    |c| {
                        c.receipts.pop();
                    },
                    Expect::Fail,
                    "\"absent\"",
                ),
                case(
                    "a leg without containers is skipped",
                    |c| c.transport[0].containers.clear(),
                    Expect::Pass,
                    "lists no containers, skipped",
                ),
                case(
                    "bulk shipment without containers",
                    |c| {
                        declaration(c).containers.clear();
                        for leg in &mut c.transport {
                            leg.containers.clear();
                        }
                        packing(c).containers.clear();
                        c.receipts.clear();
                    },
                    Expect::Pass,
                    "no containers on any document",
                ),
                case(
                    "declaration lacks the containers the others list",
                    |c| declaration(c).containers.clear(),
                    Expect::Fail,
                    "is not on every document",
                ),
                case(
                    "no declaration",
                    |c| c.declaration = None,
                    Expect::Pending,
                    "\"declaration\"",
                ),
            ],
        );
    }

    #[test]
    fn places_table() {
        run_table(
            Rule::Places,
            vec![
                case(
                    "Qingdao by sea to Lianyungang, by rail via Khorgos to Almaty",
                    |_| {},
                    Expect::Pass,
                    "CNTAO → CNLYG → CNKHG → KZKHO → KZALA",
                ),
                case(
                    "declared loading port is Shanghai",
                    |c| declaration(c).port_of_loading = locode("CNSHA"),
                    Expect::Fail,
                    "port_of_loading",
                ),
                case(
                    "declared discharge is Astana",
                    |c| declaration(c).port_of_discharge = locode("KZNQZ"),
                    Expect::Fail,
                    "port_of_discharge",
                ),
                case(
                    "rail leg starts elsewhere",
                    |c| c.transport[1].place_of_loading = locode("CNXMN"),
                    Expect::Fail,
                    "leg connection",
                ),
                case(
                    "exit port is Erenhot, not on the route",
                    |c| declaration(c).exit_port = Some(locode("CNERL")),
                    Expect::Fail,
                    "exit_port",
                ),
                case(
                    "no exit port declared",
                    |c| declaration(c).exit_port = None,
                    Expect::Pass,
                    "(CNTAO to KZALA)",
                ),
                case(
                    "no transport",
                    |c| c.transport.clear(),
                    Expect::Pending,
                    "\"transport\"",
                ),
            ],
        );
    }

    #[test]
    fn dates_table() {
        let longer = RuleParams {
            max_days_declaration_to_shipment: 45,
            ..RuleParams::default()
        };
        run_table(
            Rule::Dates,
            vec![
                case(
                    "invoice, declaration, shipment in order",
                    |_| {},
                    Expect::Pass,
                    "4 day(s) after",
                ),
                case(
                    "invoice after declaration",
                    |c| invoice(c).issue_date = date(2025, 4, 21),
                    Expect::Fail,
                    "1 day(s) after the declaration",
                ),
                case(
                    "invoice on the declaration day",
                    |c| invoice(c).issue_date = date(2025, 4, 20),
                    Expect::Pass,
                    "invoice dated 0 day(s)",
                ),
                case(
                    "shipped before the export declaration",
                    |c| c.transport[0].shipped_on_board_or_acceptance_date = date(2025, 4, 19),
                    Expect::Fail,
                    "1 day(s) before the export declaration",
                ),
                case(
                    "shipped on the 30th day",
                    |c| c.transport[0].shipped_on_board_or_acceptance_date = date(2025, 5, 20),
                    Expect::Pass,
                    "30 day(s) after",
                ),
                case(
                    "shipped on the 31st day",
                    |c| c.transport[0].shipped_on_board_or_acceptance_date = date(2025, 5, 21),
                    Expect::Fail,
                    "31 day(s) after",
                ),
                case(
                    "shipped on the 40th day under a 45-day rule set",
                    |c| c.transport[0].shipped_on_board_or_acceptance_date = date(2025, 5, 30),
                    Expect::Pass,
                    "at most 45",
                )
                .with(longer),
                case(
                    "an import declaration does not bound the shipment date",
                    |c| {
                        declaration(c).kind = DeclarationKind::Import;
                        c.transport[0].shipped_on_board_or_acceptance_date = date(2025, 1, 2);
                    },
                    Expect::Pass,
                    "not an export declaration",
                ),
                case(
                    "no transport",
                    |c| c.transport.clear(),
                    Expect::Pending,
                    "\"transport\"",
                ),
                case(
                    "no invoice",
                    |c| c.invoice = None,
                    Expect::Pending,
                    "\"invoice\"",
                ),
            ],
        );
    }

    #[test]
    fn contract_and_origin_table() {
        run_table(
            Rule::ContractAndOrigin,
            vec![
                case(
                    "contract and origin CN",
                    |_| {},
                    Expect::Pass,
                    "origin CN of",
                ),
                case(
                    "contract written differently",
                    |c| invoice(c).contract_reference = " hn kz 2025 009".into(),
                    Expect::Pass,
                    "contract HN-KZ-2025-009",
                ),
                case(
                    "another contract",
                    |c| invoice(c).contract_reference = "HN-KZ-2025-010".into(),
                    Expect::Fail,
                    "contract_number",
                ),
                case(
                    "certificate certifies Kazakhstan",
                    |c| certificate(c).origin_country = country("KZ"),
                    Expect::Fail,
                    "the certificate of origin certifies KZ",
                ),
                case(
                    "an invoice line claims German origin",
                    |c| invoice(c).lines[1].origin = country("DE"),
                    Expect::Fail,
                    "DE (84669390)",
                ),
                case(
                    "a declaration line claims German origin",
                    |c| declaration(c).lines[0].origin = country("DE"),
                    Expect::Fail,
                    "DE (8457101000)",
                ),
                case(
                    "a contract discrepancy shows without a certificate",
                    |c| {
                        c.certificate_of_origin = None;
                        invoice(c).contract_reference = "HN-KZ-2025-010".into();
                    },
                    Expect::Fail,
                    "contract_number",
                ),
                case(
                    "no certificate of origin",
                    |c| c.certificate_of_origin = None,
                    Expect::Pending,
                    "certificate_of_origin",
                ),
            ],
        );
    }

    /// Each mutation of the clean consignment fails its rule and leaves every other passing.
    #[test]
    fn single_mutations_fail_exactly_one_rule() {
        let cases: Vec<(Rule, Mutation)> = vec![
            (Rule::TransportReference, |c| {
                declaration(c).transport_document_number = "COSU6401234561".into();
            }),
            (Rule::Parties, |c| {
                declaration(c).consignor.uscc = Some(uscc("91370200MA3C9X7Q3"));
            }),
            (Rule::HsCodes, |c| {
                c.transport[0].goods[1].hs_code = Some(hs("846694"));
            }),
            (Rule::Packages, |c| packing(c).package_count = 21),
            (Rule::Weights, |c| {
                packing(c).weight_gross = qty(10_100_000, "KGM")
            }),
            (Rule::Weights, |c| {
                declaration(c).weight_net = qty(10_000_001, "KGM")
            }),
            (Rule::Weights, |c| {
                c.transport[1].weight_gross = qty(23_000_000, "LBR");
            }),
            (Rule::Quantities, |c| {
                invoice(c).lines[0].quantity = qty(3_000, "SET");
            }),
            (Rule::Value, |c| declaration(c).total.minor += 1),
            (Rule::Containers, |c| {
                c.receipts[1].containers[0].seals = vec!["CN2025041799".into()];
            }),
            (Rule::Places, |c| {
                declaration(c).port_of_discharge = locode("KZNQZ")
            }),
            (Rule::Dates, |c| {
                c.transport[0].shipped_on_board_or_acceptance_date = date(2025, 6, 1);
            }),
            (Rule::ContractAndOrigin, |c| {
                certificate(c).origin_country = country("KZ");
            }),
        ];
        let mut covered = BTreeSet::new();
        for (rule, mutate) in cases {
            let mut consignment = qingdao_almaty();
            mutate(&mut consignment);
            let report = run(&consignment, &RuleParams::default());
            assert_eq!(report.failed(), vec![rule], "{rule}: {report:#?}");
            assert!(report.pending().is_empty(), "{rule}: {report:#?}");
            assert!(!report.is_clean());
            covered.insert(rule);
        }
        assert_eq!(covered.len(), Rule::ALL.len());
    }

    #[test]
    fn findings_carry_values_and_tolerance() {
        let mut consignment = qingdao_almaty();
        consignment.transport[1].weight_gross = qty(23_000_000, "LBR");
        let report = run(&consignment, &RuleParams::default());
        let Some(RuleStatus::Fail { findings }) = report.status(Rule::Weights) else {
            panic!("{report:#?}");
        };
        assert_eq!(findings.len(), 1);
        let finding = &findings[0];
        assert_eq!(finding.field, "weight_gross");
        let documents: Vec<&str> = finding.values.iter().map(|(d, _)| d.as_str()).collect();
        assert_eq!(
            documents,
            [
                "declaration 422020250000123456",
                "leg 1 sea_bill_of_lading COSU6401234560",
                "leg 2 rail_consignment_note SMGS 24-0417-0093",
                "packing_list PL-HN-2025-0417",
            ]
        );
        assert_eq!(
            finding.tolerance.as_deref(),
            Some("52.163 KGM (5‰ of the largest, at least 1 KGM)")
        );
    }

    #[test]
    fn rule_names_are_stable() {
        let names: Vec<&str> = Rule::ALL.iter().map(|r| r.name()).collect();
        assert_eq!(
            names,
            [
                "transport_reference",
                "parties",
                "hs_codes",
                "packages",
                "weights",
                "quantities",
                "value",
                "containers",
                "places",
                "dates",
                "contract_and_origin",
            ]
        );
        for rule in Rule::ALL {
            assert_eq!(
                serde_json::to_string(&rule).unwrap(),
                format!("\"{}\"", rule.name())
            );
            assert_eq!(rule.to_string(), rule.name());
        }
    }

    #[test]
    fn reports_and_params_round_trip() {
        let mut consignment = rich();
        consignment.certificate_of_origin = None;
        let report = run(&consignment, &RuleParams::default());
        assert!(!report.failed().is_empty() && !report.pending().is_empty());
        let bytes = minicbor::to_vec(&report).unwrap();
        assert_eq!(minicbor::decode::<Report>(&bytes).unwrap(), report);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["results"][0]["rule"], "transport_reference");
        assert!(json["results"][0]["status"]["status"].is_string());
        assert_eq!(serde_json::from_value::<Report>(json).unwrap(), report);

        let params = RuleParams::default();
        let bytes = minicbor::to_vec(&params).unwrap();
        assert_eq!(minicbor::decode::<RuleParams>(&bytes).unwrap(), params);
        let json = serde_json::to_string(&params).unwrap();
        assert_eq!(serde_json::from_str::<RuleParams>(&json).unwrap(), params);
    }

    #[test]
    fn params_check_table() {
        let default = RuleParams::default;
        let cases: Vec<(RuleParams, Option<&str>)> = vec![
            (default(), None),
            (
                RuleParams {
                    version: 0,
                    ..default()
                },
                Some("version"),
            ),
            (
                RuleParams {
                    weight_tolerance_permille: 1001,
                    ..default()
                },
                Some("weight_tolerance_permille"),
            ),
            (
                RuleParams {
                    amount_tolerance_minor: -1,
                    ..default()
                },
                Some("amount_tolerance_minor"),
            ),
            (
                RuleParams {
                    bulk_quantity_tolerance_permille: 2000,
                    ..default()
                },
                Some("bulk_quantity_tolerance_permille"),
            ),
        ];
        for (params, bad) in cases {
            match (params.check(), bad) {
                (Ok(()), None) => {}
                (Err(RuleError::InvalidParam { param, .. }), Some(expected)) => {
                    assert_eq!(param, expected)
                }
                (result, _) => panic!("{params:?}: {result:?}"),
            }
        }
    }

    #[test]
    fn reference_normalisation() {
        for (left, right) in [
            ("cosu 6401234560", "COSU6401234560"),
            (" SMGS 24-0417-0093 ", "smgs2404170093"),
            ("HN-KZ-2025-009", "hn kz 2025 009"),
        ] {
            assert_eq!(normalize_reference(left), normalize_reference(right));
        }
        assert_ne!(normalize_reference("HN/KZ"), normalize_reference("HNKZ"));
    }

    /// The clean consignment plus extra lines, containers and receipts, several of which
    /// disagree: so that order-independence is tested on findings, not only on notes.
    fn rich() -> Consignment {
        let mut c = qingdao_almaty();
        let extra = [
            seals("MSKU123456", &["S-1", "S-2", "S-3"]),
            seals("TCLU765432", &["S-9"]),
            seals("GESU555000", &[]),
            seals("FCIU222333", &["A1", "B2"]),
        ];
        declaration(&mut c).containers.extend(extra.iter().cloned());
        c.transport[0].containers.extend(extra[..2].iter().cloned());
        let mut changed = extra.clone();
        changed[0].seals = vec!["S-3".into(), "S-1".into()];
        c.transport[1].containers.extend(changed);
        packing(&mut c).containers.extend(extra.iter().cloned());
        for (number, entry) in [
            ("EIR-X-3", &extra[0]),
            ("EIR-X-3", &extra[1]),
            ("EIR-X-5", &extra[3]),
        ] {
            c.receipts.push(InterchangeReceipt {
                number: number.into(),
                containers: vec![entry.clone()],
            });
        }
        c.receipts.push(InterchangeReceipt {
            number: "EIR-X-4".into(),
            containers: vec![seals("GESU555000", &["S-7"])],
        });
        let bolts = InvoiceLine {
            hs_code: hs("731815"),
            description: "Anchor bolts".into(),
            quantity: qty(5_000_000, "H87"),
            unit_price: None,
            amount: usd(250_000),
            origin: country("DE"),
        };
        let nuts = InvoiceLine {
            hs_code: hs("731816"),
            description: "Nuts".into(),
            quantity: qty(40_000, "KGM"),
            unit_price: None,
            amount: usd(12_000),
            origin: country("CN"),
        };
        invoice(&mut c).lines.extend([bolts, nuts]);
        let declared = |code: &str, quantity, origin: &str| DeclarationLine {
            commodity_code: hs(code),
            description: "紧固件 fasteners".into(),
            quantity,
            unit_price: None,
            total: usd(100),
            origin: country(origin),
        };
        declaration(&mut c).lines.extend([
            declared("7318159001", qty(4_900_000, "H87"), "CN"),
            declared("7318160000", qty(44_000, "KGM"), "KZ"),
            declared("7320909000", qty(1_000, "SET"), "CN"),
            declared("7318159002", qty(100_000, "H87"), "CN"),
        ]);
        c.transport[0].goods.extend([
            GoodsItem {
                hs_code: Some(hs("731815")),
                description: "bolts".into(),
                packages: 0,
                weight_gross: qty(0, "KGM"),
            },
            GoodsItem {
                hs_code: None,
                description: "nuts".into(),
                packages: 0,
                weight_gross: qty(0, "KGM"),
            },
        ]);
        certificate(&mut c)
            .hs_codes
            .extend([hs("731815"), hs("731816")]);
        c.transport[1].kind = TransportDocumentKind::RailConsignmentNote;
        c
    }

    /// Shuffles `items` in place, deterministically from `seed` (for nested lists, where a
    /// proptest shuffle strategy per list would be unwieldy).
    fn shuffle<T>(items: &mut [T], seed: &mut u64) {
        for i in (1..items.len()).rev() {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            let j = usize::try_from(*seed % (i as u64 + 1)).unwrap();
            items.swap(i, j);
        }
    }

    fn shuffle_containers(list: &mut [ContainerSeal], seed: &mut u64) {
        shuffle(list, seed);
        for entry in list {
            shuffle(&mut entry.seals, seed);
        }
    }

    fn base_cases() -> Vec<Consignment> {
        let mut broken = rich();
        broken.transport[0].weight_gross = qty(30_000_000, "LBR");
        broken.transport.push(TransportDocument {
            number: "ROAD-77".into(),
            kind: TransportDocumentKind::RoadConsignmentNote,
            place_of_loading: locode("KZNQZ"),
            ..broken.transport[1].clone()
        });
        vec![qingdao_almaty(), rich(), broken]
    }

    proptest! {
        #[test]
        fn report_does_not_depend_on_list_order(
            which in 0usize..3,
            receipts in Just((0..6).collect::<Vec<usize>>()).prop_shuffle(),
            invoice_lines in Just((0..4).collect::<Vec<usize>>()).prop_shuffle(),
            declaration_lines in Just((0..6).collect::<Vec<usize>>()).prop_shuffle(),
            seed in any::<u64>(),
        ) {
            let original = base_cases().swap_remove(which);
            let mut permuted = original.clone();
            let pick = |order: &[usize], len: usize| -> Vec<usize> {
                order.iter().copied().filter(|&i| i < len).collect()
            };
            let order = pick(&receipts, original.receipts.len());
            permuted.receipts = order.iter().map(|&i| original.receipts[i].clone()).collect();
            let inv = original.invoice.as_ref().unwrap();
            let order = pick(&invoice_lines, inv.lines.len());
            invoice(&mut permuted).lines = order.iter().map(|&i| inv.lines[i].clone()).collect();
            let decl = original.declaration.as_ref().unwrap();
            let order = pick(&declaration_lines, decl.lines.len());
            declaration(&mut permuted).lines =
                order.iter().map(|&i| decl.lines[i].clone()).collect();

            let mut seed = seed | 1;
            shuffle_containers(&mut declaration(&mut permuted).containers, &mut seed);
            shuffle_containers(&mut packing(&mut permuted).containers, &mut seed);
            for leg in &mut permuted.transport {
                shuffle_containers(&mut leg.containers, &mut seed);
                shuffle(&mut leg.goods, &mut seed);
            }
            for receipt in &mut permuted.receipts {
                shuffle_containers(&mut receipt.containers, &mut seed);
            }
            shuffle(&mut certificate(&mut permuted).hs_codes, &mut seed);

            let params = RuleParams::default();
            prop_assert_eq!(run(&permuted, &params), run(&original, &params));
        }

        #[test]
        fn validate_is_deterministic(
            which in 0usize..3,
            present in any::<[bool; 6]>(),
            legs in 0usize..4,
        ) {
            let mut c = base_cases().swap_remove(which);
            let [invoice, declaration, packing_list, certificate, receipts, transport] = present;
            if !invoice { c.invoice = None; }
            if !declaration { c.declaration = None; }
            if !packing_list { c.packing_list = None; }
            if !certificate { c.certificate_of_origin = None; }
            if !receipts { c.receipts.clear(); }
            if !transport { c.transport.truncate(legs.min(c.transport.len())); }
            let params = RuleParams::default();
            let first = run(&c, &params);
            let second = run(&c.clone(), &params);
            prop_assert_eq!(&first, &second);
            prop_assert_eq!(first.results.len(), Rule::ALL.len());
            let bytes = minicbor::to_vec(&first).unwrap();
            prop_assert_eq!(minicbor::decode::<Report>(&bytes).unwrap(), first);
        }
    }
}
