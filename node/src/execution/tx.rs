//! One transaction: authentication (chain, body rules, signer, signature, role), replay and
//! nonce rules, then the body's own effect on state.

use std::sync::Arc;

use caravan_sdk::ids::{ChainId, Height, TxId};
use caravan_sdk::tx::{Body, Outcome, RejectReason, Rejection, SignedTx};

use super::state::{Overlay, StateError, StateView, TxState, keys};
use super::types::Participant;
use super::verified::Verified;

/// What a transaction executes against: its position and the block's clock.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// The federation.
    pub chain_id: &'a ChainId,
    /// The block's height.
    pub height: Height,
    /// The block's time, milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// Signatures already verified by this node.
    pub verified: &'a Verified,
}

fn reject(
    reason: RejectReason,
    detail: impl Into<String>,
) -> Result<Result<(), Rejection>, StateError> {
    Ok(Err(Rejection::new(reason, detail)))
}

/// Checks who may submit `tx`: chain, body rules, registered signer, signature, role.
fn authenticate<V: StateView>(
    state: &TxState<'_, V>,
    ctx: &Context<'_>,
    tx: &SignedTx,
    id: &TxId,
) -> Result<Result<Arc<Participant>, Rejection>, StateError> {
    let inner = &tx.tx;
    if &inner.chain_id != ctx.chain_id {
        return Ok(Err(Rejection::new(
            RejectReason::WrongChain,
            format!(
                "transaction is for chain {}, this federation is {}",
                inner.chain_id, ctx.chain_id
            ),
        )));
    }
    if let Err(r) = inner.body.validate() {
        return Ok(Err(r));
    }
    let Some(record) = state.get_raw(&keys::participant(&inner.signer))? else {
        return Ok(Err(Rejection::new(
            RejectReason::UnknownSigner,
            format!("signer {} is not a registered participant", inner.signer),
        )));
    };
    let signer = ctx
        .verified
        .participant(&record)
        .map_err(|e| StateError(format!("stored record of {}: {e}", inner.signer)))?;
    if let Err(r) = ctx.verified.check(tx, id, &signer.public_key) {
        return Ok(Err(r));
    }
    let allowed = inner.body.allowed_roles();
    if !signer.roles.iter().any(|r| allowed.contains(r)) {
        return Ok(Err(Rejection::new(
            RejectReason::MissingRole,
            format!(
                "{} has roles {:?}; this transaction needs one of {:?}",
                inner.signer, signer.roles, allowed
            ),
        )));
    }
    Ok(Ok(signer))
}

/// The body's effect, once the signer is authenticated and the nonce is fresh.
fn apply<V: StateView>(
    state: &mut TxState<'_, V>,
    ctx: &Context<'_>,
    tx: &SignedTx,
    id: TxId,
    signer: &Participant,
) -> Result<Result<(), Rejection>, StateError> {
    match &tx.tx.body {
        Body::RegisterParticipant {
            id: pid,
            name,
            roles,
            public_key,
        } => {
            let key = keys::participant(pid);
            if state.contains(&key)? {
                return reject(
                    RejectReason::DuplicateParticipant,
                    format!("participant {pid} is already registered"),
                );
            }
            state.put(
                key,
                &Participant {
                    name: name.clone(),
                    roles: roles.clone(),
                    public_key: *public_key,
                    registered_at: ctx.height,
                    registered_by_tx: Some(id),
                    agency: false,
                },
            );
            Ok(Ok(()))
        }
        Body::AnchorRecord { .. } => Ok(Ok(())),
        Body::ProposeChange { .. }
        | Body::ApproveChange { .. }
        | Body::ReportEquivocation { .. } => super::governance::apply(state, ctx, tx, id),
        _ => super::trade::apply(state, ctx, tx, id, signer),
    }
}

/// Executes one transaction into the block's overlay and returns its outcome. A rejection whose
/// reason excludes it from blocks is returned as such; the caller decides whether that refuses
/// the transaction (admission) or the whole block (execution).
pub fn execute_tx<V: StateView>(
    view: &V,
    block: &mut Overlay,
    ctx: &Context<'_>,
    tx: &SignedTx,
    id: TxId,
) -> Result<Outcome, StateError> {
    let mut state = TxState::new(view, block);
    let signer = match authenticate(&state, ctx, tx, &id)? {
        Ok(signer) => signer,
        Err(rejection) => return Ok(Outcome::Rejected { rejection }),
    };
    // Every transaction a block carries marks its signer's nonce with its id, whatever its
    // outcome, in the same write as the block. The id covers the signer and the nonce, so the
    // marker alone tells an exact replay, which no block may carry, from another transaction
    // reusing the nonce, and a fresh nonce proves the transaction is new.
    let nonce_key = keys::nonce(&tx.tx.signer, tx.tx.nonce);
    let used_by = state.get_raw(&nonce_key)?;
    if used_by.as_deref() == Some(id.0.as_bytes().as_slice()) {
        return Ok(Outcome::Rejected {
            rejection: Rejection::new(
                RejectReason::Replayed,
                format!("transaction {id} is already committed"),
            ),
        });
    }
    let nonce_used = used_by.is_some();
    let outcome = if nonce_used {
        Outcome::Rejected {
            rejection: Rejection::new(
                RejectReason::NonceUsed,
                format!("{} already used nonce {}", tx.tx.signer, tx.tx.nonce.0),
            ),
        }
    } else {
        match apply(&mut state, ctx, tx, id, &signer)? {
            Ok(()) => Outcome::Accepted,
            Err(rejection) => Outcome::Rejected { rejection },
        }
    };
    // An ordered transaction uses its id and nonce whatever its outcome; a rejected one leaves
    // no other write.
    let mut writes = match outcome {
        Outcome::Accepted => state.finish(),
        Outcome::Rejected { .. } => Default::default(),
    };
    writes.insert(nonce_key, Some(id.0.as_bytes().to_vec()));
    let excluded = matches!(&outcome, Outcome::Rejected { rejection } if rejection.reason.excludes_from_block());
    if !excluded {
        block.merge(writes);
    }
    Ok(outcome)
}

/// Admission: would `tx` be accepted on top of committed state now? Nothing is written.
pub fn admit<V: StateView>(
    view: &V,
    ctx: &Context<'_>,
    tx: &SignedTx,
) -> Result<Result<(), Rejection>, StateError> {
    admit_with_id(view, ctx, tx, tx.id())
}

/// [`admit`] with the transaction's id already computed.
pub fn admit_with_id<V: StateView>(
    view: &V,
    ctx: &Context<'_>,
    tx: &SignedTx,
    id: TxId,
) -> Result<Result<(), Rejection>, StateError> {
    let mut scratch = Overlay::default();
    match execute_tx(view, &mut scratch, ctx, tx, id)? {
        Outcome::Accepted => Ok(Ok(())),
        Outcome::Rejected { rejection } => Ok(Err(rejection)),
    }
}
