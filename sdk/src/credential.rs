//! A credit attestation exported as a W3C Verifiable Credential (Data Model 2.0), secured by the
//! `caravan-ledger-2026` Data Integrity cryptosuite: the proof value is the attestation's proof
//! bundle, and every claim of the credential must equal what the verified bundle says
//! (`docs/credential.md`). Building and verifying do no IO.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::bundle::{BundleVerifier, Link, Part, ProofBundle, TxFacts, VerifyError, link};
use crate::codec;
use crate::genesis::Genesis;
use crate::hash::Digest;
use crate::ids::{BlockId, ChainId, Height, ParticipantId, TxId};
use crate::trade::documents::Date;
use crate::trade::ident::ScoCode;
use crate::trade::model::CreditRecord;
use crate::tx::{Body, Outcome};

/// The base context of Verifiable Credentials 2.0, first in every `@context`.
pub const CONTEXT_V2: &str = "https://www.w3.org/ns/credentials/v2";
/// The context that maps the terms no published context defines (our claims), last.
pub const CONTEXT_UNDEFINED_TERMS: &str = "https://www.w3.org/ns/credentials/undefined-terms/v2";
/// The credential type every Verifiable Credential carries.
pub const TYPE_VERIFIABLE_CREDENTIAL: &str = "VerifiableCredential";
/// The type of a credit attestation credential.
pub const TYPE_CREDIT_CREDENTIAL: &str = "CaravanCreditCredential";
/// The proof type, defined by the VC 2.0 base context.
pub const PROOF_TYPE: &str = "DataIntegrityProof";
/// The cryptosuite specified in `docs/credential.md`.
pub const CRYPTOSUITE: &str = "caravan-ledger-2026";
/// The proof purpose: the issuer asserts the claims.
pub const PROOF_PURPOSE: &str = "assertionMethod";
/// The multibase prefix of base64url without padding.
pub const MULTIBASE_BASE64URL: char = 'u';
/// The media type of a credential file.
pub const MEDIA_TYPE: &str = "application/vc";
/// The largest credential read: the largest bundle in base64, with room for the claims.
pub const MAX_CREDENTIAL_BYTES: usize = codec::MAX_BUNDLE_BYTES * 4 / 3 + 64 * 1024;
/// The link of a credential's form and claims, as [`CredentialError::link`] names it.
pub const LINK_CREDENTIAL: &str = "credential";
/// The link of a credential's proof value (its multibase encoding).
pub const LINK_PROOF_VALUE: &str = "proof value";

/// A credit attestation as a Verifiable Credential. Its JSON form is the one the VC Data Model
/// 2.0 describes; [`Credential::parse`] refuses any member this type does not carry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Credential {
    /// [`CONTEXT_V2`], then [`CONTEXT_UNDEFINED_TERMS`].
    #[serde(rename = "@context")]
    pub context: Vec<String>,
    /// `urn:caravan:<chain id>:tx:<attestation id>`.
    pub id: String,
    /// [`TYPE_VERIFIABLE_CREDENTIAL`], then [`TYPE_CREDIT_CREDENTIAL`].
    #[serde(rename = "type")]
    pub types: Vec<String>,
    /// The attesting participant.
    pub issuer: Issuer,
    /// The start of the attestation's first day of validity (UTC).
    pub valid_from: String,
    /// The end of its last day of validity (UTC), if it expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    /// What is attested, about which SCO code, and where the ledger holds it.
    pub credential_subject: CreditSubject,
    /// The Data Integrity proof carrying the proof bundle.
    pub proof: DataIntegrityProof,
}

/// The issuer: a URN, or an object with the URN and the issuer's name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Issuer {
    /// `urn:caravan:<chain id>:participant:<id>`.
    Id(String),
    /// The URN with the name the genesis or the issuer's registration gives.
    Named(NamedIssuer),
}

impl Issuer {
    /// The issuer's URN.
    pub fn id(&self) -> &str {
        match self {
            Issuer::Id(id) => id,
            Issuer::Named(named) => &named.id,
        }
    }
}

/// An issuer with its name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedIssuer {
    /// `urn:caravan:<chain id>:participant:<id>`.
    pub id: String,
    /// The issuer's name.
    pub name: String,
}

/// The claims: the subject's SCO code and the credit record, in the ledger's JSON form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreditSubject {
    /// `urn:caravan:<chain id>:sco:<SCO code>`.
    pub id: String,
    /// The SCO code the record is about.
    pub sco_code: String,
    /// The record: `kind` and its fields (e.g. `grade` with its `regulation`).
    #[serde(flatten)]
    pub record: CreditRecord,
    /// For a customs grade: whether it counts as AEO.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aeo: Option<bool>,
    /// Hash of the evidence, which stays with the issuer.
    pub evidence_hash: Digest,
    /// Where the ledger holds the attestation.
    pub attestation: LedgerPosition,
}

/// A transaction's place in the ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LedgerPosition {
    /// The federation.
    pub chain_id: ChainId,
    /// The attesting transaction.
    pub transaction: TxId,
    /// The height of its block.
    pub height: Height,
    /// Its block.
    pub block_id: BlockId,
    /// Its position in the Merkle log.
    pub log_index: u64,
}

/// A Data Integrity proof of the `caravan-ledger-2026` cryptosuite.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataIntegrityProof {
    /// [`PROOF_TYPE`].
    #[serde(rename = "type")]
    pub proof_type: String,
    /// [`CRYPTOSUITE`].
    pub cryptosuite: String,
    /// [`PROOF_PURPOSE`].
    pub proof_purpose: String,
    /// The time of the block that committed the attestation (UTC).
    pub created: String,
    /// `u` followed by the base64url (no padding) canonical CBOR proof bundle.
    pub proof_value: String,
}

/// Why a credential was not built or does not verify. Each message names the failed link: a
/// link of the proof bundle, `proof value` for its multibase encoding, or `credential` for the
/// credential's form and claims.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The bundle proves a state value only, not an attestation's transaction.
    #[error(
        "link 'credential' failed: the bundle carries no transaction; a credential carries the bundle of a credit attestation"
    )]
    NoTransaction,
    /// Not JSON of a credential.
    #[error("link 'credential' failed: not a credential: {0}")]
    Malformed(String),
    /// Larger than [`MAX_CREDENTIAL_BYTES`].
    #[error("link 'credential' failed: the credential is {found} bytes, at most {limit} are read")]
    TooLarge {
        /// The limit.
        limit: usize,
        /// The size found.
        found: usize,
    },
    /// A member that a credential of this kind does not carry.
    #[error("link 'credential' failed: {path} is not a member of a Caravan credit credential")]
    UnexpectedMember {
        /// Where, e.g. `credentialSubject.note`.
        path: String,
    },
    /// The `@context` is not the expected one.
    #[error(
        "link 'credential' failed: @context must be [\"{CONTEXT_V2}\", \"{CONTEXT_UNDEFINED_TERMS}\"], found {found}"
    )]
    Context {
        /// The context found, as JSON.
        found: String,
    },
    /// The `type` is not the expected one.
    #[error(
        "link 'credential' failed: type must be [\"{TYPE_VERIFIABLE_CREDENTIAL}\", \"{TYPE_CREDIT_CREDENTIAL}\"], found {found}"
    )]
    Type {
        /// The types found, as JSON.
        found: String,
    },
    /// The proof is not a Data Integrity proof.
    #[error(
        "link 'credential' failed: proof type {found:?} is not supported, expected {PROOF_TYPE:?}"
    )]
    ProofType {
        /// The proof type found.
        found: String,
    },
    /// The cryptosuite is not ours.
    #[error("link 'credential' failed: unknown cryptosuite {found:?}, expected {CRYPTOSUITE:?}")]
    Cryptosuite {
        /// The cryptosuite found.
        found: String,
    },
    /// The proof purpose is not an assertion.
    #[error(
        "link 'credential' failed: proofPurpose {found:?} is not supported, expected {PROOF_PURPOSE:?}"
    )]
    ProofPurpose {
        /// The purpose found.
        found: String,
    },
    /// The proof value does not start with the multibase base64url prefix.
    #[error(
        "link 'proof value' failed: proofValue must be multibase base64url without padding (prefix '{MULTIBASE_BASE64URL}'), found prefix {found:?}"
    )]
    Multibase {
        /// The first character found, if any.
        found: Option<char>,
    },
    /// The proof value is not base64url without padding.
    #[error("link 'proof value' failed: proofValue is not base64url without padding: {0}")]
    Base64(String),
    /// A link of the proof bundle failed.
    #[error(transparent)]
    Bundle(#[from] VerifyError),
    /// The bundle proves a transaction that is not a credit attestation.
    #[error(
        "link 'credential' failed: transaction {tx} is {kind:?}, not a credit attestation (attest_credit)"
    )]
    NotCreditAttestation {
        /// The transaction.
        tx: TxId,
        /// Its body kind.
        kind: String,
    },
    /// The ledger rejected the attestation.
    #[error("link 'credential' failed: the ledger rejected attestation {tx}: {outcome}")]
    Rejected {
        /// The transaction.
        tx: TxId,
        /// The outcome, as JSON.
        outcome: String,
    },
    /// A time outside years 1 to 9999.
    #[error("link 'credential' failed: block time {time_ms} ms is outside years 1 to 9999")]
    TimeOutOfRange {
        /// The block time, ms since the Unix epoch.
        time_ms: u64,
    },
    /// A claim differs from what the verified bundle says.
    #[error("link 'credential' failed: {path} says {found}, the ledger says {expected}")]
    Claim {
        /// The claim, e.g. `credentialSubject.grade.grade`.
        path: String,
        /// Its value in the credential (JSON), or `nothing`.
        found: String,
        /// Its value according to the bundle (JSON), or `nothing`.
        expected: String,
    },
}

impl CredentialError {
    /// The name of the failed link: a bundle link, `proof value` or `credential`.
    pub fn link(&self) -> &'static str {
        match self {
            CredentialError::Bundle(e) => e.link(),
            CredentialError::Multibase { .. } | CredentialError::Base64(_) => LINK_PROOF_VALUE,
            _ => LINK_CREDENTIAL,
        }
    }
}

/// Whether a verifier knows that the attestation is still unrevoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationStatus {
    /// The credential proves what was attested at its height; it does not show whether a later
    /// `revoke_credit` withdrew it. A state proof at a recent certified height is needed for that.
    NotShown,
}

/// What a verified credential proves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProvenCredential {
    /// The credential's id.
    pub credential_id: String,
    /// The attesting participant.
    pub issuer: ParticipantId,
    /// Its name, from the genesis (a founding agency) or its registration.
    pub issuer_name: Option<String>,
    /// The subject.
    pub sco_code: ScoCode,
    /// What was attested.
    pub record: CreditRecord,
    /// First day of validity.
    pub valid_from: Date,
    /// Last day of validity, if it expires.
    pub valid_until: Option<Date>,
    /// Hash of the evidence.
    pub evidence_hash: Digest,
    /// Whether a revocation is excluded.
    pub revocation: RevocationStatus,
    /// What the proof bundle proves.
    pub bundle: TxFacts,
}

/// The claims of a credit attestation, taken from its transaction.
struct Attested<'a> {
    tx: TxId,
    signer: &'a ParticipantId,
    sco_code: &'a ScoCode,
    record: &'a CreditRecord,
    valid_from: Date,
    valid_until: Option<Date>,
    evidence_hash: Digest,
}

/// The credit attestation a bundle proves, refused when the transaction is something else or
/// was rejected.
fn attested(bundle: &ProofBundle) -> Result<Attested<'_>, CredentialError> {
    let item = bundle.item.as_ref().ok_or(CredentialError::NoTransaction)?;
    let tx = item.transaction.id();
    let Body::AttestCredit {
        sco_code,
        record,
        valid_from,
        valid_until,
        evidence_hash,
    } = &item.transaction.tx.body
    else {
        return Err(CredentialError::NotCreditAttestation {
            tx,
            kind: body_kind(&item.transaction.tx.body),
        });
    };
    if item.receipt.outcome != Outcome::Accepted {
        return Err(CredentialError::Rejected {
            tx,
            outcome: serde_json::to_string(&item.receipt.outcome).unwrap_or_default(),
        });
    }
    Ok(Attested {
        tx,
        signer: &item.transaction.tx.signer,
        sco_code,
        record,
        valid_from: *valid_from,
        valid_until: *valid_until,
        evidence_hash: *evidence_hash,
    })
}

/// The body's kind as its JSON names it (`anchor_record`, ...).
fn body_kind(body: &Body) -> String {
    serde_json::to_value(body)
        .ok()
        .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| "an unknown body".into())
}

/// The signer's name: from its registration in the bundle, or its founding member card.
fn signer_name(genesis: &Genesis, bundle: &ProofBundle, signer: &ParticipantId) -> Option<String> {
    if let Some((registration, _)) = bundle.registration_tx() {
        return match &registration.tx.body {
            Body::RegisterParticipant { id, name, .. }
            | Body::RegisterEnterprise { id, name, .. }
                if id == signer =>
            {
                Some(name.clone())
            }
            _ => None,
        };
    }
    genesis
        .content
        .agencies
        .iter()
        .find(|card| card.agency.as_str() == signer.as_str())
        .map(|card| card.name.clone())
}

/// `urn:caravan:<chain id>:<kind>:<id>`.
fn urn(chain_id: &ChainId, kind: &str, id: &str) -> String {
    format!("urn:caravan:{chain_id}:{kind}:{id}")
}

/// The start of `day`, UTC, as an RFC 3339 date-time.
fn day_start(day: Date) -> String {
    format!("{day}T00:00:00Z")
}

/// The last second of `day`, UTC, as an RFC 3339 date-time.
fn day_end(day: Date) -> String {
    format!("{day}T23:59:59Z")
}

/// Milliseconds since the Unix epoch as an RFC 3339 date-time with milliseconds, UTC.
fn timestamp(time_ms: u64) -> Result<String, CredentialError> {
    const DAY_MS: u64 = 86_400_000;
    let day = i64::try_from(time_ms / DAY_MS)
        .ok()
        .and_then(Date::from_days_since_epoch)
        .ok_or(CredentialError::TimeOutOfRange { time_ms })?;
    let in_day = time_ms % DAY_MS;
    let (hours, minutes) = (in_day / 3_600_000, in_day / 60_000 % 60);
    let (seconds, millis) = (in_day / 1_000 % 60, in_day % 1_000);
    Ok(format!(
        "{day}T{hours:02}:{minutes:02}:{seconds:02}.{millis:03}Z"
    ))
}

/// `u` + base64url (no padding) of the bundle's canonical CBOR.
fn encode_proof_value(bundle: &ProofBundle) -> String {
    format!(
        "{MULTIBASE_BASE64URL}{}",
        URL_SAFE_NO_PAD.encode(bundle.to_bytes())
    )
}

/// The proof bundle a proof value carries, decoded with the bundle's size cap.
fn decode_proof_value(proof_value: &str) -> Result<ProofBundle, CredentialError> {
    Ok(ProofBundle::from_bytes(&proof_value_bytes(proof_value)?)?)
}

/// The bytes a proof value carries: multibase base64url without padding, at most the base64
/// of the largest bundle.
fn proof_value_bytes(proof_value: &str) -> Result<Vec<u8>, CredentialError> {
    let Some(encoded) = proof_value.strip_prefix(MULTIBASE_BASE64URL) else {
        return Err(CredentialError::Multibase {
            found: proof_value.chars().next(),
        });
    };
    let limit = codec::MAX_BUNDLE_BYTES.div_ceil(3) * 4;
    if encoded.len() > limit {
        return Err(CredentialError::Base64(format!(
            "{} characters, at most {limit}",
            encoded.len()
        )));
    }
    URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|e| CredentialError::Base64(e.to_string()))
}

impl Credential {
    /// The credential of the credit attestation `bundle` proves, in the federation of
    /// `genesis`, with the issuer named. Refuses a bundle of any other transaction, or of a
    /// rejected one. It does not verify the bundle: [`verify_credential`] does.
    pub fn from_bundle(genesis: &Genesis, bundle: &ProofBundle) -> Result<Self, CredentialError> {
        let chain_id = genesis.chain_id();
        let item = bundle.item.as_ref().ok_or(CredentialError::NoTransaction)?;
        let found = item.transaction.tx.chain_id;
        if found != chain_id {
            return Err(VerifyError::WrongChain {
                what: "transaction",
                expected: chain_id,
                found,
            }
            .into());
        }
        let attested = attested(bundle)?;
        let issuer_id = urn(&chain_id, "participant", attested.signer.as_str());
        let issuer = match signer_name(genesis, bundle, attested.signer) {
            Some(name) => Issuer::Named(NamedIssuer {
                id: issuer_id,
                name,
            }),
            None => Issuer::Id(issuer_id),
        };
        let aeo = match attested.record {
            CreditRecord::CustomsGrade { grade } => Some(grade.is_aeo()),
            _ => None,
        };
        let header = &item.header;
        Ok(Credential {
            context: vec![CONTEXT_V2.into(), CONTEXT_UNDEFINED_TERMS.into()],
            id: urn(&chain_id, "tx", &attested.tx.to_string()),
            types: vec![
                TYPE_VERIFIABLE_CREDENTIAL.into(),
                TYPE_CREDIT_CREDENTIAL.into(),
            ],
            issuer,
            valid_from: day_start(attested.valid_from),
            valid_until: attested.valid_until.map(day_end),
            credential_subject: CreditSubject {
                id: urn(&chain_id, "sco", attested.sco_code.as_str()),
                sco_code: attested.sco_code.as_str().to_string(),
                record: attested.record.clone(),
                aeo,
                evidence_hash: attested.evidence_hash,
                attestation: LedgerPosition {
                    chain_id,
                    transaction: attested.tx,
                    height: header.height,
                    block_id: header.id(),
                    log_index: item.receipt.log_index,
                },
            },
            proof: DataIntegrityProof {
                proof_type: PROOF_TYPE.into(),
                cryptosuite: CRYPTOSUITE.into(),
                proof_purpose: PROOF_PURPOSE.into(),
                created: timestamp(header.time_ms)?,
                proof_value: encode_proof_value(bundle),
            },
        })
    }

    /// Reads a credential from JSON, at most [`MAX_CREDENTIAL_BYTES`]. A member this type does
    /// not carry, or a value written in another form than the one it writes, is refused with
    /// its path: whatever the file shows is then checked by [`verify_credential`].
    pub fn parse(bytes: &[u8]) -> Result<Self, CredentialError> {
        if bytes.len() > MAX_CREDENTIAL_BYTES {
            return Err(CredentialError::TooLarge {
                limit: MAX_CREDENTIAL_BYTES,
                found: bytes.len(),
            });
        }
        let given: Value =
            serde_json::from_slice(bytes).map_err(|e| CredentialError::Malformed(e.to_string()))?;
        let credential: Credential = serde_json::from_value(given.clone())
            .map_err(|e| CredentialError::Malformed(e.to_string()))?;
        let written = credential.to_value();
        if let Some(difference) = first_difference(&given, &written, "") {
            return Err(match difference.expected {
                None => CredentialError::UnexpectedMember {
                    path: difference.path,
                },
                Some(expected) => CredentialError::Malformed(format!(
                    "{} is written {}, expected {expected}",
                    difference.path,
                    difference.found.unwrap_or_else(|| "nothing".into())
                )),
            });
        }
        Ok(credential)
    }

    /// The proof bundle its proof value carries, decoded (not verified).
    pub fn bundle(&self) -> Result<ProofBundle, CredentialError> {
        decode_proof_value(&self.proof.proof_value)
    }

    /// The links [`verify_credential_traced`] checks for this credential, in order: see
    /// [`credential_links`].
    pub fn links(&self) -> Vec<Link> {
        credential_links(self.bundle().ok().as_ref())
    }

    /// Whether `bytes` look like a credential (a JSON object with an `@context`) rather than a
    /// proof bundle.
    pub fn is_credential(bytes: &[u8]) -> bool {
        let start = bytes.iter().position(|b| !b.is_ascii_whitespace());
        start.is_some_and(|i| bytes[i] == b'{')
            && bytes.len() <= MAX_CREDENTIAL_BYTES
            && serde_json::from_slice::<Value>(bytes).is_ok_and(|v| v.get("@context").is_some())
    }

    /// The JSON form.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The JSON form, indented, with a final newline.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }
}

/// The first place where two JSON values differ.
struct Difference {
    path: String,
    /// The value in the first, as JSON, if present.
    found: Option<String>,
    /// The value in the second, as JSON, if present.
    expected: Option<String>,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The first difference between `given` and `expected`, depth first, members in key order.
fn first_difference(given: &Value, expected: &Value, path: &str) -> Option<Difference> {
    match (given, expected) {
        (Value::Object(g), Value::Object(e)) => {
            let mut keys: Vec<&String> = g.keys().chain(e.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|key| {
                let at = join(path, key);
                match (g.get(key), e.get(key)) {
                    (Some(gv), Some(ev)) => first_difference(gv, ev, &at),
                    (gv, ev) => Some(Difference {
                        path: at,
                        found: gv.map(Value::to_string),
                        expected: ev.map(Value::to_string),
                    }),
                }
            })
        }
        (Value::Array(g), Value::Array(e)) if g.len() == e.len() => g
            .iter()
            .zip(e)
            .enumerate()
            .find_map(|(i, (gv, ev))| first_difference(gv, ev, &format!("{path}[{i}]"))),
        _ if given == expected => None,
        _ => Some(Difference {
            path: path.to_string(),
            found: Some(given.to_string()),
            expected: Some(expected.to_string()),
        }),
    }
}

/// Checks the credential's form: contexts, types, proof type, cryptosuite and purpose.
fn check_form(credential: &Credential) -> Result<(), CredentialError> {
    if credential.context != [CONTEXT_V2, CONTEXT_UNDEFINED_TERMS] {
        return Err(CredentialError::Context {
            found: serde_json::to_string(&credential.context).unwrap_or_default(),
        });
    }
    if credential.types != [TYPE_VERIFIABLE_CREDENTIAL, TYPE_CREDIT_CREDENTIAL] {
        return Err(CredentialError::Type {
            found: serde_json::to_string(&credential.types).unwrap_or_default(),
        });
    }
    let proof = &credential.proof;
    if proof.proof_type != PROOF_TYPE {
        return Err(CredentialError::ProofType {
            found: proof.proof_type.clone(),
        });
    }
    if proof.cryptosuite != CRYPTOSUITE {
        return Err(CredentialError::Cryptosuite {
            found: proof.cryptosuite.clone(),
        });
    }
    if proof.proof_purpose != PROOF_PURPOSE {
        return Err(CredentialError::ProofPurpose {
            found: proof.proof_purpose.clone(),
        });
    }
    Ok(())
}

/// The links [`verify_credential_traced`] checks for a credential whose proof value carries
/// `bundle` (none when it does not decode), in order: the genesis, the credential's form
/// (`credential`), its `proof value`, the bundle's links from its encoding on (only the
/// encoding when the bundle is unknown), and the claims (`credential` of [`Part::Claims`]).
pub fn credential_links(bundle: Option<&ProofBundle>) -> Vec<Link> {
    let mut links = vec![
        Link::new(Part::Bundle, link::GENESIS),
        Link::new(Part::Credential, LINK_CREDENTIAL),
        Link::new(Part::Credential, LINK_PROOF_VALUE),
    ];
    match bundle {
        Some(bundle) => links.extend(
            bundle
                .links()
                .into_iter()
                .filter(|l| *l != Link::new(Part::Bundle, link::GENESIS)),
        ),
        None => links.push(Link::new(Part::Bundle, link::ENCODING)),
    }
    links.push(Link::new(Part::Claims, LINK_CREDENTIAL));
    links
}

/// Verifies a credential against `genesis`, offline: the genesis, the credential's form, the
/// proof bundle its proof value carries (every link, as
/// [`verify_bundle`](crate::bundle::verify_bundle) checks it), that the bundle proves an
/// accepted credit attestation, and that every claim equals what the bundle says. The issuer
/// may be written as its URN alone or with its name.
pub fn verify_credential(
    genesis: &Genesis,
    credential: &Credential,
) -> Result<ProvenCredential, CredentialError> {
    let verifier = BundleVerifier::new(genesis)?;
    verify_credential_traced(&verifier, credential, &mut Vec::new())
}

/// Verifies a credential as [`verify_credential`] does, with the genesis `verifier` checked,
/// appending to `passed` each link as it passes, in order. When the credential verifies,
/// `passed` ends with all of [`Credential::links`]; when it does not, with a prefix of them,
/// and the failed link is the next one.
pub fn verify_credential_traced(
    verifier: &BundleVerifier<'_>,
    credential: &Credential,
    passed: &mut Vec<Link>,
) -> Result<ProvenCredential, CredentialError> {
    let genesis = verifier.genesis();
    passed.push(Link::new(Part::Bundle, link::GENESIS));
    check_form(credential)?;
    passed.push(Link::new(Part::Credential, LINK_CREDENTIAL));
    let bytes = proof_value_bytes(&credential.proof.proof_value)?;
    passed.push(Link::new(Part::Credential, LINK_PROOF_VALUE));
    let bundle = ProofBundle::from_bytes(&bytes)?;
    let proven = verifier.verify_after_genesis(&bundle, passed)?;
    let attested = attested(&bundle)?;
    let mut expected = Credential::from_bundle(genesis, &bundle)?;
    if let Issuer::Id(_) = credential.issuer {
        expected.issuer = Issuer::Id(expected.issuer.id().to_string());
    }
    if let Some(difference) = first_difference(&credential.to_value(), &expected.to_value(), "") {
        let nothing = || "nothing".to_string();
        return Err(CredentialError::Claim {
            path: difference.path,
            found: difference.found.unwrap_or_else(nothing),
            expected: difference.expected.unwrap_or_else(nothing),
        });
    }
    // Revocation: a bundle of the attestation alone cannot show that no `revoke_credit` followed
    // it. When bundles carry a state proof (the attestation's record under a certified state
    // root at a recent height), it is checked here, and `RevocationStatus` gains the verdict.
    let revocation = RevocationStatus::NotShown;
    let issuer_name = signer_name(genesis, &bundle, attested.signer);
    let transaction = proven.transaction.ok_or(CredentialError::NoTransaction)?;
    passed.push(Link::new(Part::Claims, LINK_CREDENTIAL));
    Ok(ProvenCredential {
        credential_id: credential.id.clone(),
        issuer: attested.signer.clone(),
        issuer_name,
        sco_code: attested.sco_code.clone(),
        record: attested.record.clone(),
        valid_from: attested.valid_from,
        valid_until: attested.valid_until,
        evidence_hash: attested.evidence_hash,
        revocation,
        bundle: transaction,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::tests::{prove_in_blocks, registration_under, sample_bundle};
    use crate::bundle::{BUNDLE_VERSION, OLDEST_BUNDLE_VERSION};
    use crate::genesis::tests::test_genesis;
    use crate::hash::{Domain, hash};
    use crate::ids::Nonce;
    use crate::keys::Keypair;
    use crate::trade::ident::Amount;
    use crate::trade::model::{CustomsGrade, Grade282};
    use crate::trade::sample;
    use crate::tx::{RejectReason, Rejection, Role, UnsignedTx};

    /// A founding agency attests a customs grade (Order 282, AEO) valid for 2026-04-01 to
    /// 2027-03-31, committed in block 1 of a hand-built ledger.
    fn grade_bundle() -> (Genesis, ProofBundle) {
        let (genesis, keys) = test_genesis(4);
        let tx = UnsignedTx {
            chain_id: genesis.chain_id(),
            signer: ParticipantId::from(&genesis.content.agencies[0].agency),
            nonce: Nonce(1),
            body: Body::AttestCredit {
                sco_code: sample::sco("CN", 123),
                record: CreditRecord::CustomsGrade {
                    grade: CustomsGrade::Order282(Grade282::AdvancedCertified),
                },
                valid_from: sample::date(2026, 4, 1),
                valid_until: Some(sample::date(2027, 3, 31)),
                evidence_hash: hash(Domain::Content, b"GACC decision 2026-0412"),
            },
        }
        .sign(&keys[0].1);
        let validators: Vec<Keypair> = keys.into_iter().map(|(v, _)| v).collect();
        let item = prove_in_blocks(&genesis, &validators, vec![tx])
            .pop()
            .expect("one proven transaction");
        let bundle = ProofBundle {
            version: BUNDLE_VERSION,
            item: Some(item),
            signer_registration: None,
            state: None,
            validator_changes: Vec::new(),
            registration: None,
        };
        (genesis, bundle)
    }

    /// An edit of a credential's JSON.
    type Edit = Box<dyn Fn(&mut Value)>;

    /// The credential's JSON after `edit`, read back and verified.
    fn verify_edited(
        genesis: &Genesis,
        credential: &Credential,
        edit: impl FnOnce(&mut Value),
    ) -> Result<ProvenCredential, CredentialError> {
        let mut json = credential.to_value();
        edit(&mut json);
        let bytes = serde_json::to_vec(&json).expect("json");
        Credential::parse(&bytes).and_then(|c| verify_credential(genesis, &c))
    }

    #[test]
    fn an_exported_credential_verifies_after_a_round_trip_through_its_file() {
        let (genesis, bundle) = grade_bundle();
        let credential = Credential::from_bundle(&genesis, &bundle).expect("a credit attestation");
        let text = credential.to_json_pretty();
        let read = Credential::parse(text.as_bytes()).expect("reads back");
        assert_eq!(read, credential);
        assert!(Credential::is_credential(text.as_bytes()));
        assert!(!Credential::is_credential(&bundle.to_bytes()));
        let json = serde_json::to_vec(&bundle).expect("bundle json");
        assert!(!Credential::is_credential(&json));

        let proven = verify_credential(&genesis, &read).expect("verifies");
        assert_eq!(proven.sco_code, sample::sco("CN", 123));
        assert_eq!(proven.issuer.as_str(), "AG-0");
        assert_eq!(proven.issuer_name.as_deref(), Some("Agency 0"));
        assert_eq!(proven.valid_until, Some(sample::date(2027, 3, 31)));
        assert_eq!(proven.revocation, RevocationStatus::NotShown);
        assert_eq!(
            proven.bundle.tx_id,
            bundle.item.as_ref().expect("item").transaction.id()
        );

        let chain = genesis.chain_id();
        let value = credential.to_value();
        assert_eq!(value["@context"][0], CONTEXT_V2);
        assert_eq!(value["@context"][1], CONTEXT_UNDEFINED_TERMS);
        assert_eq!(value["type"][1], TYPE_CREDIT_CREDENTIAL);
        assert_eq!(
            value["id"],
            format!(
                "urn:caravan:{chain}:tx:{}",
                bundle.item.as_ref().expect("item").transaction.id()
            )
        );
        assert_eq!(
            value["issuer"]["id"],
            format!("urn:caravan:{chain}:participant:AG-0")
        );
        assert_eq!(value["validFrom"], "2026-04-01T00:00:00Z");
        assert_eq!(value["validUntil"], "2027-03-31T23:59:59Z");
        let subject = &value["credentialSubject"];
        assert_eq!(
            subject["id"],
            format!("urn:caravan:{chain}:sco:{}", sample::sco("CN", 123))
        );
        assert_eq!(subject["kind"], "customs_grade");
        assert_eq!(subject["grade"]["regulation"], "order282");
        assert_eq!(subject["grade"]["grade"], "advanced_certified");
        assert_eq!(subject["aeo"], true);
        assert_eq!(subject["attestation"]["height"], 1);
        assert_eq!(subject["attestation"]["logIndex"], 0);
        let proof = &value["proof"];
        assert_eq!(proof["type"], "DataIntegrityProof");
        assert_eq!(proof["cryptosuite"], "caravan-ledger-2026");
        assert_eq!(proof["proofPurpose"], "assertionMethod");
        assert_eq!(proof["created"], "1970-01-01T00:00:01.000Z");
        let proof_value = proof["proofValue"].as_str().expect("a string");
        assert!(proof_value.starts_with('u'));
        assert!(
            proof_value[1..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(
            decode_proof_value(proof_value).expect("decodes"),
            bundle,
            "the proof value carries the bundle"
        );
        assert_eq!(credential.bundle().expect("decodes"), bundle);
    }

    #[test]
    fn the_trace_of_a_credential_is_its_plan_up_to_the_failed_link() {
        let (genesis, bundle) = grade_bundle();
        let credential = Credential::from_bundle(&genesis, &bundle).expect("credential");
        let verifier = BundleVerifier::new(&genesis).expect("genesis");
        let plan = credential.links();
        let mut passed = Vec::new();
        verify_credential_traced(&verifier, &credential, &mut passed).expect("verifies");
        assert_eq!(passed, plan);
        assert_eq!(plan.first(), Some(&Link::new(Part::Bundle, link::GENESIS)));
        assert_eq!(plan[1], Link::new(Part::Credential, LINK_CREDENTIAL));
        assert_eq!(plan[2], Link::new(Part::Credential, LINK_PROOF_VALUE));
        assert_eq!(plan[3], Link::new(Part::Bundle, link::ENCODING));
        assert_eq!(plan.last(), Some(&Link::new(Part::Claims, LINK_CREDENTIAL)));
        assert_eq!(
            plan.iter().filter(|l| l.name == link::GENESIS).count(),
            1,
            "the genesis is checked once"
        );

        let mut signature = bundle.clone();
        signature
            .item
            .as_mut()
            .expect("item")
            .transaction
            .signature
            .0[3] ^= 1;
        let mut bad_cbor = bundle.to_bytes();
        bad_cbor[0] ^= 0x40;
        let cases: Vec<(Part, &str, Credential)> = vec![
            (Part::Credential, LINK_CREDENTIAL, {
                let mut c = credential.clone();
                c.proof.cryptosuite = "eddsa-jcs-2022".into();
                c
            }),
            (Part::Credential, LINK_PROOF_VALUE, {
                let mut c = credential.clone();
                c.proof.proof_value.replace_range(0..1, "z");
                c
            }),
            (Part::Bundle, link::ENCODING, {
                let mut c = credential.clone();
                c.proof.proof_value = format!("u{}", URL_SAFE_NO_PAD.encode(&bad_cbor));
                c
            }),
            (Part::Transaction, link::SIGNATURE, {
                let mut c = credential.clone();
                c.proof.proof_value = encode_proof_value(&signature);
                c
            }),
            (Part::Claims, LINK_CREDENTIAL, {
                let mut c = credential.clone();
                c.valid_from = "2025-04-01T00:00:00Z".into();
                c
            }),
        ];
        for (part, name, c) in cases {
            let plan = c.links();
            let mut passed = Vec::new();
            let e = verify_credential_traced(&verifier, &c, &mut passed).expect_err(name);
            assert!(plan.starts_with(&passed), "{name}: {passed:?} / {plan:?}");
            assert_eq!(plan.get(passed.len()), Some(&Link::new(part, name)), "{e}");
            assert_eq!(e.link(), name, "{e}");
        }
    }

    #[test]
    fn the_issuer_may_be_written_as_its_urn_alone() {
        let (genesis, bundle) = grade_bundle();
        let credential = Credential::from_bundle(&genesis, &bundle).expect("credential");
        let proven = verify_edited(&genesis, &credential, |json| {
            json["issuer"] = json["issuer"]["id"].clone();
        })
        .expect("verifies");
        assert_eq!(proven.issuer_name.as_deref(), Some("Agency 0"));
    }

    #[test]
    fn a_registered_bank_attesting_a_payment_default_is_named_by_its_registration() {
        let (genesis, keys) = test_genesis(4);
        let chain_id = genesis.chain_id();
        let bank = Keypair::from_seed(&[91; 32]);
        let bank_id = ParticipantId::new("KZ-BANK-ALMATY").expect("id");
        let registration = UnsignedTx {
            chain_id,
            signer: ParticipantId::from(&genesis.content.agencies[1].agency),
            nonce: Nonce(1),
            body: Body::RegisterParticipant {
                id: bank_id.clone(),
                name: "Almaty Trade Bank".into(),
                roles: vec![Role::Bank],
                public_key: bank.public(),
            },
        }
        .sign(&keys[1].1);
        let default = UnsignedTx {
            chain_id,
            signer: bank_id,
            nonce: Nonce(1),
            body: Body::AttestCredit {
                sco_code: sample::sco("KZ", 7),
                record: CreditRecord::PaymentDefault {
                    amount: Amount::parse("120000.00", sample::currency("USD")).expect("amount"),
                },
                valid_from: sample::date(2026, 5, 2),
                valid_until: None,
                evidence_hash: hash(Domain::Content, b"loan 2026-17 statement"),
            },
        }
        .sign(&bank);
        let validators: Vec<Keypair> = keys.into_iter().map(|(v, _)| v).collect();
        let proven = prove_in_blocks(&genesis, &validators, vec![registration, default]);
        let item = proven[1].clone();
        let v3 = ProofBundle {
            version: BUNDLE_VERSION,
            registration: Some(registration_under(&proven, 0, &item)),
            item: Some(item),
            signer_registration: None,
            state: None,
            validator_changes: Vec::new(),
        };
        // A credential issued with a version 2 bundle stays verifiable.
        let v2 = ProofBundle {
            version: OLDEST_BUNDLE_VERSION,
            signer_registration: Some(proven[0].clone()),
            registration: None,
            ..v3.clone()
        };
        for bundle in [v3, v2] {
            let credential = Credential::from_bundle(&genesis, &bundle).expect("credential");
            let value = credential.to_value();
            assert_eq!(value["issuer"]["name"], "Almaty Trade Bank");
            assert_eq!(value["credentialSubject"]["kind"], "payment_default");
            assert_eq!(value["credentialSubject"]["amount"]["currency"], "USD");
            assert!(value.get("validUntil").is_none());
            assert!(value["credentialSubject"].get("aeo").is_none());
            let proven = verify_credential(&genesis, &credential).expect("verifies");
            assert_eq!(proven.bundle.height, Height(2));
            assert!(proven.bundle.signer_key_source.contains("AG-1"));
        }
    }

    #[test]
    fn each_edited_claim_is_refused_naming_it() {
        let (genesis, bundle) = grade_bundle();
        let credential = Credential::from_bundle(&genesis, &bundle).expect("credential");
        let other_hash = Value::from(Digest([7; 32]).to_hex());
        let cases: Vec<(&str, Edit)> = vec![
            ("id", Box::new(|j| j["id"] = "urn:caravan:x:tx:y".into())),
            (
                "issuer.id",
                Box::new(|j| {
                    let id = j["issuer"]["id"]
                        .as_str()
                        .expect("id")
                        .replace("AG-0", "AG-1");
                    j["issuer"]["id"] = id.into();
                }),
            ),
            (
                "issuer.name",
                Box::new(|j| j["issuer"]["name"] = "Agency 1".into()),
            ),
            (
                "validFrom",
                Box::new(|j| j["validFrom"] = "2025-04-01T00:00:00Z".into()),
            ),
            (
                "validUntil",
                Box::new(|j| j["validUntil"] = "2029-03-31T23:59:59Z".into()),
            ),
            (
                "validUntil",
                Box::new(|j| {
                    j.as_object_mut().expect("object").remove("validUntil");
                }),
            ),
            (
                "credentialSubject.id",
                Box::new(|j| {
                    let id = j["credentialSubject"]["id"].as_str().expect("id").replace(
                        sample::sco("CN", 123).as_str(),
                        sample::sco("CN", 124).as_str(),
                    );
                    j["credentialSubject"]["id"] = id.into();
                }),
            ),
            (
                "credentialSubject.scoCode",
                Box::new(|j| {
                    j["credentialSubject"]["scoCode"] = sample::sco("CN", 124).as_str().into()
                }),
            ),
            (
                "credentialSubject.grade.grade",
                Box::new(|j| j["credentialSubject"]["grade"]["grade"] = "certified".into()),
            ),
            (
                "credentialSubject.grade.regulation",
                Box::new(|j| j["credentialSubject"]["grade"]["regulation"] = "order251".into()),
            ),
            (
                "credentialSubject.aeo",
                Box::new(|j| j["credentialSubject"]["aeo"] = false.into()),
            ),
            (
                "credentialSubject.evidenceHash",
                Box::new(move |j| j["credentialSubject"]["evidenceHash"] = other_hash.clone()),
            ),
            (
                "credentialSubject.attestation.chainId",
                Box::new(|j| {
                    j["credentialSubject"]["attestation"]["chainId"] =
                        Digest([1; 32]).to_hex().into()
                }),
            ),
            (
                "credentialSubject.attestation.transaction",
                Box::new(|j| {
                    j["credentialSubject"]["attestation"]["transaction"] =
                        Digest([2; 32]).to_hex().into()
                }),
            ),
            (
                "credentialSubject.attestation.height",
                Box::new(|j| j["credentialSubject"]["attestation"]["height"] = 9.into()),
            ),
            (
                "credentialSubject.attestation.blockId",
                Box::new(|j| {
                    j["credentialSubject"]["attestation"]["blockId"] =
                        Digest([3; 32]).to_hex().into()
                }),
            ),
            (
                "credentialSubject.attestation.logIndex",
                Box::new(|j| j["credentialSubject"]["attestation"]["logIndex"] = 4.into()),
            ),
            (
                "proof.created",
                Box::new(|j| j["proof"]["created"] = "2026-11-20T10:00:05.000Z".into()),
            ),
        ];
        for (field, edit) in cases {
            match verify_edited(&genesis, &credential, edit) {
                Err(e @ CredentialError::Claim { .. }) => {
                    let CredentialError::Claim { path, .. } = &e else {
                        unreachable!()
                    };
                    assert_eq!(path, field, "{e}");
                    assert_eq!(e.link(), "credential");
                    assert!(
                        e.to_string()
                            .starts_with(&format!("link 'credential' failed: {field} says ")),
                        "{e}"
                    );
                }
                other => panic!("editing {field}: expected a failed claim, got {other:?}"),
            }
        }
    }

    #[test]
    fn the_message_of_a_failed_claim_shows_both_values() {
        let (genesis, bundle) = grade_bundle();
        let credential = Credential::from_bundle(&genesis, &bundle).expect("credential");
        let e = verify_edited(&genesis, &credential, |j| {
            j["credentialSubject"]["grade"]["grade"] = "certified".into()
        })
        .expect_err("refused");
        assert_eq!(
            e.to_string(),
            "link 'credential' failed: credentialSubject.grade.grade says \"certified\", \
             the ledger says \"advanced_certified\""
        );
    }

    #[test]
    fn a_member_the_credential_does_not_carry_is_refused_when_read() {
        let (genesis, bundle) = grade_bundle();
        let credential = Credential::from_bundle(&genesis, &bundle).expect("credential");
        for (path, edit) in [
            (
                "credentialSubject.note",
                Box::new(|j: &mut Value| {
                    j["credentialSubject"]["note"] = "AEO in every SCO country".into()
                }) as Edit,
            ),
            (
                "credentialSubject.grade.note",
                Box::new(|j: &mut Value| j["credentialSubject"]["grade"]["note"] = "x".into()),
            ),
            (
                "credentialStatus",
                Box::new(|j: &mut Value| j["credentialStatus"] = "active".into()),
            ),
        ] {
            match verify_edited(&genesis, &credential, edit) {
                Err(CredentialError::UnexpectedMember { path: found }) => assert_eq!(found, path),
                // serde refuses unknown members of the outer object itself, naming them.
                Err(CredentialError::Malformed(message)) => {
                    assert!(
                        message.contains(path.rsplit('.').next().unwrap_or(path)),
                        "{message}"
                    )
                }
                other => panic!("adding {path}: expected a refusal, got {other:?}"),
            }
        }
        // Another spelling of the same value is refused too: the file shows what is verified.
        let upper = verify_edited(&genesis, &credential, |j| {
            let hash = j["credentialSubject"]["evidenceHash"]
                .as_str()
                .expect("hex")
                .to_uppercase();
            j["credentialSubject"]["evidenceHash"] = hash.into();
        });
        assert!(
            matches!(&upper, Err(CredentialError::Malformed(m)) if m.contains("credentialSubject.evidenceHash")),
            "{upper:?}"
        );
    }

    #[test]
    fn a_wrong_form_is_refused_with_its_own_error() {
        let (genesis, bundle) = grade_bundle();
        let credential = Credential::from_bundle(&genesis, &bundle).expect("credential");
        let verdict = |edit: fn(&mut Credential)| {
            let mut c = credential.clone();
            edit(&mut c);
            verify_credential(&genesis, &c).expect_err("refused")
        };
        assert!(matches!(
            verdict(|c| c.context.reverse()),
            CredentialError::Context { .. }
        ));
        assert!(matches!(
            verdict(|c| c.context.pop().map(drop).unwrap_or_default()),
            CredentialError::Context { .. }
        ));
        assert!(matches!(
            verdict(|c| c.types[1] = "CaravanRecordCredential".into()),
            CredentialError::Type { .. }
        ));
        assert!(matches!(
            verdict(|c| c.proof.proof_type = "Ed25519Signature2020".into()),
            CredentialError::ProofType { .. }
        ));
        let e = verdict(|c| c.proof.cryptosuite = "eddsa-jcs-2022".into());
        assert!(matches!(e, CredentialError::Cryptosuite { .. }));
        assert!(
            e.to_string()
                .contains("unknown cryptosuite \"eddsa-jcs-2022\""),
            "{e}"
        );
        assert!(matches!(
            verdict(|c| c.proof.proof_purpose = "authentication".into()),
            CredentialError::ProofPurpose { .. }
        ));
        let e = verdict(|c| c.proof.proof_value.replace_range(0..1, "z"));
        assert!(matches!(e, CredentialError::Multibase { found: Some('z') }));
        assert_eq!(e.link(), "proof value");
        let e = verdict(|c| c.proof.proof_value.push('='));
        assert!(matches!(e, CredentialError::Base64(_)), "{e}");
        assert_eq!(e.link(), "proof value");
        let e = verdict(|c| c.proof.proof_value.insert(5, '+'));
        assert!(matches!(e, CredentialError::Base64(_)), "{e}");
    }

    #[test]
    fn a_tampered_proof_value_fails_at_the_bundle_link() {
        let (genesis, bundle) = grade_bundle();
        let credential = Credential::from_bundle(&genesis, &bundle).expect("credential");
        let with_bundle = |b: &ProofBundle| {
            let mut c = credential.clone();
            c.proof.proof_value = encode_proof_value(b);
            verify_credential(&genesis, &c).expect_err("refused")
        };
        let mut b = bundle.clone();
        b.item.as_mut().expect("item").transaction.signature.0[3] ^= 1;
        let e = with_bundle(&b);
        assert_eq!(e.link(), "signature");
        assert!(e.to_string().starts_with("link 'signature' failed"), "{e}");
        let mut b = bundle.clone();
        b.item
            .as_mut()
            .expect("item")
            .certificate
            .signatures
            .truncate(2);
        assert_eq!(with_bundle(&b).link(), "certificate");
        let mut b = bundle.clone();
        b.item.as_mut().expect("item").inclusion.leaf_index += 1;
        assert_eq!(with_bundle(&b).link(), "receipt");
        // An attestation edited inside the bundle, with the claims edited to match, fails at
        // the signature: the claims can only say what the agency signed.
        let mut b = bundle.clone();
        if let Body::AttestCredit { record, .. } =
            &mut b.item.as_mut().expect("item").transaction.tx.body
        {
            *record = CreditRecord::CustomsGrade {
                grade: CustomsGrade::Order282(Grade282::Certified),
            };
        }
        let mut forged = Credential::from_bundle(&genesis, &b).expect("credential");
        forged.proof.proof_value = encode_proof_value(&b);
        let e = verify_credential(&genesis, &forged).expect_err("refused");
        assert_eq!(e.link(), "signature");
        // Every single-character change of the proof value is refused, at a bundle link or at
        // its encoding.
        let text = credential.proof.proof_value.clone();
        for position in (1..text.len()).step_by(97) {
            let mut c = credential.clone();
            let replacement = if text.as_bytes()[position] == b'A' {
                "B"
            } else {
                "A"
            };
            c.proof
                .proof_value
                .replace_range(position..=position, replacement);
            let e = verify_credential(&genesis, &c).expect_err("a changed proof value verifies");
            assert_ne!(e.link(), "credential", "{e}");
        }
        // A bundle of another federation fails at the chain link.
        let (mut other, _) = test_genesis(4);
        other.content.chain_name = "another".into();
        let other_keys = test_genesis(4).1;
        for (i, (_, admin)) in other_keys.iter().enumerate() {
            let id = other.content.agencies[i].agency.clone();
            other.sign(&id, admin).expect("sign");
        }
        assert_eq!(
            verify_credential(&other, &credential)
                .map(|_| ())
                .err()
                .map(|e| e.link()),
            Some("chain")
        );
    }

    #[test]
    fn a_bundle_of_another_transaction_is_not_a_credential() {
        let (genesis, bundle, _) = sample_bundle();
        match Credential::from_bundle(&genesis, &bundle) {
            Err(e @ CredentialError::NotCreditAttestation { .. }) => {
                assert!(e.to_string().contains("\"anchor_record\""), "{e}")
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        // A credential whose proof value carries it is refused after the bundle verifies.
        let (grade_genesis, grade) = grade_bundle();
        let mut credential = Credential::from_bundle(&grade_genesis, &grade).expect("credential");
        credential.proof.proof_value = encode_proof_value(&bundle);
        assert!(matches!(
            verify_credential(&genesis, &credential),
            Err(CredentialError::NotCreditAttestation { .. })
        ));
        // A rejected attestation is not exported.
        let (genesis, mut grade) = grade_bundle();
        grade.item.as_mut().expect("item").receipt.outcome = Outcome::Rejected {
            rejection: Rejection::new(RejectReason::InvalidBody, "unknown SCO code"),
        };
        assert!(matches!(
            Credential::from_bundle(&genesis, &grade),
            Err(CredentialError::Rejected { .. })
        ));
    }

    #[test]
    fn block_times_are_written_in_rfc_3339_utc() {
        assert_eq!(timestamp(0).expect("time"), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            timestamp(1_785_000_000_123).expect("time"),
            "2026-07-25T17:20:00.123Z"
        );
        assert_eq!(
            timestamp(951_868_799_999).expect("time"),
            "2000-02-29T23:59:59.999Z"
        );
        assert!(timestamp(u64::MAX).is_err());
        assert_eq!(day_start(sample::date(2024, 2, 29)), "2024-02-29T00:00:00Z");
        assert_eq!(day_end(sample::date(2024, 12, 31)), "2024-12-31T23:59:59Z");
    }

    #[test]
    fn oversized_or_non_json_input_is_refused() {
        assert!(matches!(
            Credential::parse(&vec![b' '; MAX_CREDENTIAL_BYTES + 1]),
            Err(CredentialError::TooLarge { .. })
        ));
        assert!(matches!(
            Credential::parse(b"{\"@context\": 1}"),
            Err(CredentialError::Malformed(_))
        ));
        assert!(!Credential::is_credential(b"{\"version\": 1}"));
    }
}
