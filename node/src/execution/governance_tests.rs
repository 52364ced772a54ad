//! Governance execution: who may propose and approve, the two-thirds threshold, and a set change
//! reaching the headers exactly at its activation height.

use std::collections::BTreeMap;

use caravan_sdk::codec;
use caravan_sdk::genesis::{Genesis, GenesisContent, MemberCard, Params};
use caravan_sdk::ids::{AgencyId, ChainId, Height, Nonce, ParticipantId, TxId};
use caravan_sdk::keys::Keypair;
use caravan_sdk::tx::{
    Body, Change, Outcome, RejectReason, Role, SignedTx, UnsignedTx, VALIDATOR_CHANGE_DELAY,
};

use super::governance::{Proposal, ProposalStatus, genesis_state, gkeys};
use super::tests::MemState;
use super::*;

struct Fed {
    state: MemState,
    chain: ChainId,
    admins: Vec<Keypair>,
    tip: Tip,
    nonce: u64,
}

fn card(i: u8, name: &str) -> (MemberCard, Keypair, Keypair) {
    let admin = Keypair::from_seed(&[i * 3 + 1; 32]);
    let validator = Keypair::from_seed(&[i * 3 + 2; 32]);
    let card = MemberCard {
        agency: AgencyId::new(name).expect("id"),
        name: name.into(),
        country: "KZ".into(),
        roles: vec![Role::Registry, Role::Customs],
        validator_key: validator.public(),
        network_key: Keypair::from_seed(&[i * 3 + 3; 32]).public(),
        admin_key: admin.public(),
        p2p_address: "127.0.0.1:1".into(),
        api_url: "http://127.0.0.1:2".into(),
    };
    (card, admin, validator)
}

const NAMES: [&str; 5] = ["A-AGENCY", "B-AGENCY", "C-AGENCY", "D-AGENCY", "E-AGENCY"];

fn federation(n: usize) -> Fed {
    let mut cards = Vec::new();
    let mut admins = Vec::new();
    for (i, name) in NAMES.iter().take(n).enumerate() {
        let (c, a, _) = card(i as u8, name);
        cards.push(c);
        admins.push(a);
    }
    let genesis = Genesis::new(GenesisContent {
        chain_name: "governance".into(),
        created: "test".into(),
        agencies: cards,
        params: Params::default(),
    });
    let chain = genesis.chain_id();
    let entries: BTreeMap<_, _> = genesis_state(&genesis).into_iter().collect();
    let state = MemState::new(entries);
    let tip = state.genesis_tip();
    Fed {
        state,
        chain,
        admins,
        tip,
        nonce: 0,
    }
}

impl Fed {
    fn tx(&mut self, i: usize, body: Body) -> SignedTx {
        self.nonce += 1;
        UnsignedTx {
            chain_id: self.chain,
            signer: ParticipantId::new(NAMES[i]).expect("id"),
            nonce: Nonce(self.nonce),
            body,
        }
        .sign(&self.admins[i])
    }

    /// Builds, re-executes and applies one block; returns it with its effects.
    fn block(&mut self, txs: Vec<SignedTx>) -> (caravan_sdk::block::Block, BlockEffects) {
        let set = governance::validators(&self.state).expect("set");
        let proposer = set.validators[0].public_key;
        let built = build_block(
            &self.state,
            &self.chain,
            &self.tip,
            self.tip.time_ms + 1,
            proposer,
            txs,
            &Verified::new(64),
        )
        .expect("build");
        assert!(built.dropped.is_empty(), "dropped {:?}", built.dropped);
        let again = verify_block(
            &self.state,
            &self.chain,
            &self.tip,
            &built.block,
            u64::MAX / 2,
            &Verified::new(64),
        )
        .expect("re-execution agrees");
        assert_eq!(again.tip, built.effects.tip);
        self.state
            .commit(built.effects.writes.clone(), &built.effects.tree_nodes);
        assert_eq!(
            built.block.header.state_root,
            self.state.root_from_scratch()
        );
        self.tip = built.effects.tip.clone();
        (built.block, built.effects)
    }

    fn proposal(&self, id: &TxId) -> Proposal {
        let bytes = self
            .state
            .entries
            .get(&gkeys::proposal(id))
            .expect("proposal");
        codec::decode(bytes, 1 << 20).expect("decode")
    }
}

fn rejection(effects: &BlockEffects, i: usize) -> RejectReason {
    match &effects.receipts[i].outcome {
        Outcome::Rejected { rejection } => rejection.reason,
        Outcome::Accepted => panic!("transaction {i} was accepted"),
    }
}

#[test]
fn two_thirds_of_the_agencies_enact_a_change_that_reaches_headers_at_its_activation() {
    let mut fed = federation(4);
    let (new_card, _, new_validator) = card(4, NAMES[4]);
    let founders = governance::validators(&fed.state).expect("set");
    let propose = fed.tx(
        0,
        Body::ProposeChange {
            change: Box::new(Change::AddAgency {
                card: new_card.clone(),
            }),
        },
    );
    let pid = propose.id();
    let approve_1 = fed.tx(1, Body::ApproveChange { proposal: pid });
    let (_, effects) = fed.block(vec![propose, approve_1]);
    assert!(
        effects
            .receipts
            .iter()
            .all(|r| r.outcome == Outcome::Accepted)
    );
    // Two of four is not two thirds.
    assert_eq!(fed.proposal(&pid).status, ProposalStatus::Pending);
    assert!(effects.new_validators.is_none());

    // Approving twice, or approving an unknown proposal, is refused.
    let again = fed.tx(1, Body::ApproveChange { proposal: pid });
    let unknown = fed.tx(
        2,
        Body::ApproveChange {
            proposal: TxId(caravan_sdk::hash::Digest([9; 32])),
        },
    );
    let (_, effects) = fed.block(vec![again, unknown]);
    assert_eq!(rejection(&effects, 0), RejectReason::Conflict);
    assert_eq!(rejection(&effects, 1), RejectReason::NotFound);

    let approve_2 = fed.tx(2, Body::ApproveChange { proposal: pid });
    let (block, _) = fed.block(vec![approve_2]);
    let enacted = block.header.height;
    let activation = Height(enacted.0 + VALIDATOR_CHANGE_DELAY);
    assert_eq!(
        fed.proposal(&pid).status,
        ProposalStatus::Enacted {
            height: enacted,
            activation: Some(activation)
        }
    );
    // The new agency may sign at once; it validates only from the activation height.
    assert!(
        fed.state
            .entries
            .contains_key(&gkeys::member(&new_card.agency))
    );
    let mut expected = founders.validators.clone();
    expected.push(caravan_sdk::block::Validator {
        agency: new_card.agency.clone(),
        public_key: new_validator.public(),
        power: 1,
    });
    let five = caravan_sdk::block::ValidatorSet::new(expected);
    loop {
        let (block, effects) = fed.block(vec![]);
        let h = block.header.height;
        if h.next() < activation {
            assert_eq!(block.header.validators_hash, founders.hash(), "height {h}");
            assert_eq!(
                block.header.next_validators_hash,
                founders.hash(),
                "height {h}"
            );
            assert!(effects.new_validators.is_none());
        } else if h.next() == activation {
            // The last block of the founders commits to the new set.
            assert_eq!(block.header.validators_hash, founders.hash());
            assert_eq!(block.header.next_validators_hash, five.hash());
            assert_eq!(effects.new_validators.as_ref(), Some(&five));
        } else {
            assert_eq!(block.header.validators_hash, five.hash());
            assert_eq!(block.header.next_validators_hash, five.hash());
            break;
        }
    }
}

#[test]
fn only_agencies_decide_and_the_last_agency_stays() {
    let mut fed = federation(1);
    // A registered participant that is not an agency may not propose.
    let outsider = Keypair::from_seed(&[99; 32]);
    let register = fed.tx(
        0,
        Body::RegisterParticipant {
            id: ParticipantId::new("CN-BANK").expect("id"),
            name: "Bank".into(),
            roles: vec![Role::Bank],
            public_key: outsider.public(),
        },
    );
    fed.block(vec![register]);
    let by_outsider = UnsignedTx {
        chain_id: fed.chain,
        signer: ParticipantId::new("CN-BANK").expect("id"),
        nonce: Nonce(1),
        body: Body::ProposeChange {
            change: Box::new(Change::RemoveAgency {
                agency: AgencyId::new(NAMES[0]).expect("id"),
            }),
        },
    }
    .sign(&outsider);
    // Its role is not an agency role: admission refuses it outright.
    let ctx = Context {
        chain_id: &fed.chain,
        height: fed.tip.height.next(),
        time_ms: 0,
        verified: &Verified::new(8),
    };
    let refused = admit(&fed.state, &ctx, &by_outsider)
        .expect("state")
        .expect_err("refused");
    assert_eq!(refused.reason, RejectReason::MissingRole);
    // A sole agency enacts alone, but cannot remove itself.
    let remove_self = fed.tx(
        0,
        Body::ProposeChange {
            change: Box::new(Change::RemoveAgency {
                agency: AgencyId::new(NAMES[0]).expect("id"),
            }),
        },
    );
    let (_, effects) = fed.block(vec![remove_self]);
    assert_eq!(rejection(&effects, 0), RejectReason::Conflict);
    // A parameter change by the sole agency takes effect at once.
    let params = Params {
        block_max_transactions: 100,
        ..Params::default()
    };
    let set_params = fed.tx(
        0,
        Body::ProposeChange {
            change: Box::new(Change::SetParams {
                params: params.clone(),
            }),
        },
    );
    let (_, effects) = fed.block(vec![set_params]);
    assert_eq!(effects.receipts[0].outcome, Outcome::Accepted);
    assert_eq!(governance::params(&fed.state).expect("params"), params);
    assert!(effects.new_validators.is_none());
    // A rail operator holds a role agencies also hold, but is not an agency: refused on the
    // ledger, with a receipt.
    let rail = Keypair::from_seed(&[98; 32]);
    let register = fed.tx(
        0,
        Body::RegisterParticipant {
            id: ParticipantId::new("KZ-RAIL-OP").expect("id"),
            name: "Rail operator".into(),
            roles: vec![Role::Rail],
            public_key: rail.public(),
        },
    );
    fed.block(vec![register]);
    let by_rail = UnsignedTx {
        chain_id: fed.chain,
        signer: ParticipantId::new("KZ-RAIL-OP").expect("id"),
        nonce: Nonce(1),
        body: Body::ProposeChange {
            change: Box::new(Change::SetParams { params }),
        },
    }
    .sign(&rail);
    let (_, effects) = fed.block(vec![by_rail]);
    assert_eq!(rejection(&effects, 0), RejectReason::NotPermitted);
}

/// Two conflicting prevotes of `validator` at `height`, round `round`.
fn double_vote(
    chain: &ChainId,
    validator: &Keypair,
    height: u64,
    round: i64,
) -> caravan_sdk::evidence::Equivocation {
    use caravan_sdk::block::{VoteKind, vote_digest};
    use caravan_sdk::evidence::{Equivocation, SignedVote};
    use caravan_sdk::hash::Digest;
    let vote = |b: u8| {
        let block = caravan_sdk::ids::BlockId(Digest([b; 32]));
        SignedVote {
            kind: VoteKind::Prevote,
            height: Height(height),
            round,
            block: Some(block),
            signature: validator.sign(&vote_digest(
                chain,
                VoteKind::Prevote,
                Height(height),
                round,
                Some(&block),
            )),
        }
    };
    Equivocation::Votes {
        validator: validator.public(),
        first: vote(1),
        second: vote(2),
    }
}

#[test]
fn equivocation_evidence_is_recorded_once_against_its_agency_and_bounded() {
    use super::governance::{EquivocationRecord, MAX_EQUIVOCATIONS_PER_AGENCY};
    let mut fed = federation(4);
    let (_, _, d_validator) = card(3, NAMES[3]);
    let chain = fed.chain;
    fed.block(vec![]);
    fed.block(vec![]);

    // Agency A reports D's double prevote at height 1: recorded against D.
    let evidence = double_vote(&chain, &d_validator, 1, 0);
    let report = fed.tx(
        0,
        Body::ReportEquivocation {
            evidence: Box::new(evidence.clone()),
        },
    );
    // B reports the same: refused as already recorded. A forged copy, evidence from the
    // future, a key no member votes with, and a non-agency signer are refused too.
    let again = fed.tx(
        1,
        Body::ReportEquivocation {
            evidence: Box::new(evidence.clone()),
        },
    );
    let mut forged = evidence.clone();
    if let caravan_sdk::evidence::Equivocation::Votes { second, .. } = &mut forged {
        second.signature.0[0] ^= 1;
    }
    let forged = fed.tx(
        1,
        Body::ReportEquivocation {
            evidence: Box::new(forged),
        },
    );
    let future = fed.tx(
        1,
        Body::ReportEquivocation {
            evidence: Box::new(double_vote(&chain, &d_validator, 99, 0)),
        },
    );
    let stranger = Keypair::from_seed(&[77; 32]);
    let stranger = fed.tx(
        1,
        Body::ReportEquivocation {
            evidence: Box::new(double_vote(&chain, &stranger, 1, 0)),
        },
    );
    // Evidence that proves nothing is no block's business: the proposer leaves it out.
    let set = governance::validators(&fed.state).expect("set");
    let built = build_block(
        &fed.state,
        &fed.chain,
        &fed.tip,
        fed.tip.time_ms + 1,
        set.validators[0].public_key,
        vec![forged.clone(), future.clone()],
        &Verified::new(64),
    )
    .expect("build");
    assert_eq!(built.dropped, vec![forged, future]);
    let (_, effects) = fed.block(vec![report, again, stranger]);
    assert!(matches!(effects.receipts[0].outcome, Outcome::Accepted));
    assert_eq!(rejection(&effects, 1), RejectReason::Conflict);
    assert_eq!(rejection(&effects, 2), RejectReason::NotFound);
    let d = AgencyId::new(NAMES[3]).expect("id");
    let bytes = fed
        .state
        .entries
        .get(&gkeys::equivocation(&d, 1, 0, "prevote"))
        .expect("recorded");
    let record: EquivocationRecord = codec::decode(bytes, 1 << 20).expect("decode");
    assert_eq!(record.agency, d);
    assert_eq!(record.reported_by, AgencyId::new(NAMES[0]).expect("id"));
    assert_eq!(record.evidence, evidence);

    // Further rounds are recorded up to the bound, then refused.
    let more: Vec<SignedTx> = (1..=MAX_EQUIVOCATIONS_PER_AGENCY as i64)
        .map(|round| {
            fed.tx(
                2,
                Body::ReportEquivocation {
                    evidence: Box::new(double_vote(&chain, &d_validator, 2, round)),
                },
            )
        })
        .collect();
    let (_, effects) = fed.block(more);
    let accepted = effects
        .receipts
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Accepted))
        .count();
    assert_eq!(accepted, MAX_EQUIVOCATIONS_PER_AGENCY - 1);
    assert_eq!(
        rejection(&effects, MAX_EQUIVOCATIONS_PER_AGENCY - 1),
        RejectReason::Conflict
    );
}
