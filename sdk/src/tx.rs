//! Transactions: the signed envelope, the bodies it can carry, and the receipt each one gets when
//! it is executed. The id of a transaction is the hash of its unsigned canonical bytes; the
//! signature covers those bytes under their own domain.

use minicbor::{Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::codec;
use crate::genesis::{MemberCard, Params};
use crate::hash::{Digest, Domain, hash};
use crate::ids::{AgencyId, ChainId, Height, Nonce, ParticipantId, TxId};
use crate::keys::{Keypair, PublicKey, Signature};
use crate::trade::documents::{Date, DocumentFields};
use crate::trade::ident::{Amount, CountryCode, ScoCode, UnLocode};
use crate::trade::model::{
    CreditRecord, Leg, LegalIds, ReportDecision, TransportEventKind, validate_ucr,
};
use crate::trade::rules::RuleParams;

/// What a participant may do. Each body kind names the roles allowed to submit it.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode, Serialize, Deserialize,
)]
#[cbor(index_only)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Registers participants and issues SCO codes.
    #[n(0)]
    Registry,
    /// Attests credit records.
    #[n(1)]
    Credit,
    /// A customs administration.
    #[n(2)]
    Customs,
    /// A border agency.
    #[n(3)]
    Border,
    /// A rail operator.
    #[n(4)]
    Rail,
    /// A bank.
    #[n(5)]
    Bank,
    /// A carrier (shipping line, airline, road haulier).
    #[n(6)]
    Carrier,
    /// A freight forwarder.
    #[n(7)]
    Forwarder,
    /// A customs declarant.
    #[n(8)]
    Declarant,
    /// A trading enterprise (exporter, importer).
    #[n(9)]
    Enterprise,
    /// An observer node's identity (a bank's or a rail operator's): it may read every block in
    /// full to follow and re-execute the ledger, and may submit nothing. Granted only by an
    /// agency's registration, which is the federation's decision to share the key fields.
    #[n(10)]
    Observer,
}

impl Role {
    /// Roles whose holders may anchor records.
    pub const RECORD_ANCHORING: [Role; 8] = [
        Role::Customs,
        Role::Border,
        Role::Rail,
        Role::Bank,
        Role::Carrier,
        Role::Forwarder,
        Role::Declarant,
        Role::Enterprise,
    ];
}

/// The record kinds a generic anchored record may have.
pub const RECORD_KINDS: [&str; 9] = [
    "commercial_invoice",
    "customs_declaration",
    "bill_of_lading",
    "rail_consignment_note",
    "air_waybill",
    "packing_list",
    "certificate_of_origin",
    "equipment_interchange_receipt",
    "generic",
];

/// Limits on a record's metadata.
pub const MAX_METADATA_ENTRIES: usize = 32;
/// Longest metadata key, in bytes.
pub const MAX_METADATA_KEY: usize = 64;
/// Longest metadata value, in bytes.
pub const MAX_METADATA_VALUE: usize = 512;

/// What a transaction does.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Body {
    /// An agency with the registry role registers a participant.
    #[n(0)]
    RegisterParticipant {
        /// The new participant's id.
        #[n(0)]
        id: ParticipantId,
        /// Its legal or display name.
        #[n(1)]
        name: String,
        /// Its roles, sorted, without duplicates.
        #[n(2)]
        roles: Vec<Role>,
        /// The key it signs with.
        #[n(3)]
        public_key: PublicKey,
    },
    /// A registered participant anchors a signed record.
    #[n(1)]
    AnchorRecord {
        /// One of [`RECORD_KINDS`].
        #[n(0)]
        kind: String,
        /// Hash of the original document, which stays with its owner.
        #[n(1)]
        document_hash: Digest,
        /// Key-value metadata, sorted by key, keys unique.
        #[n(2)]
        metadata: Vec<(String, String)>,
    },
    /// An agency with the registry role registers an enterprise; the ledger issues its SCO code.
    #[n(2)]
    RegisterEnterprise {
        /// The participant id it signs as.
        #[n(0)]
        id: ParticipantId,
        /// Its legal name.
        #[n(1)]
        name: String,
        /// Its country (the SCO code's country).
        #[n(2)]
        country: CountryCode,
        /// Its legal identifiers.
        #[n(3)]
        legal_ids: LegalIds,
        /// Its roles (enterprise, declarant, forwarder...).
        #[n(4)]
        roles: Vec<Role>,
        /// Its signing key.
        #[n(5)]
        public_key: PublicKey,
    },
    /// A credit agency (or, for payment defaults, a bank) attests a credit record.
    #[n(3)]
    AttestCredit {
        /// About whom.
        #[n(0)]
        sco_code: ScoCode,
        /// What.
        #[n(1)]
        record: CreditRecord,
        /// First day of validity.
        #[n(2)]
        valid_from: Date,
        /// Last day, if it expires.
        #[n(3)]
        valid_until: Option<Date>,
        /// Hash of the evidence.
        #[n(4)]
        evidence_hash: Digest,
    },
    /// The issuer of an attestation revokes it.
    #[n(4)]
    RevokeCredit {
        /// The attestation.
        #[n(0)]
        attestation: TxId,
        /// Why.
        #[n(1)]
        reason: String,
    },
    /// A participant anchors a trade document: content hash, field-commitment root, key fields.
    #[n(5)]
    AnchorDocument {
        /// The consignment (UCR) it belongs to.
        #[n(0)]
        consignment: Option<String>,
        /// The leg, for a transport document.
        #[n(1)]
        leg: Option<u16>,
        /// Hash of the original file.
        #[n(2)]
        content_hash: Digest,
        /// Root of the salted field commitments.
        #[n(3)]
        fields_root: Digest,
        /// The key fields.
        #[n(4)]
        fields: Box<DocumentFields>,
    },
    /// The issuer amends its document; the new version supersedes the old.
    #[n(6)]
    AmendDocument {
        /// The document.
        #[n(0)]
        document: TxId,
        /// Hash of the new file.
        #[n(1)]
        content_hash: Digest,
        /// Root of the new field commitments.
        #[n(2)]
        fields_root: Digest,
        /// The new key fields (same document type).
        #[n(3)]
        fields: Box<DocumentFields>,
    },
    /// The issuer withdraws its document.
    #[n(7)]
    WithdrawDocument {
        /// The document.
        #[n(0)]
        document: TxId,
        /// Why.
        #[n(1)]
        reason: String,
    },
    /// Opens a consignment: one UCR across ordered legs.
    #[n(8)]
    OpenConsignment {
        /// The unique consignment reference.
        #[n(0)]
        ucr: String,
        /// The legs, in order.
        #[n(1)]
        legs: Vec<Leg>,
        /// The parties besides the opener and the carriers.
        #[n(2)]
        parties: Vec<ParticipantId>,
    },
    /// A carrier of the leg, or an agency, records a transport event.
    #[n(9)]
    RecordTransportEvent {
        /// The consignment.
        #[n(0)]
        ucr: String,
        /// The leg.
        #[n(1)]
        leg: u16,
        /// What happened.
        #[n(2)]
        event: TransportEventKind,
        /// Where.
        #[n(3)]
        place: UnLocode,
        /// When (ms since the Unix epoch).
        #[n(4)]
        at_ms: u64,
    },
    /// The opener or an agency closes a consignment.
    #[n(10)]
    CloseConsignment {
        /// The consignment.
        #[n(0)]
        ucr: String,
    },
    /// An agency confirms a consignment's validation report or overrides a failed rule.
    #[n(11)]
    AttestReport {
        /// The consignment.
        #[n(0)]
        ucr: String,
        /// Hash of the report the agency looked at (it must be the current one).
        #[n(1)]
        report_hash: Digest,
        /// The decision.
        #[n(2)]
        decision: ReportDecision,
    },
    /// A bank registers a financing lien on a document.
    #[n(12)]
    RegisterLien {
        /// The document.
        #[n(0)]
        document: TxId,
        /// The amount financed.
        #[n(1)]
        amount: Amount,
        /// Last day of the lien.
        #[n(2)]
        until: Date,
    },
    /// The bank releases its lien.
    #[n(13)]
    ReleaseLien {
        /// The lien.
        #[n(0)]
        lien: TxId,
    },
    /// An agency proposes a change of the federation; the proposal counts as its approval.
    #[n(14)]
    ProposeChange {
        /// The change.
        #[n(0)]
        change: Box<Change>,
    },
    /// An agency approves a pending proposal. The approval that brings the approving agencies to
    /// at least two thirds of the current agencies enacts the change.
    #[n(15)]
    ApproveChange {
        /// The proposal (its transaction id).
        #[n(0)]
        proposal: TxId,
    },
    /// An agency puts on the ledger the evidence that a validator equivocated: two conflicting
    /// messages it signed for the same height and round. Agency nodes report what their
    /// consensus engine observed, by themselves.
    #[n(16)]
    ReportEquivocation {
        /// The two signed messages.
        #[n(0)]
        evidence: Box<crate::evidence::Equivocation>,
    },
}

/// A change of the federation that its agencies decide together (see [`Body::ProposeChange`]).
/// Changes of the validator set take effect [`VALIDATOR_CHANGE_DELAY`] blocks after the height
/// at which they are enacted, so that a joining agency's node can catch up first.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// A new agency joins: it becomes a participant with its card's roles and admin key, and a
    /// validator with its card's validator key.
    #[n(0)]
    AddAgency {
        /// The new agency's member card.
        #[n(0)]
        card: MemberCard,
    },
    /// An agency leaves: its admin key stops signing and its validator stops voting.
    #[n(1)]
    RemoveAgency {
        /// The agency.
        #[n(0)]
        agency: AgencyId,
    },
    /// An agency's validator votes with a new key from the activation height on.
    #[n(2)]
    RotateValidatorKey {
        /// The agency.
        #[n(0)]
        agency: AgencyId,
        /// Its new validator key.
        #[n(1)]
        validator_key: PublicKey,
    },
    /// New federation parameters (block and pool limits).
    #[n(3)]
    SetParams {
        /// The parameters.
        #[n(0)]
        params: Params,
    },
    /// New cross-validation tolerances.
    #[n(4)]
    SetRuleParams {
        /// The tolerances.
        #[n(0)]
        rules: RuleParams,
    },
}

/// Blocks between the enactment of a validator-set change and the first block the new set
/// certifies.
pub const VALIDATOR_CHANGE_DELAY: u64 = 10;

impl Change {
    /// Checks the change on its own, without state.
    pub fn validate(&self) -> Result<(), Rejection> {
        let invalid = |detail: String| Err(Rejection::new(RejectReason::InvalidBody, detail));
        match self {
            Change::AddAgency { card } => {
                short_text("agency name", &card.name, 256)?;
                if card.country.len() != 2 || !card.country.bytes().all(|b| b.is_ascii_uppercase())
                {
                    return invalid(format!(
                        "country must be an ISO 3166-1 alpha-2 code, found {:?}",
                        card.country
                    ));
                }
                if card.roles.is_empty() || !card.roles.windows(2).all(|w| w[0] < w[1]) {
                    return invalid(
                        "roles must be non-empty, sorted and without duplicates".into(),
                    );
                }
                let keys = [card.validator_key, card.network_key, card.admin_key];
                if keys[0] == keys[1] || keys[0] == keys[2] || keys[1] == keys[2] {
                    return invalid(
                        "the validator, network and admin keys must be three different keys".into(),
                    );
                }
                short_text("p2p address", &card.p2p_address, 256)?;
                short_text("API URL", &card.api_url, 256)
            }
            Change::RemoveAgency { .. } | Change::RotateValidatorKey { .. } => Ok(()),
            Change::SetParams { params } => {
                if params.block_max_transactions == 0
                    || params.block_max_bytes < 64 * 1024
                    || params.block_max_bytes > crate::genesis::BLOCK_MAX_BYTES_LIMIT
                    || params.mempool_max_transactions < params.block_max_transactions
                {
                    return invalid(format!(
                        "parameters out of range: a block holds at least one transaction and 64 KiB to 4 MiB, and the pool at least one block ({params:?})"
                    ));
                }
                Ok(())
            }
            Change::SetRuleParams { rules } => rules
                .check()
                .map_err(|e| Rejection::new(RejectReason::InvalidBody, e.to_string())),
        }
    }

    /// Whether the change alters the validator set.
    pub fn changes_validators(&self) -> bool {
        matches!(
            self,
            Change::AddAgency { .. }
                | Change::RemoveAgency { .. }
                | Change::RotateValidatorKey { .. }
        )
    }
}

/// Roles that agencies hold; the document and consignment rules treat them alike.
pub const AGENCY_ROLES: [Role; 5] = [
    Role::Registry,
    Role::Credit,
    Role::Customs,
    Role::Border,
    Role::Rail,
];

/// Roles that may anchor trade documents.
pub const DOCUMENT_ROLES: [Role; 8] = [
    Role::Enterprise,
    Role::Carrier,
    Role::Rail,
    Role::Forwarder,
    Role::Declarant,
    Role::Customs,
    Role::Border,
    Role::Bank,
];

fn short_text(what: &str, text: &str, max: usize) -> Result<(), Rejection> {
    if text.trim().is_empty() || text.len() > max {
        return Err(Rejection::new(
            RejectReason::InvalidBody,
            format!("{what} must be 1 to {max} bytes, found {}", text.len()),
        ));
    }
    Ok(())
}

impl Body {
    /// Its JSON `type`, e.g. `anchor_document`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Body::RegisterParticipant { .. } => "register_participant",
            Body::AnchorRecord { .. } => "anchor_record",
            Body::RegisterEnterprise { .. } => "register_enterprise",
            Body::AttestCredit { .. } => "attest_credit",
            Body::RevokeCredit { .. } => "revoke_credit",
            Body::AnchorDocument { .. } => "anchor_document",
            Body::AmendDocument { .. } => "amend_document",
            Body::WithdrawDocument { .. } => "withdraw_document",
            Body::OpenConsignment { .. } => "open_consignment",
            Body::RecordTransportEvent { .. } => "record_transport_event",
            Body::CloseConsignment { .. } => "close_consignment",
            Body::AttestReport { .. } => "attest_report",
            Body::RegisterLien { .. } => "register_lien",
            Body::ReleaseLien { .. } => "release_lien",
            Body::ProposeChange { .. } => "propose_change",
            Body::ApproveChange { .. } => "approve_change",
            Body::ReportEquivocation { .. } => "report_equivocation",
        }
    }

    /// The roles allowed to submit this body.
    pub fn allowed_roles(&self) -> &'static [Role] {
        match self {
            Body::RegisterParticipant { .. } | Body::RegisterEnterprise { .. } => &[Role::Registry],
            Body::AnchorRecord { .. } => &Role::RECORD_ANCHORING,
            Body::AttestCredit { record, .. } => record.attesting_roles(),
            Body::RevokeCredit { .. } => &[Role::Credit, Role::Bank],
            Body::AnchorDocument { .. }
            | Body::AmendDocument { .. }
            | Body::WithdrawDocument { .. } => &DOCUMENT_ROLES,
            Body::OpenConsignment { .. } => &[
                Role::Enterprise,
                Role::Forwarder,
                Role::Declarant,
                Role::Customs,
                Role::Rail,
                Role::Carrier,
            ],
            Body::RecordTransportEvent { .. } => {
                &[Role::Carrier, Role::Rail, Role::Customs, Role::Border]
            }
            Body::CloseConsignment { .. } => &DOCUMENT_ROLES,
            Body::AttestReport { .. } => &[Role::Customs, Role::Border],
            Body::RegisterLien { .. } | Body::ReleaseLien { .. } => &[Role::Bank],
            // Execution also requires the signer to be an agency of the federation.
            Body::ProposeChange { .. }
            | Body::ApproveChange { .. }
            | Body::ReportEquivocation { .. } => &AGENCY_ROLES,
        }
    }

    /// Checks the body on its own, without state.
    pub fn validate(&self) -> Result<(), Rejection> {
        match self {
            Body::RegisterParticipant { name, roles, .. } => {
                if name.trim().is_empty() || name.len() > 256 {
                    return Err(Rejection::new(
                        RejectReason::InvalidBody,
                        format!(
                            "participant name must be 1 to 256 bytes, found {}",
                            name.len()
                        ),
                    ));
                }
                if let Some(role) = roles
                    .iter()
                    .find(|r| matches!(r, Role::Registry | Role::Credit))
                {
                    return Err(Rejection::new(
                        RejectReason::InvalidBody,
                        format!(
                            "role {role:?} belongs to agencies of the federation and cannot be granted by registration"
                        ),
                    ));
                }
                if roles.is_empty() || !roles.windows(2).all(|w| w[0] < w[1]) {
                    return Err(Rejection::new(
                        RejectReason::InvalidBody,
                        "roles must be non-empty, sorted and without duplicates",
                    ));
                }
                Ok(())
            }
            Body::AnchorRecord { kind, metadata, .. } => {
                if !RECORD_KINDS.contains(&kind.as_str()) {
                    return Err(Rejection::new(
                        RejectReason::UnknownRecordKind,
                        format!(
                            "unknown record kind {kind:?}; expected one of {}",
                            RECORD_KINDS.join(", ")
                        ),
                    ));
                }
                if metadata.len() > MAX_METADATA_ENTRIES {
                    return Err(Rejection::new(
                        RejectReason::InvalidBody,
                        format!(
                            "{} metadata entries, at most {MAX_METADATA_ENTRIES}",
                            metadata.len()
                        ),
                    ));
                }
                for (key, value) in metadata {
                    if key.is_empty()
                        || key.len() > MAX_METADATA_KEY
                        || value.len() > MAX_METADATA_VALUE
                    {
                        return Err(Rejection::new(
                            RejectReason::InvalidBody,
                            format!(
                                "metadata key {key:?}: keys are 1 to {MAX_METADATA_KEY} bytes, values at most {MAX_METADATA_VALUE}"
                            ),
                        ));
                    }
                }
                if !metadata.windows(2).all(|w| w[0].0 < w[1].0) {
                    return Err(Rejection::new(
                        RejectReason::InvalidBody,
                        "metadata keys must be unique and sorted",
                    ));
                }
                Ok(())
            }
            Body::RegisterEnterprise {
                name,
                legal_ids,
                roles,
                ..
            } => {
                short_text("enterprise name", name, 256)?;
                legal_ids
                    .validate()
                    .map_err(|e| Rejection::new(RejectReason::InvalidBody, e))?;
                if roles.is_empty() || !roles.windows(2).all(|w| w[0] < w[1]) {
                    return Err(Rejection::new(
                        RejectReason::InvalidBody,
                        "roles must be non-empty, sorted and without duplicates",
                    ));
                }
                if let Some(role) = roles.iter().find(|r| AGENCY_ROLES.contains(r)) {
                    return Err(Rejection::new(
                        RejectReason::InvalidBody,
                        format!(
                            "role {role:?} belongs to agencies of the federation and cannot be granted to an enterprise"
                        ),
                    ));
                }
                Ok(())
            }
            Body::AttestCredit {
                valid_from,
                valid_until,
                record,
                ..
            } => {
                if valid_until.is_some_and(|until| until < *valid_from) {
                    return Err(Rejection::new(
                        RejectReason::InvalidBody,
                        "valid_until is before valid_from",
                    ));
                }
                match record {
                    CreditRecord::PartnerGrade { scheme, grade, .. } => {
                        short_text("scheme", scheme, 64)?;
                        short_text("grade", grade, 64)
                    }
                    CreditRecord::Violation { description, .. }
                    | CreditRecord::SmugglingFinding { description } => {
                        short_text("description", description, 1024)
                    }
                    CreditRecord::AeoRecognition { countries } if countries.is_empty() => {
                        Err(Rejection::new(
                            RejectReason::InvalidBody,
                            "AEO recognition needs at least one country",
                        ))
                    }
                    CreditRecord::TradeVolume { from, to, .. } if to < from => Err(Rejection::new(
                        RejectReason::InvalidBody,
                        "trade volume period ends before it starts",
                    )),
                    _ => Ok(()),
                }
            }
            Body::RevokeCredit { reason, .. } | Body::WithdrawDocument { reason, .. } => {
                short_text("reason", reason, 1024)
            }
            Body::AnchorDocument {
                consignment,
                fields,
                ..
            } => {
                if let Some(ucr) = consignment {
                    validate_ucr(ucr).map_err(|e| Rejection::new(RejectReason::InvalidBody, e))?;
                }
                fields
                    .validate()
                    .map_err(|e| Rejection::new(RejectReason::InvalidBody, e.to_string()))
            }
            Body::AmendDocument { fields, .. } => fields
                .validate()
                .map_err(|e| Rejection::new(RejectReason::InvalidBody, e.to_string())),
            Body::OpenConsignment { ucr, legs, parties } => {
                validate_ucr(ucr).map_err(|e| Rejection::new(RejectReason::InvalidBody, e))?;
                if legs.is_empty() || legs.len() > 16 {
                    return Err(Rejection::new(
                        RejectReason::InvalidBody,
                        format!("a consignment has 1 to 16 legs, found {}", legs.len()),
                    ));
                }
                if let Some(w) = legs.windows(2).find(|w| w[0].to != w[1].from) {
                    return Err(Rejection::new(
                        RejectReason::InvalidBody,
                        format!(
                            "legs must connect: one ends at {} and the next starts at {}",
                            w[0].to, w[1].from
                        ),
                    ));
                }
                if parties.len() > 64 {
                    return Err(Rejection::new(
                        RejectReason::InvalidBody,
                        "at most 64 parties",
                    ));
                }
                Ok(())
            }
            Body::RecordTransportEvent { ucr, .. } | Body::CloseConsignment { ucr } => {
                validate_ucr(ucr).map_err(|e| Rejection::new(RejectReason::InvalidBody, e))
            }
            Body::AttestReport { ucr, decision, .. } => {
                validate_ucr(ucr).map_err(|e| Rejection::new(RejectReason::InvalidBody, e))?;
                if let ReportDecision::Override { reason, .. } = decision {
                    short_text("override reason", reason, 1024)?;
                }
                Ok(())
            }
            Body::RegisterLien { amount, .. } => {
                if amount.minor <= 0 {
                    return Err(Rejection::new(
                        RejectReason::InvalidBody,
                        "a lien's amount must be positive",
                    ));
                }
                Ok(())
            }
            Body::ReleaseLien { .. }
            | Body::ApproveChange { .. }
            | Body::ReportEquivocation { .. } => Ok(()),
            Body::ProposeChange { change } => change.validate(),
        }
    }
}

/// The signed part of a transaction.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
pub struct UnsignedTx {
    /// The federation this transaction is for.
    #[n(0)]
    pub chain_id: ChainId,
    /// Who signs it.
    #[n(1)]
    pub signer: ParticipantId,
    /// The signer's counter; each value usable once.
    #[n(2)]
    pub nonce: Nonce,
    /// What it does.
    #[n(3)]
    pub body: Body,
}

impl UnsignedTx {
    /// The transaction id: the hash of the canonical unsigned bytes.
    pub fn id(&self) -> TxId {
        TxId(hash(Domain::Transaction, &self.unsigned_bytes()))
    }

    /// The digest the signer signs.
    pub fn signing_digest(&self) -> Digest {
        hash(Domain::TransactionSignature, &self.unsigned_bytes())
    }

    /// [`UnsignedTx::id`] and [`UnsignedTx::signing_digest`] from one encoding.
    pub fn id_and_signing_digest(&self) -> (TxId, Digest) {
        let bytes = self.unsigned_bytes();
        (
            TxId(hash(Domain::Transaction, &bytes)),
            hash(Domain::TransactionSignature, &bytes),
        )
    }

    /// The canonical encoding, into a buffer large enough for most transactions at once (an
    /// encoding grown from empty is copied at every doubling).
    fn unsigned_bytes(&self) -> Vec<u8> {
        codec::encode_with_capacity(self, 1024)
    }

    /// Signs with `key`.
    pub fn sign(self, key: &Keypair) -> SignedTx {
        let signature = key.sign(&self.signing_digest());
        SignedTx {
            tx: self,
            signature,
        }
    }
}

/// A transaction with its signature.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
pub struct SignedTx {
    /// The signed content.
    #[n(0)]
    pub tx: UnsignedTx,
    /// Ed25519 over [`UnsignedTx::signing_digest`].
    #[n(1)]
    pub signature: Signature,
}

impl SignedTx {
    /// The transaction id.
    pub fn id(&self) -> TxId {
        self.tx.id()
    }

    /// Canonical bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Decodes canonical bytes, capped at [`codec::MAX_TRANSACTION_BYTES`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Rejection> {
        codec::decode(bytes, codec::MAX_TRANSACTION_BYTES).map_err(Rejection::from_codec)
    }

    /// Verifies the signature against `key`.
    pub fn verify_signature(&self, key: &PublicKey) -> Result<(), Rejection> {
        key.verify(&self.tx.signing_digest(), &self.signature)
            .map_err(|_| {
                Rejection::new(
                    RejectReason::BadSignature,
                    format!(
                        "signature does not verify against {}'s key {key}",
                        self.tx.signer
                    ),
                )
            })
    }
}

/// Why a transaction was refused: machine-readable, stable across versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode, Serialize, Deserialize)]
#[cbor(index_only)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// The signature does not verify.
    #[n(0)]
    BadSignature,
    /// The signer is not a registered participant.
    #[n(1)]
    UnknownSigner,
    /// The signer lacks the role this body needs.
    #[n(2)]
    MissingRole,
    /// This exact transaction was already committed or is pending.
    #[n(3)]
    Replayed,
    /// The signer already used this nonce.
    #[n(4)]
    NonceUsed,
    /// The transaction names another federation.
    #[n(5)]
    WrongChain,
    /// The bytes are not a transaction.
    #[n(6)]
    Malformed,
    /// The bytes decode but are not canonical.
    #[n(7)]
    NonCanonical,
    /// Too many bytes.
    #[n(8)]
    TooLarge,
    /// The record kind is not one the protocol knows.
    #[n(9)]
    UnknownRecordKind,
    /// The body breaks a rule of its kind.
    #[n(10)]
    InvalidBody,
    /// The participant id is taken.
    #[n(11)]
    DuplicateParticipant,
    /// The node's pending pool is full; retry later.
    #[n(12)]
    MempoolFull,
    /// A referenced record (document, consignment, SCO code, lien, attestation) does not exist.
    #[n(13)]
    NotFound,
    /// The signer may not act on this record (not its issuer, not a party).
    #[n(14)]
    NotPermitted,
    /// The record's state does not allow this (withdrawn document, closed consignment, stale report...).
    #[n(15)]
    Conflict,
    /// A second active financing lien on the same document.
    #[n(16)]
    DoubleFinancing,
}

impl RejectReason {
    /// Whether a transaction refused for this reason must never appear in a block. Such failures
    /// (authentication, format, exact replays) are caught at admission; a block that carries one
    /// anyway comes from a faulty proposer and is voted against. The other reasons (a nonce or a
    /// participant id taken by an earlier transaction) are ordered and receive a rejected receipt,
    /// so that the submitter learns why.
    pub fn excludes_from_block(self) -> bool {
        !matches!(
            self,
            RejectReason::NonceUsed
                | RejectReason::DuplicateParticipant
                | RejectReason::NotFound
                | RejectReason::NotPermitted
                | RejectReason::Conflict
                | RejectReason::DoubleFinancing
        )
    }

    /// The reason's stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::BadSignature => "bad_signature",
            RejectReason::UnknownSigner => "unknown_signer",
            RejectReason::MissingRole => "missing_role",
            RejectReason::Replayed => "replayed",
            RejectReason::NonceUsed => "nonce_used",
            RejectReason::WrongChain => "wrong_chain",
            RejectReason::Malformed => "malformed",
            RejectReason::NonCanonical => "non_canonical",
            RejectReason::TooLarge => "too_large",
            RejectReason::UnknownRecordKind => "unknown_record_kind",
            RejectReason::InvalidBody => "invalid_body",
            RejectReason::DuplicateParticipant => "duplicate_participant",
            RejectReason::MempoolFull => "mempool_full",
            RejectReason::NotFound => "not_found",
            RejectReason::NotPermitted => "not_permitted",
            RejectReason::Conflict => "conflict",
            RejectReason::DoubleFinancing => "double_financing",
        }
    }
}

/// A refusal: the machine-readable reason and a message for people.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize, thiserror::Error)]
#[cbor(array)]
#[error("{}: {detail}", reason.as_str())]
pub struct Rejection {
    /// The reason.
    #[n(0)]
    pub reason: RejectReason,
    /// What was expected and what was found.
    #[n(1)]
    pub detail: String,
}

impl Rejection {
    /// A rejection for `reason`.
    pub fn new(reason: RejectReason, detail: impl Into<String>) -> Self {
        Rejection {
            reason,
            detail: detail.into(),
        }
    }

    /// Maps a decoding failure to its rejection.
    pub fn from_codec(error: codec::CodecError) -> Self {
        let reason = match &error {
            codec::CodecError::TooLarge { .. } => RejectReason::TooLarge,
            codec::CodecError::Malformed(_) => RejectReason::Malformed,
            codec::CodecError::NonCanonical { .. } => RejectReason::NonCanonical,
        };
        Rejection::new(reason, error.to_string())
    }
}

/// How execution ended for one transaction.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Applied to the state.
    #[n(0)]
    Accepted,
    /// Ordered but not applied, with the reason.
    #[n(1)]
    Rejected {
        /// Why.
        #[n(0)]
        rejection: Rejection,
    },
}

/// Where and how a transaction was committed.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
pub struct Receipt {
    /// The block.
    #[n(0)]
    pub height: Height,
    /// Position in the block.
    #[n(1)]
    pub index: u32,
    /// Position in the Merkle log of all committed transactions.
    #[n(2)]
    pub log_index: u64,
    /// The result.
    #[n(3)]
    pub outcome: Outcome,
}

/// One leaf of the Merkle log: a transaction id and its receipt.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
#[cbor(array)]
pub struct LogEntry {
    /// The transaction.
    #[n(0)]
    pub tx_id: TxId,
    /// Its receipt.
    #[n(1)]
    pub receipt: Receipt,
}

impl LogEntry {
    /// The leaf hash of this entry.
    pub fn leaf_hash(&self) -> Digest {
        crate::merkle::leaf_hash(&codec::encode(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(key: &Keypair) -> SignedTx {
        UnsignedTx {
            chain_id: ChainId(Digest([1; 32])),
            signer: ParticipantId::new("CN-EXPORTER-1").expect("id"),
            nonce: Nonce(1),
            body: Body::AnchorRecord {
                kind: "commercial_invoice".into(),
                document_hash: Digest([2; 32]),
                metadata: vec![("number".into(), "INV-1".into())],
            },
        }
        .sign(key)
    }

    #[test]
    fn signed_round_trip_and_signature() {
        let key = Keypair::from_seed(&[5; 32]);
        let tx = sample(&key);
        let back = SignedTx::from_bytes(&tx.to_bytes()).expect("decode");
        assert_eq!(back, tx);
        assert!(back.verify_signature(&key.public()).is_ok());
        let other = Keypair::from_seed(&[6; 32]);
        assert_eq!(
            back.verify_signature(&other.public()).map_err(|r| r.reason),
            Err(RejectReason::BadSignature)
        );
        let json = serde_json::to_string(&tx).expect("json");
        let from_json: SignedTx = serde_json::from_str(&json).expect("from json");
        assert_eq!(from_json.id(), tx.id());
    }

    #[test]
    fn type_name_is_the_json_type() {
        let key = Keypair::from_seed(&[5; 32]);
        for body in [
            sample(&key).tx.body,
            Body::ApproveChange {
                proposal: TxId(Digest([3; 32])),
            },
            Body::ReportEquivocation {
                evidence: Box::new(crate::evidence::Equivocation::Proposals {
                    validator: key.public(),
                    first: crate::evidence::SignedProposal {
                        height: crate::ids::Height(1),
                        round: 0,
                        block: crate::ids::BlockId(Digest([1; 32])),
                        pol_round: -1,
                        signature: crate::keys::Signature([0; 64]),
                    },
                    second: crate::evidence::SignedProposal {
                        height: crate::ids::Height(1),
                        round: 0,
                        block: crate::ids::BlockId(Digest([2; 32])),
                        pol_round: -1,
                        signature: crate::keys::Signature([0; 64]),
                    },
                }),
            },
        ] {
            let json = serde_json::to_value(&body).expect("json");
            assert_eq!(json["type"], body.type_name());
        }
    }

    #[test]
    fn body_validation() {
        let bad_kind = Body::AnchorRecord {
            kind: "poem".into(),
            document_hash: Digest::ZERO,
            metadata: vec![],
        };
        assert_eq!(
            bad_kind.validate().map_err(|r| r.reason),
            Err(RejectReason::UnknownRecordKind)
        );
        let unsorted = Body::AnchorRecord {
            kind: "generic".into(),
            document_hash: Digest::ZERO,
            metadata: vec![("b".into(), "1".into()), ("a".into(), "2".into())],
        };
        assert_eq!(
            unsorted.validate().map_err(|r| r.reason),
            Err(RejectReason::InvalidBody)
        );
    }

    #[test]
    fn malformed_and_non_canonical_bytes() {
        assert_eq!(
            SignedTx::from_bytes(&[0x01]).map_err(|r| r.reason),
            Err(RejectReason::Malformed)
        );
        let key = Keypair::from_seed(&[5; 32]);
        let mut bytes = sample(&key).to_bytes();
        bytes.push(0x00);
        assert_eq!(
            SignedTx::from_bytes(&bytes).map_err(|r| r.reason),
            Err(RejectReason::NonCanonical)
        );
        let big = vec![0u8; codec::MAX_TRANSACTION_BYTES + 1];
        assert_eq!(
            SignedTx::from_bytes(&big).map_err(|r| r.reason),
            Err(RejectReason::TooLarge)
        );
    }
}
