//! The application side of consensus: proposes blocks from the mempool, checks other proposers'
//! blocks by re-executing them, persists decided blocks with their certificate before
//! acknowledging, and serves and applies value sync for nodes that fall behind.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use malachite::app::engine::host::{Next, SyncedValueOutcome};
use malachite::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachite::app::types::core::{
    CommitCertificate as McCertificate, ExtendedCommitCertificate, ExtendedCommitSignature,
    HeightParams, LinearTimeouts, Round, Validity,
};
use malachite::app::types::sync::RawDecidedValue;
use malachite::app::types::{LocallyProposedValue, MisbehaviorEvidence, PeerId, ProposedValue};
use malachite::{AppMsg, Channels, NetworkMsg, NetworkRequest};
use tracing::{debug, error, info, warn};

use caravan_sdk::block::{
    Block, CommitCertificate, CommitSignature, ValidatorSet as SdkValidatorSet,
};
use caravan_sdk::codec::{self, MAX_BLOCK_BYTES};
use caravan_sdk::genesis::MemberCard;
use caravan_sdk::ids::{BlockId, Height};

use super::signing::{ValidatorSigner, proposal_signing_digest};
use super::types::{
    Address, CaravanContext, ConsensusHeight, ProposalPart, ValidatorSet, Value, ValueId,
};
use crate::execution::{BlockEffects, build_block, verify_block};
use crate::node::{Shared, now_ms};
use crate::relay::Proposers;

/// A block seen for the current height: proposed by us, received, or synced.
struct Undecided {
    block: Block,
    effects: BlockEffects,
    /// The signed part it arrived in; none for a block received through value sync, which
    /// cannot be re-streamed under its proposer's signature.
    part: Option<ProposalPart>,
}

/// A proposal stream being reassembled.
#[derive(Default)]
struct PartialStream {
    part: Option<ProposalPart>,
    fin: bool,
}

/// The consensus application's state.
pub struct App {
    shared: Arc<Shared>,
    signer: Option<ValidatorSigner>,
    address: Address,
    /// The set that certifies the current height, in the sdk's form and the engine's.
    validators: SdkValidatorSet,
    validator_set: ValidatorSet,
    /// The peers this node keeps connections to: every agency's node, and a validator's that
    /// left but still certifies blocks until its set is replaced.
    peers: Vec<MemberCard>,
    timeouts: LinearTimeouts,
    height: ConsensusHeight,
    round: Round,
    undecided: HashMap<BlockId, Undecided>,
    built: HashMap<(u64, Round), BlockId>,
    streams: HashMap<(PeerId, StreamId), PartialStream>,
    future_parts: Vec<ProposalPart>,
    reporter: Option<Reporter>,
}

/// Who puts the equivocations this node's engine observes on the ledger: its agency, signing
/// with its admin key.
pub struct Reporter {
    /// The agency, as a participant.
    pub agency: caravan_sdk::ids::ParticipantId,
    /// Its admin key.
    pub key: caravan_sdk::keys::Keypair,
}

/// The engine's evidence in the sdk's form, which anyone can check with the validator's key.
pub fn equivocations(
    evidence: &MisbehaviorEvidence<CaravanContext>,
) -> Vec<caravan_sdk::evidence::Equivocation> {
    use caravan_sdk::evidence::{Equivocation, SignedProposal, SignedVote};
    use malachite_core_types::{NilOrVal, VoteType};
    let vote = |v: &malachite_core_types::SignedVote<CaravanContext>| SignedVote {
        kind: match v.message.vote_type {
            VoteType::Prevote => caravan_sdk::block::VoteKind::Prevote,
            VoteType::Precommit => caravan_sdk::block::VoteKind::Precommit,
        },
        height: Height(v.message.height.0),
        round: v.message.round.as_i64(),
        block: match &v.message.value {
            NilOrVal::Nil => None,
            NilOrVal::Val(id) => Some(id.0),
        },
        signature: v.signature.0,
    };
    let proposal = |p: &malachite_core_types::SignedProposal<CaravanContext>| SignedProposal {
        height: Height(p.message.height.0),
        round: p.message.round.as_i64(),
        block: p.message.value.id,
        pol_round: p.message.pol_round.as_i64(),
        signature: p.signature.0,
    };
    let mut out = Vec::new();
    for (address, pairs) in evidence.votes.iter() {
        for (first, second) in pairs {
            out.push(Equivocation::Votes {
                validator: address.0,
                first: vote(first),
                second: vote(second),
            });
        }
    }
    for (address, pairs) in evidence.proposals.iter() {
        for (first, second) in pairs {
            out.push(Equivocation::Proposals {
                validator: address.0,
                first: proposal(first),
                second: proposal(second),
            });
        }
    }
    out
}

/// Most proposal parts held for heights we have not reached.
const MAX_FUTURE_PARTS: usize = 64;
/// Most concurrent proposal streams being reassembled.
const MAX_STREAMS: usize = 256;
/// How long a proposer waits for more transactions once its pool has some, unless it has
/// [`LINGER_ENOUGH`] already, or a full block (finality at low load pays this once per block).
const LINGER: Duration = Duration::from_millis(50);
/// Pending transactions for which a proposer does not linger.
pub(crate) const LINGER_ENOUGH: usize = 1024;

impl App {
    /// Reports the equivocations the engine observes through `reporter`.
    pub fn with_reporter(mut self, reporter: Option<Reporter>) -> Self {
        self.reporter = reporter;
        self
    }

    /// Puts each observed equivocation on the ledger, as a transaction of this node's agency
    /// admitted here and relayed like any other. Another agency's report of the same one is
    /// refused by execution as already recorded.
    fn report(&self, evidence: &MisbehaviorEvidence<CaravanContext>) {
        if evidence.is_empty() {
            return;
        }
        for equivocation in equivocations(evidence) {
            let (height, round) = equivocation.slot();
            warn!(
                validator = %equivocation.validator(),
                %height,
                round,
                step = equivocation.step(),
                "a validator equivocated"
            );
            let Some(reporter) = &self.reporter else {
                warn!("no admin key: the equivocation is not reported to the ledger");
                continue;
            };
            let evidence_hash = caravan_sdk::hash::hash(
                caravan_sdk::hash::Domain::Content,
                &codec::encode(&equivocation),
            );
            // Nonces with the top bit set are this node's own, and one per piece of evidence:
            // a report made twice is refused as a replay.
            let mut nonce = [0u8; 8];
            nonce.copy_from_slice(&evidence_hash.0[..8]);
            let tx = caravan_sdk::tx::UnsignedTx {
                chain_id: self.shared.chain_id,
                signer: reporter.agency.clone(),
                nonce: caravan_sdk::ids::Nonce(u64::from_be_bytes(nonce) | 1 << 63),
                body: caravan_sdk::tx::Body::ReportEquivocation {
                    evidence: Box::new(equivocation),
                },
            }
            .sign(&reporter.key);
            let size = codec::encode(&tx).len();
            match self.shared.admit(tx, size) {
                Ok(id) => info!(tx = %id, "equivocation reported"),
                Err(e) => debug!(error = ?e, "equivocation report not admitted"),
            }
        }
    }

    /// A new application over `shared`.
    pub fn new(
        shared: Arc<Shared>,
        signer: Option<ValidatorSigner>,
        address: Address,
        peers: Vec<MemberCard>,
    ) -> anyhow::Result<Self> {
        let validators = shared.store.reader()?.validators()?;
        let validator_set = ValidatorSet::from(&validators);
        let timeouts = LinearTimeouts {
            propose: Duration::from_millis(2000),
            propose_delta: Duration::from_millis(500),
            prevote: Duration::from_millis(1000),
            prevote_delta: Duration::from_millis(500),
            precommit: Duration::from_millis(1000),
            precommit_delta: Duration::from_millis(500),
            rebroadcast: Duration::from_millis(4000),
            max_timeout: Duration::from_secs(30),
        };
        Ok(App {
            shared,
            signer,
            address,
            validators,
            validator_set,
            peers,
            timeouts,
            height: ConsensusHeight(0),
            round: Round::Nil,
            undecided: HashMap::new(),
            built: HashMap::new(),
            streams: HashMap::new(),
            future_parts: Vec::new(),
            reporter: None,
        })
    }

    /// The parameters of the height after the committed tip: its validator set comes from the
    /// committed state, so every node derives the same set for every height, also when it
    /// replays history through value sync.
    fn params(&mut self) -> anyhow::Result<HeightParams<CaravanContext>> {
        let validators = self.shared.store.reader()?.validators()?;
        if validators != self.validators {
            info!(
                height = %self.height,
                validators = validators.validators.len(),
                set = %validators.hash(),
                "validator set changes"
            );
            self.validator_set = ValidatorSet::from(&validators);
            self.validators = validators.clone();
            self.shared.set_validators(validators);
        }
        Ok(HeightParams::new(
            self.validator_set.clone(),
            self.timeouts,
            None,
        ))
    }

    /// Runs until consensus stops.
    pub async fn run(mut self, mut channels: Channels<CaravanContext>) -> anyhow::Result<()> {
        while let Some(msg) = channels.consensus.recv().await {
            if let Err(e) = self.handle(msg, &mut channels).await {
                // A storage failure leaves the node unable to explain its state: stop rather
                // than serve or vote on wrong data.
                error!(error = %e, "consensus application failed; stopping");
                return Err(e);
            }
        }
        anyhow::bail!("consensus stopped")
    }

    async fn handle(
        &mut self,
        msg: AppMsg<CaravanContext>,
        channels: &mut Channels<CaravanContext>,
    ) -> anyhow::Result<()> {
        match msg {
            AppMsg::ConsensusReady { reply } => {
                let tip = self.shared.store.tip()?;
                self.height = ConsensusHeight(tip.height.0 + 1);
                info!(height = %self.height, "consensus ready");
                let params = self.params()?;
                let _ = reply.send((self.height, params));
            }
            AppMsg::StartedRound {
                height,
                round,
                proposer,
                role,
                reply_value,
            } => {
                debug!(%height, %round, %proposer, ?role, "started round");
                if height != self.height {
                    self.undecided.clear();
                    self.built.clear();
                }
                self.height = height;
                self.round = round;
                let parts: Vec<ProposalPart> = std::mem::take(&mut self.future_parts);
                let mut values = Vec::new();
                for part in parts {
                    if part.height == height {
                        if let Some(value) = self.accept_part(part)?
                            && value.round == round
                        {
                            values.push(value);
                        }
                    } else if part.height > height {
                        self.future_parts.push(part);
                    }
                }
                let _ = reply_value.send(values);
            }
            AppMsg::GetValue {
                height,
                round,
                timeout,
                reply,
            } => {
                let value = self.get_value(height, round, timeout).await?;
                let part = self
                    .undecided
                    .get(&value.id)
                    .and_then(|u| u.part.clone())
                    .ok_or_else(|| anyhow::anyhow!("built block vanished"))?;
                let _ = reply.send(LocallyProposedValue::new(height, round, value));
                self.publish(channels, height, round, part).await?;
            }
            AppMsg::ReceivedProposalPart {
                from,
                published_by,
                part,
                reply,
            } => {
                let value = self.received_part(published_by.unwrap_or(from), part)?;
                let _ = reply.send(value);
            }
            AppMsg::Decided {
                certificate, reply, ..
            } => {
                self.commit(&certificate)?;
                let _ = reply.send(());
            }
            AppMsg::Finalized {
                certificate,
                reply,
                evidence,
                ..
            } => {
                self.report(&evidence);
                let committed = self.shared.store.tip()?.height.0;
                let next = if committed >= certificate.height.0 {
                    self.height = ConsensusHeight(committed + 1);
                    self.undecided.clear();
                    self.built.clear();
                    self.update_peers(channels)?;
                    Next::Start(self.height, self.params()?)
                } else {
                    warn!(height = %certificate.height, "decided block was not committed; restarting the height");
                    Next::Restart(certificate.height, self.params()?)
                };
                let _ = reply.send(next);
            }
            AppMsg::GetDecidedValues { range, reply } => {
                let mut values = Vec::new();
                let reader = self.shared.store.reader()?;
                let (start, end) = (range.start().0, range.end().0);
                for height in start..=end.min(start.saturating_add(100)) {
                    let Some((block_bytes, cert_bytes)) = reader.block_bytes(Height(height))?
                    else {
                        break;
                    };
                    let certificate: CommitCertificate =
                        codec::decode(&cert_bytes, MAX_BLOCK_BYTES)?;
                    values.push(RawDecidedValue {
                        value_bytes: Bytes::from(block_bytes),
                        certificate: to_engine_certificate(&certificate),
                    });
                }
                let _ = reply.send(values);
            }
            AppMsg::ProcessSyncedValue {
                height,
                round,
                proposer,
                value_bytes,
                reply,
            } => {
                let outcome = self.synced_value(height, round, proposer, &value_bytes)?;
                let _ = reply.send(outcome);
            }
            AppMsg::GetHistoryMinHeight { reply } => {
                let tip = self.shared.store.tip()?;
                let _ = reply.send(ConsensusHeight(if tip.height.0 == 0 { 0 } else { 1 }));
            }
            AppMsg::RestreamProposal {
                height,
                round,
                value_id,
                ..
            } => {
                if let Some(part) = self.undecided.get(&value_id.0).and_then(|u| u.part.clone()) {
                    self.publish(channels, height, round, part).await?;
                }
            }
            AppMsg::ExtendVote { reply, .. } => {
                let _ = reply.send(None);
            }
            AppMsg::VerifyVoteExtensions {
                extensions, reply, ..
            } => {
                let _ = reply.send(
                    extensions
                        .into_iter()
                        .map(|(address, _)| (address, Ok(())))
                        .collect(),
                );
            }
        }
        Ok(())
    }

    async fn get_value(
        &mut self,
        height: ConsensusHeight,
        round: Round,
        timeout: Duration,
    ) -> anyhow::Result<Value> {
        if let Some(id) = self.built.get(&(height.0, round))
            && let Some(u) = self.undecided.get(id)
        {
            return Ok(Value::new(u.block.header.clone()));
        }
        // Wait briefly for transactions so that an idle federation does not churn out empty
        // blocks, but propose well within the round's timeout.
        let wait = (timeout / 2).min(Duration::from_millis(1500));
        let deadline = tokio::time::Instant::now() + wait;
        // Once there is something to propose, linger a little for more while the pool is far
        // from a full block: under a moderate load each block then carries several times more
        // transactions, and the costs paid per block (a consensus round, a durable write that
        // touches a page per scattered entry) are shared among them.
        let mut linger_until = None;
        // No lingering once the pool holds a full block. (The parameters change only when a
        // block commits, which this loop does after proposing.)
        let params = self.shared.store.reader()?.params()?;
        let enough = LINGER_ENOUGH.min(params.block_max_transactions as usize);
        loop {
            let notified = self.shared.mempool_notify.notified();
            let pending = self
                .shared
                .mempool
                .lock()
                .map_err(|_| anyhow::anyhow!("mempool lock poisoned"))?
                .len();
            if pending >= enough {
                break;
            }
            let until = if pending == 0 {
                deadline
            } else {
                *linger_until
                    .get_or_insert_with(|| (tokio::time::Instant::now() + LINGER).min(deadline))
            };
            if tokio::time::timeout_at(until, notified).await.is_err() {
                break;
            }
        }
        let tip = self.shared.store.tip()?;
        let reader = self.shared.store.reader()?;
        let candidates = self
            .shared
            .mempool
            .lock()
            .map_err(|_| anyhow::anyhow!("mempool lock poisoned"))?
            .take(
                params.block_max_transactions as usize,
                params.block_max_bytes as usize,
            );
        // Transactions that can no longer be in a block (e.g. committed through another node
        // meanwhile) are left out and dropped from the pool; those that will be ordered with a
        // rejected receipt stay, so that their submitters learn why.
        let time_ms = now_ms().max(tip.time_ms);
        let built = build_block(
            &reader,
            &self.shared.chain_id,
            &tip,
            time_ms,
            self.address.0,
            candidates,
            &self.shared.verified,
        )?;
        if !built.dropped.is_empty() {
            debug!(
                count = built.dropped.len(),
                "dropping stale pending transactions"
            );
            let ids: Vec<_> = built.dropped.iter().map(|tx| tx.id()).collect();
            self.shared
                .mempool
                .lock()
                .map_err(|_| anyhow::anyhow!("mempool lock poisoned"))?
                .remove(ids.iter());
        }
        let (block, effects) = (built.block, built.effects);
        let id = block.id();
        let signer = self
            .signer
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("asked to propose without a validator key"))?;
        let signature = signer.sign_digest(&proposal_signing_digest(
            &self.shared.chain_id,
            height.0,
            round,
            &id,
            Round::Nil,
        ));
        let part = ProposalPart {
            height,
            round,
            proposer: self.address,
            block: codec::encode(&block),
            signature,
        };
        info!(%height, %round, txs = block.transactions.len(), block = %id, "proposing");
        let value = Value::new(block.header.clone());
        self.undecided.insert(
            id,
            Undecided {
                block,
                effects,
                part: Some(part),
            },
        );
        self.built.insert((height.0, round), id);
        Ok(value)
    }

    async fn publish(
        &self,
        channels: &mut Channels<CaravanContext>,
        height: ConsensusHeight,
        round: Round,
        part: ProposalPart,
    ) -> anyhow::Result<()> {
        let mut id = Vec::with_capacity(12);
        id.extend_from_slice(&height.0.to_be_bytes());
        id.extend_from_slice(&round.as_i64().to_be_bytes()[4..]);
        let stream_id = StreamId::new(Bytes::from(id));
        channels
            .network
            .send(NetworkMsg::PublishProposalPart(StreamMessage::new(
                stream_id.clone(),
                0,
                StreamContent::Data(part),
            )))
            .await?;
        channels
            .network
            .send(NetworkMsg::PublishProposalPart(StreamMessage::new(
                stream_id,
                1,
                StreamContent::Fin,
            )))
            .await?;
        Ok(())
    }

    fn received_part(
        &mut self,
        publisher: PeerId,
        msg: StreamMessage<ProposalPart>,
    ) -> anyhow::Result<Option<ProposedValue<CaravanContext>>> {
        let key = (publisher, msg.stream_id.clone());
        if !self.streams.contains_key(&key) && self.streams.len() >= MAX_STREAMS {
            warn!("too many proposal streams in flight; dropping the oldest");
            self.streams.clear();
        }
        let stream = self.streams.entry(key.clone()).or_default();
        match msg.content {
            StreamContent::Data(part) => stream.part = Some(part),
            StreamContent::Fin => stream.fin = true,
        }
        if !(stream.fin && stream.part.is_some()) {
            return Ok(None);
        }
        let Some(part) = self.streams.remove(&key).and_then(|s| s.part) else {
            return Ok(None);
        };
        if part.height < self.height {
            return Ok(None);
        }
        if part.height > self.height {
            if self.future_parts.len() < MAX_FUTURE_PARTS {
                self.future_parts.push(part);
            }
            return Ok(None);
        }
        self.accept_part(part)
    }

    /// Checks a complete proposal part for the current height and records the block.
    fn accept_part(
        &mut self,
        part: ProposalPart,
    ) -> anyhow::Result<Option<ProposedValue<CaravanContext>>> {
        let Some(proposer_key) = self.validators.get(&part.proposer.0).map(|v| v.public_key) else {
            warn!(proposer = %part.proposer, "proposal part from a non-validator ignored");
            return Ok(None);
        };
        let block: Block = match codec::decode(&part.block, MAX_BLOCK_BYTES) {
            Ok(b) => b,
            Err(e) => {
                warn!(proposer = %part.proposer, error = %e, "undecodable proposed block ignored");
                return Ok(None);
            }
        };
        if block.header.proposer != part.proposer.0 {
            warn!(proposer = %part.proposer, "proposal part whose block names another proposer ignored");
            return Ok(None);
        }
        let id = block.id();
        let (height, round, proposer) = (part.height, part.round, part.proposer);
        let digest = proposal_signing_digest(
            &self.shared.chain_id,
            part.height.0,
            part.round,
            &id,
            Round::Nil,
        );
        if proposer_key.verify(&digest, &part.signature.0).is_err() {
            warn!(proposer = %part.proposer, "proposal part with a bad signature ignored");
            return Ok(None);
        }
        // The round's proposer has built its block: the relay sends on to the next ones. (Only
        // the round's own proposer counts, so that another validator's signed part cannot turn
        // the relay away from the next proposer.)
        if !self.validator_set.validators.is_empty()
            && self.validator_set.proposer(height, round).address == proposer
        {
            self.shared
                .proposed
                .fetch_max(height.0, std::sync::atomic::Ordering::Relaxed);
        }
        let validity = if self.undecided.contains_key(&id) {
            Validity::Valid
        } else {
            let tip = self.shared.store.tip()?;
            let reader = self.shared.store.reader()?;
            match verify_block(
                &reader,
                &self.shared.chain_id,
                &tip,
                &block,
                now_ms(),
                &self.shared.verified,
            ) {
                Ok(effects) => {
                    self.undecided.insert(
                        id,
                        Undecided {
                            block,
                            effects,
                            part: Some(part),
                        },
                    );
                    Validity::Valid
                }
                Err(e) => {
                    warn!(proposer = %proposer, error = %e, "invalid proposed block");
                    return Ok(Some(ProposedValue {
                        height,
                        round,
                        valid_round: Round::Nil,
                        proposer,
                        value: Value::new(block.header),
                        validity: Validity::Invalid,
                    }));
                }
            }
        };
        let header = self
            .undecided
            .get(&id)
            .map(|u| u.block.header.clone())
            .ok_or_else(|| anyhow::anyhow!("accepted block vanished"))?;
        Ok(Some(ProposedValue {
            height,
            round,
            valid_round: Round::Nil,
            proposer,
            value: Value::new(header),
            validity,
        }))
    }

    fn synced_value(
        &mut self,
        height: ConsensusHeight,
        round: Round,
        proposer: Address,
        bytes: &[u8],
    ) -> anyhow::Result<SyncedValueOutcome<CaravanContext>> {
        let block: Block = match codec::decode(bytes, MAX_BLOCK_BYTES) {
            Ok(b) => b,
            Err(e) => {
                warn!(%height, error = %e, "undecodable synced block");
                return Ok(SyncedValueOutcome::PeerFault);
            }
        };
        let id = block.id();
        let tip = self.shared.store.tip()?;
        let reader = self.shared.store.reader()?;
        let validity = match verify_block(
            &reader,
            &self.shared.chain_id,
            &tip,
            &block,
            u64::MAX / 2,
            &self.shared.verified,
        ) {
            Ok(effects) => {
                let header = block.header.clone();
                self.undecided.insert(
                    id,
                    Undecided {
                        block,
                        effects,
                        part: None,
                    },
                );
                return Ok(SyncedValueOutcome::Verdict(ProposedValue {
                    height,
                    round,
                    valid_round: Round::Nil,
                    proposer,
                    value: Value::new(header),
                    validity: Validity::Valid,
                }));
            }
            Err(e) => {
                warn!(%height, error = %e, "synced block fails re-execution");
                Validity::Invalid
            }
        };
        Ok(SyncedValueOutcome::Verdict(ProposedValue {
            height,
            round,
            valid_round: Round::Nil,
            proposer,
            value: Value::new(block.header),
            validity,
        }))
    }

    /// Persists a decided block with its certificate, then releases its transactions.
    fn commit(&mut self, certificate: &McCertificate<CaravanContext>) -> anyhow::Result<()> {
        let id = certificate.value_id.0;
        let tip = self.shared.store.tip()?;
        if certificate.height.0 <= tip.height.0 {
            return Ok(());
        }
        let Some(undecided) = self.undecided.remove(&id) else {
            error!(height = %certificate.height, block = %id, "decided a block this node does not hold");
            return Ok(());
        };
        let sdk_certificate = from_engine_certificate(certificate);
        sdk_certificate
            .verify(
                &self.shared.chain_id,
                Height(certificate.height.0),
                &id,
                &self.validators,
            )
            .map_err(|e| {
                anyhow::anyhow!("engine produced a certificate that does not verify: {e}")
            })?;
        // The block's canonical encoding as proposed (a decoded part re-encodes to its bytes),
        // or made now for a block that came without one.
        let encoded = match &undecided.part {
            Some(part) => std::borrow::Cow::Borrowed(part.block.as_slice()),
            None => std::borrow::Cow::Owned(codec::encode(&undecided.block)),
        };
        self.shared.store.commit_block_with(
            &undecided.block,
            &encoded,
            &sdk_certificate,
            &undecided.effects,
            true,
        )?;
        let ids = &undecided.effects.tx_ids;
        self.shared
            .mempool
            .lock()
            .map_err(|_| anyhow::anyhow!("mempool lock poisoned"))?
            .remove(ids.iter());
        self.shared.committed(&undecided.block, &undecided.effects);
        info!(
            height = %certificate.height,
            round = %certificate.round,
            block = %id,
            txs = ids.len(),
            signatures = certificate.commit_signatures.len(),
            state_writes = undecided.effects.writes.len(),
            tree_nodes = undecided.effects.tree_nodes.len(),
            log_nodes = undecided.effects.log_nodes.len(),
            "committed"
        );
        Ok(())
    }
}

impl App {
    /// Keeps the peer connections in line with the committed membership: a newly admitted
    /// agency's node is connected at once (so that it can catch up before its set takes over), a
    /// departed one once it no longer certifies blocks.
    fn update_peers(&mut self, channels: &Channels<CaravanContext>) -> anyhow::Result<()> {
        let reader = self.shared.store.reader()?;
        let members = reader.members()?;
        let validators = reader.validators()?;
        let own = self.shared.agency.clone();
        let mut wanted: Vec<MemberCard> = members.into_iter().filter(|c| c.agency != own).collect();
        for card in &self.peers {
            let still_validates = validators
                .validators
                .iter()
                .any(|v| v.agency == card.agency);
            if still_validates && !wanted.iter().any(|c| c.agency == card.agency) {
                wanted.push(card.clone());
            }
        }
        wanted.sort_by(|a, b| a.agency.cmp(&b.agency));
        // Peers are told apart by where they listen and the key they prove: a card that changes
        // otherwise (a rotated validator key) keeps its connection.
        let endpoint = |c: &MemberCard| (c.p2p_address.clone(), c.network_key);
        let added: Vec<MemberCard> = wanted
            .iter()
            .filter(|c| !self.peers.iter().any(|p| endpoint(p) == endpoint(c)))
            .cloned()
            .collect();
        let removed: Vec<MemberCard> = self
            .peers
            .iter()
            .filter(|p| !wanted.iter().any(|c| endpoint(p) == endpoint(c)))
            .cloned()
            .collect();
        if added.is_empty() && removed.is_empty() {
            self.shared
                .set_relay_peers(Proposers::new(&validators, &wanted, &own));
            self.peers = wanted;
            return Ok(());
        }
        for (card, add) in added
            .iter()
            .map(|c| (c, true))
            .chain(removed.iter().map(|c| (c, false)))
        {
            let addr = match crate::node::peer_multiaddr(card) {
                Ok(a) => a,
                Err(e) => {
                    warn!(agency = %card.agency, error = %e, "peer address unusable");
                    continue;
                }
            };
            info!(agency = %card.agency, %addr, add, "updating peers");
            let requests = channels.net_requests.clone();
            tokio::spawn(async move {
                let result = if add {
                    NetworkRequest::add_persistent_peer(&requests, addr).await
                } else {
                    NetworkRequest::remove_persistent_peer(&requests, addr).await
                };
                match result {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => warn!(error = ?e, "peer update refused"),
                    Err(e) => warn!(error = %e, "peer update failed"),
                }
            });
        }
        self.shared
            .set_relay_peers(Proposers::new(&validators, &wanted, &own));
        self.peers = wanted;
        Ok(())
    }
}

/// The engine's certificate in the sdk's form.
pub fn from_engine_certificate(certificate: &McCertificate<CaravanContext>) -> CommitCertificate {
    CommitCertificate {
        height: Height(certificate.height.0),
        round: certificate.round.as_u32().unwrap_or(0),
        block_id: certificate.value_id.0,
        signatures: certificate
            .commit_signatures
            .iter()
            .map(|s| CommitSignature {
                validator: s.address.0,
                signature: s.signature.0,
            })
            .collect(),
    }
}

/// The sdk's certificate in the engine's form, for value sync.
pub fn to_engine_certificate(
    certificate: &CommitCertificate,
) -> ExtendedCommitCertificate<CaravanContext> {
    ExtendedCommitCertificate {
        height: ConsensusHeight(certificate.height.0),
        round: Round::new(certificate.round),
        value_id: ValueId(certificate.block_id),
        commit_signatures: certificate
            .signatures
            .iter()
            .map(|s| {
                ExtendedCommitSignature::new(
                    Address(s.validator),
                    super::types::ConsensusSignature(s.signature),
                    None,
                )
            })
            .collect(),
    }
}
