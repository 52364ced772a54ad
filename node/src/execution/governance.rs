//! Governance: agencies propose and approve changes of the federation (membership, validator
//! keys, parameters). A change is enacted by the approval that brings its approvers to at least
//! two thirds of the current agencies. Membership changes reach the validator set
//! [`VALIDATOR_CHANGE_DELAY`] blocks later, so that a joining agency's node can catch up first;
//! the set in force is state (`g/vs`), and every header commits to it and to the next one.

use minicbor::{Decode, Encode};

use caravan_sdk::block::{Validator, ValidatorSet};
use caravan_sdk::genesis::{Genesis, MemberCard, Params};
use caravan_sdk::ids::{AgencyId, Height, ParticipantId, TxId};
use caravan_sdk::tx::{Body, Change, RejectReason, Rejection, SignedTx, VALIDATOR_CHANGE_DELAY};

use super::state::{StateError, StateView, TxState, keys};
use super::trade::tkeys;
use super::tx::Context;
use super::types::Participant;

type Applied = Result<Result<(), Rejection>, StateError>;

fn refuse(reason: RejectReason, detail: impl Into<String>) -> Applied {
    Ok(Err(Rejection::new(reason, detail)))
}

/// State keys of governance.
pub mod gkeys {
    use caravan_sdk::ids::{AgencyId, TxId};

    use super::keys::raw;

    /// An agency's member card, present while it is a member.
    pub fn member(agency: &AgencyId) -> Vec<u8> {
        raw("g", &[b"m", agency.as_str().as_bytes()])
    }
    /// Prefix of every member card.
    pub fn members() -> Vec<u8> {
        raw("g", &[b"m", b""])
    }
    /// The validator set that certifies the next block.
    pub fn validators() -> Vec<u8> {
        raw("g", &[b"vs"])
    }
    /// A scheduled validator set and the first height it certifies.
    pub fn pending_validators() -> Vec<u8> {
        raw("g", &[b"vs-pending"])
    }
    /// A proposal.
    pub fn proposal(id: &TxId) -> Vec<u8> {
        raw("g", &[b"p", id.0.as_bytes()])
    }
    /// The federation parameters in force.
    pub fn params() -> Vec<u8> {
        raw("g", &[b"params"])
    }
    /// Recorded equivocation of `agency`'s validator at a height, round and step.
    pub fn equivocation(agency: &AgencyId, height: u64, round: i64, step: &str) -> Vec<u8> {
        raw(
            "g",
            &[
                b"x",
                agency.as_str().as_bytes(),
                &height.to_be_bytes(),
                &round.to_be_bytes(),
                step.as_bytes(),
            ],
        )
    }
    /// Prefix of every recorded equivocation.
    pub fn equivocations() -> Vec<u8> {
        raw("g", &[b"x", b""])
    }
    /// Prefix of the recorded equivocations of one agency.
    pub fn equivocations_of(agency: &AgencyId) -> Vec<u8> {
        raw("g", &[b"x", agency.as_str().as_bytes(), b""])
    }
}

/// The most equivocations recorded for one agency: a few prove it; more would only let one
/// Byzantine validator fill the ledger.
pub const MAX_EQUIVOCATIONS_PER_AGENCY: usize = 16;

/// An equivocation on the ledger: whose validator signed two conflicting messages, the
/// evidence, and who reported it when.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, serde::Serialize)]
#[cbor(array)]
pub struct EquivocationRecord {
    /// The agency whose validator key signed both messages.
    #[n(0)]
    pub agency: AgencyId,
    /// `prevote`, `precommit` or `proposal`.
    #[n(1)]
    pub step: String,
    /// The two signed messages.
    #[n(2)]
    pub evidence: caravan_sdk::evidence::Equivocation,
    /// The agency that reported it.
    #[n(3)]
    pub reported_by: AgencyId,
    /// The height at which it was recorded.
    #[n(4)]
    pub recorded_at: Height,
    /// The reporting transaction.
    #[n(5)]
    pub tx: TxId,
}

/// A validator set waiting for its first height.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, serde::Serialize)]
#[cbor(array)]
pub struct PendingSet {
    /// The first height it certifies.
    #[n(0)]
    pub activation: Height,
    /// The set.
    #[n(1)]
    pub validators: ValidatorSet,
}

/// Where a proposal stands.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, serde::Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ProposalStatus {
    /// Collecting approvals.
    #[n(0)]
    Pending,
    /// Enacted at a height.
    #[n(1)]
    Enacted {
        /// The height of the enacting approval.
        #[n(0)]
        height: Height,
        /// For a validator-set change, the first height the new set certifies.
        #[n(1)]
        activation: Option<Height>,
    },
}

/// A proposed change and its approvals.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, serde::Serialize)]
#[cbor(array)]
pub struct Proposal {
    /// The change.
    #[n(0)]
    pub change: Change,
    /// The proposing agency.
    #[n(1)]
    pub proposer: AgencyId,
    /// When it was proposed.
    #[n(2)]
    pub proposed_at: Height,
    /// The agencies that approved it (the proposer first), in order.
    #[n(3)]
    pub approvals: Vec<AgencyId>,
    /// Where it stands.
    #[n(4)]
    pub status: ProposalStatus,
}

/// The state a genesis starts from: the founders as participants and members, the founding
/// validator set, and the parameters. Key order.
pub fn genesis_state(genesis: &Genesis) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut entries = Vec::new();
    for card in &genesis.content.agencies {
        let participant = Participant {
            name: card.name.clone(),
            roles: card.roles.clone(),
            public_key: card.admin_key,
            registered_at: Height(0),
            registered_by_tx: None,
            agency: true,
        };
        entries.push((
            keys::participant(&ParticipantId::from(&card.agency)),
            caravan_sdk::codec::encode(&participant),
        ));
        entries.push((
            gkeys::member(&card.agency),
            caravan_sdk::codec::encode(card),
        ));
    }
    entries.push((
        gkeys::validators(),
        caravan_sdk::codec::encode(&genesis.content.validator_set()),
    ));
    entries.push((
        gkeys::params(),
        caravan_sdk::codec::encode(&genesis.content.params),
    ));
    entries.sort();
    entries
}

/// The validator set of the given member cards.
pub fn set_of(cards: &[MemberCard]) -> ValidatorSet {
    ValidatorSet::new(
        cards
            .iter()
            .map(|card| Validator {
                agency: card.agency.clone(),
                public_key: card.validator_key,
                power: 1,
            })
            .collect(),
    )
}

fn members<V: StateView>(state: &TxState<'_, V>) -> Result<Vec<MemberCard>, StateError> {
    state
        .scan(&gkeys::members())?
        .into_iter()
        .map(|(key, bytes)| {
            caravan_sdk::codec::decode(&bytes, caravan_sdk::codec::MAX_BLOCK_BYTES).map_err(|e| {
                StateError(format!(
                    "stored member card {}: {e}",
                    String::from_utf8_lossy(&key)
                ))
            })
        })
        .collect()
}

/// The signer as an agency, or the refusal.
fn agency_of<V: StateView>(
    state: &TxState<'_, V>,
    tx: &SignedTx,
) -> Result<Result<AgencyId, Rejection>, StateError> {
    let signer = &tx.tx.signer;
    let not_member = || {
        Rejection::new(
            RejectReason::NotPermitted,
            format!("{signer} is not an agency of the federation; only agencies decide changes"),
        )
    };
    let Ok(agency) = AgencyId::new(signer.as_str()) else {
        return Ok(Err(not_member()));
    };
    if !state.contains(&gkeys::member(&agency))? {
        return Ok(Err(not_member()));
    }
    Ok(Ok(agency))
}

/// Checks that `change` can be applied to the current members; returns the members after it.
fn members_after(members: &[MemberCard], change: &Change) -> Result<Vec<MemberCard>, Rejection> {
    let conflict = |detail: String| Err(Rejection::new(RejectReason::Conflict, detail));
    let mut after = members.to_vec();
    let find = |agency: &AgencyId| members.iter().position(|c| &c.agency == agency);
    let key_in_use = |key, except: Option<&AgencyId>| {
        members.iter().any(|c| {
            Some(&c.agency) != except && [c.validator_key, c.network_key, c.admin_key].contains(key)
        })
    };
    match change {
        Change::AddAgency { card } => {
            if find(&card.agency).is_some() {
                return conflict(format!("{} is already an agency", card.agency));
            }
            for key in [&card.validator_key, &card.network_key, &card.admin_key] {
                if key_in_use(key, None) {
                    return conflict(format!("key {key} is already used by an agency"));
                }
            }
            after.push(card.clone());
            after.sort_by(|a, b| a.agency.cmp(&b.agency));
        }
        Change::RemoveAgency { agency } => {
            let Some(i) = find(agency) else {
                return Err(Rejection::new(
                    RejectReason::NotFound,
                    format!("{agency} is not an agency of the federation"),
                ));
            };
            if members.len() == 1 {
                return conflict("the last agency cannot be removed".into());
            }
            after.remove(i);
        }
        Change::RotateValidatorKey {
            agency,
            validator_key,
        } => {
            let Some(i) = find(agency) else {
                return Err(Rejection::new(
                    RejectReason::NotFound,
                    format!("{agency} is not an agency of the federation"),
                ));
            };
            if key_in_use(validator_key, None) {
                return conflict(format!("key {validator_key} is already used by an agency"));
            }
            after[i].validator_key = *validator_key;
        }
        Change::SetParams { .. } | Change::SetRuleParams { .. } => {}
    }
    Ok(after)
}

/// Executes a governance body.
pub fn apply<V: StateView>(
    state: &mut TxState<'_, V>,
    ctx: &Context<'_>,
    tx: &SignedTx,
    id: TxId,
) -> Applied {
    let agency = match agency_of(state, tx)? {
        Ok(a) => a,
        Err(r) => return Ok(Err(r)),
    };
    match &tx.tx.body {
        Body::ProposeChange { change } => {
            let members = members(state)?;
            if let Err(r) = members_after(&members, change) {
                return Ok(Err(r));
            }
            if let Change::AddAgency { card } = &**change
                && state.contains(&keys::participant(&ParticipantId::from(&card.agency)))?
            {
                return refuse(
                    RejectReason::DuplicateParticipant,
                    format!("participant id {} is taken", card.agency),
                );
            }
            let proposal = Proposal {
                change: (**change).clone(),
                proposer: agency.clone(),
                proposed_at: ctx.height,
                approvals: vec![agency],
                status: ProposalStatus::Pending,
            };
            decide(state, ctx, id, proposal, &members)
        }
        Body::ApproveChange { proposal: pid } => {
            let Some(mut proposal) = state.get::<Proposal>(&gkeys::proposal(pid))? else {
                return refuse(RejectReason::NotFound, format!("no proposal {pid}"));
            };
            if proposal.status != ProposalStatus::Pending {
                return refuse(
                    RejectReason::Conflict,
                    format!("proposal {pid} is already enacted"),
                );
            }
            if proposal.approvals.contains(&agency) {
                return refuse(
                    RejectReason::Conflict,
                    format!("{agency} already approved proposal {pid}"),
                );
            }
            proposal.approvals.push(agency);
            let members = members(state)?;
            decide(state, ctx, *pid, proposal, &members)
        }
        Body::ReportEquivocation { evidence } => {
            if let Err(e) = evidence.verify(ctx.chain_id) {
                return refuse(
                    RejectReason::InvalidBody,
                    format!("not evidence of equivocation: {e}"),
                );
            }
            let (height, round) = evidence.slot();
            if height.0 > ctx.height.0 {
                return refuse(
                    RejectReason::InvalidBody,
                    format!(
                        "the evidence is for height {height}, after this block's {}",
                        ctx.height
                    ),
                );
            }
            let key = evidence.validator();
            let Some(offender) = members(state)?.into_iter().find(|c| c.validator_key == key)
            else {
                return refuse(
                    RejectReason::NotFound,
                    format!("no member agency votes with validator key {key}"),
                );
            };
            let recorded = state
                .scan(&gkeys::equivocations_of(&offender.agency))?
                .len();
            if recorded >= MAX_EQUIVOCATIONS_PER_AGENCY {
                return refuse(
                    RejectReason::Conflict,
                    format!(
                        "{} equivocations of {} are recorded already; that is proof enough",
                        recorded, offender.agency
                    ),
                );
            }
            let record_key =
                gkeys::equivocation(&offender.agency, height.0, round, evidence.step());
            if state.contains(&record_key)? {
                return refuse(
                    RejectReason::Conflict,
                    format!(
                        "the {} equivocation of {} at height {height}, round {round} is already recorded",
                        evidence.step(),
                        offender.agency
                    ),
                );
            }
            state.put(
                record_key,
                &EquivocationRecord {
                    agency: offender.agency,
                    step: evidence.step().to_string(),
                    evidence: (**evidence).clone(),
                    reported_by: agency,
                    recorded_at: ctx.height,
                    tx: id,
                },
            );
            Ok(Ok(()))
        }
        _ => Ok(Ok(())),
    }
}

/// Whether `approvals` reach at least two thirds of `members`.
fn approved(approvals: &[AgencyId], members: &[MemberCard]) -> bool {
    let counted = members
        .iter()
        .filter(|c| approvals.contains(&c.agency))
        .count();
    counted * 3 >= members.len() * 2
}

/// Records `proposal` under `pid`, enacting it if its approvals are enough.
fn decide<V: StateView>(
    state: &mut TxState<'_, V>,
    ctx: &Context<'_>,
    pid: TxId,
    mut proposal: Proposal,
    members: &[MemberCard],
) -> Applied {
    if approved(&proposal.approvals, members) {
        let after = match members_after(members, &proposal.change) {
            Ok(after) => after,
            Err(r) => return Ok(Err(r)),
        };
        let activation = enact(state, ctx, pid, &proposal.change, members, &after)?;
        proposal.status = ProposalStatus::Enacted {
            height: ctx.height,
            activation,
        };
    }
    state.put(gkeys::proposal(&pid), &proposal);
    Ok(Ok(()))
}

/// Applies an approved change; returns the activation height of a validator-set change.
fn enact<V: StateView>(
    state: &mut TxState<'_, V>,
    ctx: &Context<'_>,
    pid: TxId,
    change: &Change,
    before: &[MemberCard],
    after: &[MemberCard],
) -> Result<Option<Height>, StateError> {
    match change {
        Change::AddAgency { card } => {
            state.put(gkeys::member(&card.agency), card);
            state.put(
                keys::participant(&ParticipantId::from(&card.agency)),
                &Participant {
                    name: card.name.clone(),
                    roles: card.roles.clone(),
                    public_key: card.admin_key,
                    registered_at: ctx.height,
                    registered_by_tx: Some(pid),
                    agency: true,
                },
            );
        }
        Change::RemoveAgency { agency } => {
            state.delete(gkeys::member(agency));
            state.delete(keys::participant(&ParticipantId::from(agency)));
        }
        Change::RotateValidatorKey { agency, .. } => {
            if let Some(card) = after.iter().find(|c| &c.agency == agency) {
                state.put(gkeys::member(agency), card);
            }
        }
        Change::SetParams { params } => {
            state.put(gkeys::params(), params);
            return Ok(None);
        }
        Change::SetRuleParams { rules } => {
            state.put(tkeys::rule_params(), rules);
            return Ok(None);
        }
    }
    debug_assert_ne!(set_of(before), set_of(after));
    let activation = Height(ctx.height.0 + VALIDATOR_CHANGE_DELAY);
    state.put(
        gkeys::pending_validators(),
        &PendingSet {
            activation,
            validators: set_of(after),
        },
    );
    Ok(Some(activation))
}

/// At the end of block `height`: promotes a scheduled set whose first height is the next one.
/// Returns the set that certifies the next block, and whether it changed.
pub fn end_block<V: StateView>(
    state: &mut TxState<'_, V>,
    height: Height,
) -> Result<(ValidatorSet, bool), StateError> {
    let current: ValidatorSet = state
        .get(&gkeys::validators())?
        .ok_or_else(|| StateError("no validator set in state".into()))?;
    if let Some(pending) = state.get::<PendingSet>(&gkeys::pending_validators())?
        && pending.activation == height.next()
    {
        state.delete(gkeys::pending_validators());
        state.put(gkeys::validators(), &pending.validators);
        let changed = pending.validators != current;
        return Ok((pending.validators, changed));
    }
    Ok((current, false))
}

/// The parameters in force.
pub fn params<V: StateView>(view: &V) -> Result<Params, StateError> {
    match view
        .get(&gkeys::params())
        .map_err(|e| StateError(e.to_string()))?
    {
        Some(bytes) => caravan_sdk::codec::decode(&bytes, caravan_sdk::codec::MAX_BLOCK_BYTES)
            .map_err(|e| StateError(format!("stored parameters: {e}"))),
        None => Err(StateError("no parameters in state".into())),
    }
}

/// The validator set that certifies the block after the committed state `view`.
pub fn validators<V: StateView>(view: &V) -> Result<ValidatorSet, StateError> {
    match view
        .get(&gkeys::validators())
        .map_err(|e| StateError(e.to_string()))?
    {
        Some(bytes) => caravan_sdk::codec::decode(&bytes, caravan_sdk::codec::MAX_BLOCK_BYTES)
            .map_err(|e| StateError(format!("stored validator set: {e}"))),
        None => Err(StateError("no validator set in state".into())),
    }
}
