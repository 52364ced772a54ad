//! `verify`: a proof bundle or a credential checked against a genesis, offline, and reported
//! link by link. The links, their order and the verdict are the sdk's own
//! ([`ProofBundle::links`], [`BundleVerifier::verify_traced`], [`Credential::links`],
//! [`verify_credential_traced`]); this module only describes them for people.

use caravan_sdk::block::{CommitCertificate, Header};
use caravan_sdk::bundle::{
    BundleVerifier, Link, Part, ProofBundle, Proven, ProvenTx, VerifyError, link, printable_key,
};
use caravan_sdk::credential::{
    CRYPTOSUITE, Credential, CredentialError, LINK_CREDENTIAL, LINK_PROOF_VALUE, ProvenCredential,
    TYPE_CREDIT_CREDENTIAL, credential_links, verify_credential_traced,
};
use caravan_sdk::genesis::{Genesis, GenesisError};
use caravan_sdk::keys::PublicKey;
use caravan_sdk::tx::Outcome;
use serde::Serialize;
use serde_json::Value;

/// What the file verified is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A proof bundle, CBOR or JSON.
    Bundle,
    /// A W3C Verifiable Credential carrying a proof bundle.
    Credential,
}

/// Where a link stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Checked, and it holds.
    Ok,
    /// Checked, and it does not hold: verification stopped here.
    Failed,
    /// Not checked, because an earlier link failed.
    NotChecked,
}

/// One link of the chain of checks, in the order the sdk checks them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LinkReport {
    /// The link's name, as the sdk names a failure of it (`signature`, `inclusion proof`, ...).
    pub name: &'static str,
    /// The part of the file it checks: `bundle`, `transaction`, `state`, `credential` or
    /// `claims`. Within one report no two links have the same part and name.
    pub part: Part,
    /// Whether it holds.
    pub status: Status,
    /// What was checked (ok), the sdk's error message (failed), or why it was not checked.
    pub detail: String,
}

/// The answer of [`verify`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// Whether every link holds: the file proves what `proven` says.
    pub ok: bool,
    /// What the file is.
    pub kind: Kind,
    /// The links that apply to this file, in the order they are checked.
    pub links: Vec<LinkReport>,
    /// What was proven (the sdk's facts as JSON), when `ok`. For a bundle, `transaction` (with
    /// `body_kind`) and `state` (with `key_text`), either possibly null; for a credential, the
    /// issuer, SCO code, record and validity, and `bundle` (with `body_kind`).
    pub proven: Option<Value>,
    /// The sdk's message for the failed link, when not `ok`.
    pub error: Option<String>,
    /// The genesis's hash, which is the chain id (hex), when the genesis could be read.
    pub genesis_hash: Option<String>,
    /// The federation's name in the genesis, when it could be read.
    pub chain_name: Option<String>,
}

/// Verifies `file`, a proof bundle (canonical CBOR, or its JSON form) or a credit credential
/// (JSON with an `@context`), against the genesis whose JSON text is `genesis_json`. The genesis
/// is checked first: nothing it does not vouch for is trusted.
pub fn verify(genesis_json: &[u8], file: &[u8]) -> Report {
    let kind = if Credential::is_credential(file) {
        Kind::Credential
    } else {
        Kind::Bundle
    };
    let genesis = Genesis::from_json(genesis_json);
    let (genesis_hash, chain_name) = match &genesis {
        Ok(g) => (
            Some(g.chain_id().to_string()),
            Some(g.content.chain_name.clone()),
        ),
        Err(_) => (None, None),
    };
    let checked = match kind {
        Kind::Bundle => check_bundle(genesis, file),
        Kind::Credential => check_credential(genesis, file),
    };
    let (ok, links) = checked.links();
    let (proven, error) = match checked.verdict {
        Ok(proven) => (Some(proven), None),
        Err(failure) => (None, Some(failure.message)),
    };
    Report {
        ok,
        kind,
        links,
        proven,
        error,
        genesis_hash,
        chain_name,
    }
}

/// A failed verification: the failed link's name and the sdk's message.
struct Failure {
    link: &'static str,
    message: String,
}

impl From<VerifyError> for Failure {
    fn from(e: VerifyError) -> Self {
        Failure {
            link: e.link(),
            message: e.to_string(),
        }
    }
}

impl From<CredentialError> for Failure {
    fn from(e: CredentialError) -> Self {
        Failure {
            link: e.link(),
            message: e.to_string(),
        }
    }
}

/// What one verification did: the links it checks for this file, those it passed (with what
/// each established), and the verdict.
struct Checked {
    plan: Vec<Link>,
    passed: Vec<(Link, String)>,
    verdict: Result<Value, Failure>,
}

impl Checked {
    /// A verification that stopped before any link passed.
    fn refused(plan: Vec<Link>, failure: Failure) -> Self {
        Checked {
            plan,
            passed: Vec::new(),
            verdict: Err(failure),
        }
    }

    /// A verification whose genesis held but whose file did not decode.
    fn undecodable(plan: Vec<Link>, genesis: &Genesis, failure: Failure) -> Self {
        Checked {
            plan,
            passed: vec![(
                Link::new(Part::Bundle, link::GENESIS),
                describe_genesis(genesis),
            )],
            verdict: Err(failure),
        }
    }

    /// Whether all links hold, and the report of each.
    fn links(&self) -> (bool, Vec<LinkReport>) {
        let mut links: Vec<LinkReport> = self
            .passed
            .iter()
            .map(|(link, detail)| LinkReport {
                name: link.name,
                part: link.part,
                status: Status::Ok,
                detail: detail.clone(),
            })
            .collect();
        let Err(failure) = &self.verdict else {
            return (true, links);
        };
        let passed = self.passed.len();
        // The sdk's tests hold its trace to a prefix of its plan; were it ever not, the
        // verdict still stands and only the links not yet reached are left out.
        let on_plan = self.plan.len() > passed
            && self.passed.iter().zip(&self.plan).all(|((l, _), p)| l == p);
        let failed = match self.plan.get(passed) {
            Some(next) if on_plan => *next,
            _ => Link::new(Part::Bundle, failure.link),
        };
        links.push(LinkReport {
            name: failed.name,
            part: failed.part,
            status: Status::Failed,
            detail: failure.message.clone(),
        });
        if on_plan {
            links.extend(self.plan[passed + 1..].iter().map(|link| LinkReport {
                name: link.name,
                part: link.part,
                status: Status::NotChecked,
                detail: format!("not checked: link '{}' failed before it", failed.name),
            }));
        }
        (false, links)
    }
}

/// The first links of any verification, when the file cannot be read for more.
fn unread_bundle_links() -> Vec<Link> {
    vec![
        Link::new(Part::Bundle, link::GENESIS),
        Link::new(Part::Bundle, link::ENCODING),
    ]
}

/// Verifies a proof bundle.
fn check_bundle(genesis: Result<Genesis, GenesisError>, file: &[u8]) -> Checked {
    let bundle = ProofBundle::parse(file);
    let plan = match &bundle {
        Ok(b) => b.links(),
        Err(_) => unread_bundle_links(),
    };
    let genesis = match genesis {
        Ok(g) => g,
        Err(e) => return Checked::refused(plan, VerifyError::Genesis(e).into()),
    };
    let verifier = match BundleVerifier::new(&genesis) {
        Ok(v) => v,
        Err(e) => return Checked::refused(plan, e.into()),
    };
    let bundle = match bundle {
        Ok(b) => b,
        Err(e) => return Checked::undecodable(plan, &genesis, e.into()),
    };
    let mut passed = Vec::new();
    let verdict = verifier
        .verify_traced(&bundle, &mut passed)
        .map(|p| proven_bundle(&p))
        .map_err(Failure::from);
    let describe = Describe::new(&genesis, Some(&bundle));
    Checked {
        plan,
        passed: passed.into_iter().map(|l| (l, describe.link(l))).collect(),
        verdict,
    }
}

/// Verifies a credential.
fn check_credential(genesis: Result<Genesis, GenesisError>, file: &[u8]) -> Checked {
    let credential = Credential::parse(file);
    let plan = match &credential {
        Ok(c) => c.links(),
        Err(_) => credential_links(None),
    };
    let genesis = match genesis {
        Ok(g) => g,
        Err(e) => return Checked::refused(plan, VerifyError::Genesis(e).into()),
    };
    let verifier = match BundleVerifier::new(&genesis) {
        Ok(v) => v,
        Err(e) => return Checked::refused(plan, e.into()),
    };
    let credential = match credential {
        Ok(c) => c,
        Err(e) => return Checked::undecodable(plan, &genesis, e.into()),
    };
    let mut passed = Vec::new();
    let verdict = verify_credential_traced(&verifier, &credential, &mut passed)
        .map(|p| proven_credential(&p))
        .map_err(Failure::from);
    let bundle = credential.bundle().ok();
    let describe = Describe::new(&genesis, bundle.as_ref());
    Checked {
        plan,
        passed: passed.into_iter().map(|l| (l, describe.link(l))).collect(),
        verdict,
    }
}

/// The body's JSON `type` (`anchor_record`, `attest_credit`, ...), from its JSON form.
fn body_kind(facts: &Value) -> Value {
    facts
        .get("body")
        .and_then(|body| body.get("type"))
        .cloned()
        .unwrap_or(Value::Null)
}

/// What a verified bundle proves, as JSON, with each transaction's body kind and the state
/// key as text.
fn proven_bundle(proven: &Proven) -> Value {
    let mut value = serde_json::to_value(proven).unwrap_or(Value::Null);
    if let Some(tx) = value.get_mut("transaction").filter(|t| t.is_object()) {
        let kind = body_kind(tx);
        tx["body_kind"] = kind;
    }
    if let (Some(state), Some(facts)) = (
        value.get_mut("state").filter(|s| s.is_object()),
        &proven.state,
    ) {
        state["key_text"] = Value::from(printable_key(&facts.key));
    }
    value
}

/// What a verified credential proves, as JSON, with its transaction's body kind.
fn proven_credential(proven: &ProvenCredential) -> Value {
    let mut value = serde_json::to_value(proven).unwrap_or(Value::Null);
    if let Some(tx) = value.get_mut("bundle").filter(|t| t.is_object()) {
        let kind = body_kind(tx);
        tx["body_kind"] = kind;
    }
    value
}

/// What the genesis link established.
fn describe_genesis(genesis: &Genesis) -> String {
    format!(
        "signed by all {} founding agencies of {:?}; chain {}",
        genesis.content.agencies.len(),
        genesis.content.chain_name,
        genesis.chain_id()
    )
}

/// Says, for a link that passed, what it established about this file.
struct Describe<'a> {
    genesis: &'a Genesis,
    bundle: Option<&'a ProofBundle>,
}

impl<'a> Describe<'a> {
    fn new(genesis: &'a Genesis, bundle: Option<&'a ProofBundle>) -> Self {
        Describe { genesis, bundle }
    }

    fn link(&self, link: Link) -> String {
        let bundle = self.bundle;
        match (link.part, link.name, bundle) {
            (Part::Bundle, link::GENESIS, _) => describe_genesis(self.genesis),
            (Part::Bundle, link::ENCODING, Some(b)) => {
                format!("a version {} proof bundle {}", b.version, carries(b))
            }
            (Part::Bundle, link::VALIDATOR_SET_CHANGE, Some(b)) => format!(
                "{} certified change(s) of the validator set, each by the set in force before it",
                b.validator_changes.len()
            ),
            (Part::Transaction, name, Some(b)) => match &b.item {
                Some(item) => self.transaction(name, item, b),
                None => "passed".into(),
            },
            (Part::State, name, Some(b)) => match &b.state {
                Some(state) => match name {
                    link::HEADER => describe_header(&state.header),
                    link::CERTIFICATE => self.certificate(&state.certificate),
                    _ => match &state.value {
                        Some(value) => format!(
                            "key {} holds a value of {} bytes under state root {}",
                            printable_key(&state.key),
                            value.len(),
                            state.header.state_root
                        ),
                        None => format!(
                            "key {} is absent from the state under state root {}",
                            printable_key(&state.key),
                            state.header.state_root
                        ),
                    },
                },
                None => "passed".into(),
            },
            (Part::Credential, LINK_CREDENTIAL, _) => format!(
                "a {TYPE_CREDIT_CREDENTIAL} with a Data Integrity proof of cryptosuite {CRYPTOSUITE}"
            ),
            (Part::Credential, LINK_PROOF_VALUE, Some(b)) => format!(
                "multibase base64url of a {}-byte proof bundle",
                b.to_bytes().len()
            ),
            (Part::Claims, _, _) => {
                "the bundle proves an accepted credit attestation, and every claim equals what it says"
                    .into()
            }
            _ => "passed".into(),
        }
    }

    /// What a passed link of the transaction established.
    fn transaction(&self, name: &str, item: &ProvenTx, bundle: &ProofBundle) -> String {
        let tx = &item.transaction;
        let signer = &tx.tx.signer;
        let registration = bundle.registration_tx();
        match name {
            link::CHAIN => format!("transaction {} is for chain {}", tx.id(), tx.tx.chain_id),
            link::SIGNER => match registration {
                Some((r, _)) => format!(
                    "{signer} is not a founding agency; the bundle carries its registration by {}",
                    r.tx.signer
                ),
                None => format!("{signer} is a founding agency: its admin key is in the genesis"),
            },
            link::SIGNER_REGISTRATION => match (registration, bundle.signer_registration.is_some())
            {
                (Some((r, receipt)), true) => format!(
                    "registered by {} in block {}, before the transaction; proven and certified like it",
                    r.tx.signer, receipt.height
                ),
                (Some((r, receipt)), false) => format!(
                    "registered by {} in block {} at log position {}, before the transaction; its path reaches a hash of the transaction's inclusion path, which ties it to the header",
                    r.tx.signer, receipt.height, receipt.log_index
                ),
                (None, _) => "passed".into(),
            },
            link::SIGNATURE => format!("signed by {signer}'s key"),
            link::RECEIPT => {
                let outcome = match &item.receipt.outcome {
                    Outcome::Accepted => "accepted".to_string(),
                    Outcome::Rejected { rejection } => format!("rejected: {}", rejection.detail),
                };
                format!(
                    "block {} position {}, log position {}: {outcome}",
                    item.receipt.height, item.receipt.index, item.receipt.log_index
                )
            }
            link::INCLUSION_PROOF => format!(
                "log entry {} of {} leads to the header's log root {}",
                item.inclusion.leaf_index, item.inclusion.tree_size, item.header.log_root
            ),
            link::HEADER => describe_header(&item.header),
            link::CERTIFICATE => self.certificate(&item.certificate),
            _ => "passed".into(),
        }
    }

    /// The agencies whose precommits a certificate carries.
    fn certificate(&self, certificate: &CommitCertificate) -> String {
        let agencies: Vec<String> = certificate
            .signatures
            .iter()
            .map(|s| self.agency_of(&s.validator))
            .collect();
        format!(
            "precommits of {} (round {}) carry more than two thirds of the voting power",
            agencies.join(", "),
            certificate.round
        )
    }

    /// The agency of a validator key: a founder, or a member of a set the bundle's certified
    /// changes introduce.
    fn agency_of(&self, key: &PublicKey) -> String {
        let founders = self.genesis.content.validator_set();
        let changes = self.bundle.map(|b| b.validator_changes.as_slice());
        std::iter::once(&founders)
            .chain(changes.unwrap_or_default().iter().map(|c| &c.validators))
            .find_map(|set| set.get(key).map(|v| v.agency.to_string()))
            .unwrap_or_else(|| key.to_string())
    }
}

/// What a bundle carries, in words.
fn carries(bundle: &ProofBundle) -> String {
    let mut parts = Vec::new();
    if bundle.item.is_some() {
        parts.push("a transaction");
    }
    if bundle.registration_tx().is_some() {
        parts.push("its signer's registration");
    }
    if bundle.state.is_some() {
        parts.push("a state value");
    }
    format!("carrying {}", parts.join(", "))
}

/// A header's height, block and validator set.
fn describe_header(header: &Header) -> String {
    format!(
        "block {} at height {} names validator set {}, the set in force at that height",
        header.id(),
        header.height,
        header.validators_hash
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{
        genesis_named, grade_credential, sample_bundle, sample_bundle_v2, sample_entries,
        state_bundle, test_genesis,
    };

    fn genesis_json(genesis: &Genesis) -> Vec<u8> {
        serde_json::to_vec_pretty(genesis).expect("json")
    }

    fn names(report: &Report) -> Vec<&'static str> {
        report.links.iter().map(|l| l.name).collect()
    }

    /// The links are ok up to the one named `failed` of `part`, which failed with `error`,
    /// and not checked after it.
    fn assert_failed_at(report: &Report, part: Part, failed: &str) {
        assert!(!report.ok, "{report:#?}");
        assert!(report.proven.is_none());
        let error = report.error.as_deref().expect("an error");
        let at = report
            .links
            .iter()
            .position(|l| l.status == Status::Failed)
            .unwrap_or_else(|| panic!("no failed link: {report:#?}"));
        let link = &report.links[at];
        assert_eq!((link.part, link.name), (part, failed), "{report:#?}");
        assert_eq!(link.detail, error);
        assert!(
            error.starts_with(&format!("link '{failed}' failed")),
            "{error}"
        );
        assert!(report.links[..at].iter().all(|l| l.status == Status::Ok));
        assert!(
            report.links[at + 1..]
                .iter()
                .all(|l| l.status == Status::NotChecked)
        );
    }

    #[test]
    fn a_good_bundle_passes_every_link_in_cbor_and_json() {
        let (genesis, v3, _) = sample_bundle();
        let (_, v2, _) = sample_bundle_v2();
        for (bundle, file, registration) in [&v3, &v2].into_iter().flat_map(|bundle| {
            let registration = if bundle.version == 3 {
                "registered by AG-0 in block 1 at log position 0, before the transaction; its path reaches a hash of the transaction's inclusion path, which ties it to the header"
            } else {
                "registered by AG-0 in block 1, before the transaction; proven and certified like it"
            };
            [
                (bundle, bundle.to_bytes(), registration),
                (
                    bundle,
                    serde_json::to_vec_pretty(bundle).expect("json"),
                    registration,
                ),
            ]
        }) {
            let item = bundle.item.as_ref().expect("item");
            let report = verify(&genesis_json(&genesis), &file);
            assert!(report.ok, "{report:#?}");
            assert_eq!(report.kind, Kind::Bundle);
            assert_eq!(report.error, None);
            assert_eq!(
                names(&report),
                [
                    "genesis",
                    "encoding",
                    "chain",
                    "signer",
                    "signer registration",
                    "signature",
                    "receipt",
                    "inclusion proof",
                    "header",
                    "certificate"
                ]
            );
            assert!(report.links.iter().all(|l| l.status == Status::Ok));
            assert!(report.links[0].detail.contains("all 4 founding agencies"));
            assert_eq!(report.links[4].detail, registration);
            assert!(
                report.links[9].detail.contains("AG-0, AG-1, AG-2"),
                "{}",
                report.links[9].detail
            );
            assert_eq!(report.genesis_hash, Some(genesis.chain_id().to_string()));
            assert_eq!(report.chain_name.as_deref(), Some("test"));
            let proven = report.proven.as_ref().expect("proven");
            let tx = &proven["transaction"];
            assert_eq!(tx["tx_id"], item.transaction.id().to_string());
            assert_eq!(tx["signer"], "CN-EXPORTER-1");
            assert_eq!(tx["body_kind"], "anchor_record");
            assert_eq!(tx["height"], 4);
            assert_eq!(
                tx["certified_by"],
                serde_json::json!(["AG-0", "AG-1", "AG-2"])
            );
            assert!(proven["state"].is_null());
        }
    }

    #[test]
    fn a_tampered_bundle_names_the_failed_link() {
        let (genesis, bundle, _) = sample_bundle();
        type Damage = fn(&mut ProofBundle);
        let cases: [(&str, Damage); 7] = [
            ("signature", |b| {
                if let Some(i) = b.item.as_mut() {
                    i.transaction.signature.0[0] ^= 1;
                }
            }),
            ("inclusion proof", |b| {
                if let Some(i) = b.item.as_mut() {
                    i.inclusion.path[0].0[0] ^= 1;
                }
            }),
            ("receipt", |b| {
                if let Some(i) = b.item.as_mut() {
                    i.receipt.log_index += 1;
                }
            }),
            ("certificate", |b| {
                if let Some(i) = b.item.as_mut() {
                    i.certificate.signatures.truncate(2);
                }
            }),
            ("header", |b| {
                if let Some(i) = b.item.as_mut() {
                    i.header.validators_hash.0[0] ^= 1;
                }
            }),
            ("signer", |b| b.registration = None),
            ("signer registration", |b| {
                if let Some(r) = b.registration.as_mut() {
                    r.path[0].0[5] ^= 1;
                }
            }),
        ];
        for (failed, damage) in cases {
            let mut b = bundle.clone();
            damage(&mut b);
            let report = verify(&genesis_json(&genesis), &b.to_bytes());
            assert_failed_at(&report, Part::Transaction, failed);
            // Links that do not apply are left out: without a registration, there is none.
            assert_eq!(report.links.len(), b.links().len(), "{failed}: {report:#?}");
        }

        // A changed byte of the encoding: refused at some link, never verified.
        let bytes = bundle.to_bytes();
        for position in (0..bytes.len()).step_by(37) {
            let mut changed = bytes.clone();
            changed[position] ^= 0x01;
            let report = verify(&genesis_json(&genesis), &changed);
            assert!(!report.ok, "byte {position}");
            assert_eq!(
                report
                    .links
                    .iter()
                    .filter(|l| l.status == Status::Failed)
                    .count(),
                1
            );
        }
    }

    #[test]
    fn an_unreadable_file_fails_at_the_encoding() {
        let (genesis, _, _) = sample_bundle();
        for file in [&b""[..], b"\x00\x01garbage", b"{\"version\": 2}"] {
            let report = verify(&genesis_json(&genesis), file);
            assert_eq!(report.kind, Kind::Bundle);
            assert_failed_at(&report, Part::Bundle, "encoding");
            assert_eq!(names(&report), ["genesis", "encoding"]);
        }
    }

    #[test]
    fn the_genesis_is_checked_first() {
        let (genesis, bundle, _) = sample_bundle();
        let report = verify(b"not json", &bundle.to_bytes());
        assert_failed_at(&report, Part::Bundle, "genesis");
        assert_eq!(report.genesis_hash, None);
        assert_eq!(
            report.links.len(),
            bundle.links().len(),
            "the bundle's links"
        );

        let mut unsigned = genesis.clone();
        unsigned.signatures.pop();
        let report = verify(&genesis_json(&unsigned), &bundle.to_bytes());
        assert_failed_at(&report, Part::Bundle, "genesis");
        assert!(
            report
                .error
                .as_deref()
                .unwrap_or_default()
                .contains("lacks the signature"),
            "{report:#?}"
        );
        assert_eq!(report.genesis_hash, Some(unsigned.chain_id().to_string()));

        // Another federation's genesis: the bundle is for another chain.
        let (other, _) = genesis_named("another", 4);
        let report = verify(&genesis_json(&other), &bundle.to_bytes());
        assert_failed_at(&report, Part::Transaction, "chain");
    }

    #[test]
    fn a_state_bundle_reports_its_own_links() {
        let (genesis, keys) = test_genesis(4);
        let entries = sample_entries();
        let present = state_bundle(&genesis, &keys, 5, &entries, b"c/attestation-1");
        let report = verify(&genesis_json(&genesis), &present.to_bytes());
        assert!(report.ok, "{report:#?}");
        assert_eq!(
            names(&report),
            [
                "genesis",
                "encoding",
                "header",
                "certificate",
                "state proof"
            ]
        );
        assert!(report.links[2..].iter().all(|l| l.part == Part::State));
        let state = &report.proven.as_ref().expect("proven")["state"];
        assert_eq!(state["key_text"], "c/attestation-1");
        assert_eq!(state["value"], "6c697665");
        assert_eq!(state["height"], 5);
        assert!(report.proven.as_ref().expect("proven")["transaction"].is_null());

        let absent = state_bundle(&genesis, &keys, 5, &entries, b"c/never-written");
        let report = verify(&genesis_json(&genesis), &absent.to_bytes());
        assert!(report.ok, "{report:#?}");
        assert!(report.links[4].detail.contains("is absent"));

        let mut forged = present.clone();
        if let Some(s) = forged.state.as_mut() {
            s.value = Some(b"revoked".to_vec());
        }
        let report = verify(&genesis_json(&genesis), &forged.to_bytes());
        assert_failed_at(&report, Part::State, "state proof");
    }

    #[test]
    fn a_credential_verifies_and_a_changed_claim_is_named() {
        let (genesis, credential) = grade_credential();
        let file = credential.to_json_pretty();
        let report = verify(&genesis_json(&genesis), file.as_bytes());
        assert!(report.ok, "{report:#?}");
        assert_eq!(report.kind, Kind::Credential);
        let parts: Vec<(Part, &str)> = report.links.iter().map(|l| (l.part, l.name)).collect();
        assert_eq!(
            parts[..4],
            [
                (Part::Bundle, "genesis"),
                (Part::Credential, "credential"),
                (Part::Credential, "proof value"),
                (Part::Bundle, "encoding"),
            ]
        );
        assert_eq!(parts.last(), Some(&(Part::Claims, "credential")));
        assert!(parts.contains(&(Part::Transaction, "signature")));
        let proven = report.proven.as_ref().expect("proven");
        assert_eq!(
            proven["sco_code"],
            caravan_sdk::trade::sample::sco("CN", 123).as_str()
        );
        assert_eq!(proven["issuer"], "AG-0");
        assert_eq!(proven["bundle"]["body_kind"], "attest_credit");

        let mut value = credential.to_value();
        value["credentialSubject"]["grade"]["grade"] = "certified".into();
        let report = verify(&genesis_json(&genesis), value.to_string().as_bytes());
        assert_eq!(report.kind, Kind::Credential);
        assert_failed_at(&report, Part::Claims, "credential");

        let mut value = credential.to_value();
        value["proof"]["cryptosuite"] = "eddsa-jcs-2022".into();
        let report = verify(&genesis_json(&genesis), value.to_string().as_bytes());
        assert_failed_at(&report, Part::Credential, "credential");

        let mut value = credential.to_value();
        value["note"] = "not a member".into();
        let report = verify(&genesis_json(&genesis), value.to_string().as_bytes());
        assert_failed_at(&report, Part::Credential, "credential");
    }
}
