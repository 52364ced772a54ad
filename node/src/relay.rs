//! Relays admitted transactions to the validators that propose the next heights, so that a
//! transaction submitted at any node is in the next block whoever proposes it. Best effort and
//! batched: a peer that is down misses the relay, and the transaction still commits through the
//! nodes that have it, this one included (it proposes in its turn).
//!
//! Proposers take turns by height ([`proposer_index`], round-robin over the validator set's
//! order), so each batch goes to the nodes proposing the [`RELAY_AHEAD`] heights after the last
//! committed one whose proposals this node has not seen yet, not to every validator: each node
//! that receives a batch admits it (decoding, a signature check and the admission's execution
//! per transaction), and the others would only have seen the transactions again in the block,
//! which they execute anyway. A proposer whose block has been seen has built it, and would only
//! hold the transactions until its next turn; so has, most likely, the next proposer while this
//! node's pool holds 1,024 transactions or more (`LINGER_ENOUGH`: proposers do not wait for more
//! transactions then, and pools fill alike under load). When both next heights are left out,
//! the batch goes to the proposer of the height after the last proposal seen. A transaction whose
//! only relay target is down waits for a later proposer that has it: this node, in its turn.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use caravan_sdk::block::ValidatorSet;
use caravan_sdk::genesis::MemberCard;
use caravan_sdk::ids::{AgencyId, Height};
use tokio::sync::watch;

use crate::consensus::types::proposer_index;

/// Heights after the last committed one whose proposers get each batch (those whose proposals
/// have not been seen): under load the next proposer has often built its block when the batch
/// arrives, and the one after it has not.
pub const RELAY_AHEAD: u64 = 2;

/// The validators' nodes in proposing order: where to relay.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Proposers {
    /// Each validator's API base URL, in the set's order; `None` for this node's own agency and
    /// for a validator whose member card is not known.
    order: Vec<Option<String>>,
}

impl Proposers {
    /// The validators of `set` (in its order), with their nodes from `cards`; `own` is this
    /// node's agency.
    pub fn new(set: &ValidatorSet, cards: &[MemberCard], own: &AgencyId) -> Self {
        let order = set
            .validators
            .iter()
            .map(|v| {
                if &v.agency == own {
                    return None;
                }
                cards
                    .iter()
                    .find(|c| c.agency == v.agency)
                    .map(|c| c.api_url.clone())
            })
            .collect();
        Proposers { order }
    }

    /// The nodes proposing (in their first round) the [`RELAY_AHEAD`] heights after
    /// `committed` that are above `proposed`, the highest height whose proposal has been seen;
    /// the height after `proposed` when there are none. When `busy` (this node's pool holds
    /// as many as a proposer waits for, or more), the next height's proposer is taken to be
    /// building its block already: it does not wait for more transactions, so those that reach
    /// it now are not in its block. This one left out, each once.
    pub fn after(&self, committed: Height, proposed: Height, busy: bool) -> Vec<&str> {
        let mut nodes: Vec<&str> = Vec::new();
        if self.order.is_empty() {
            return nodes;
        }
        let mut first = committed.0.max(proposed.0).saturating_add(1);
        if busy {
            first = first.max(committed.0.saturating_add(2));
        }
        let last = committed.0.saturating_add(RELAY_AHEAD).max(first);
        for height in first..=last {
            let index = proposer_index(self.order.len(), height, 0);
            if let Some(url) = &self.order[index]
                && !nodes.contains(&url.as_str())
            {
                nodes.push(url);
            }
        }
        nodes
    }

    /// Every node relayed to in some turn.
    fn all(&self) -> impl Iterator<Item = &String> {
        self.order.iter().flatten()
    }
}

/// Most transactions in one relay request.
const MAX_BATCH: usize = 512;

/// Relay bodies waiting for one peer; a peer that falls this far behind misses batches.
const PEER_QUEUE: usize = 64;

/// Runs the relay loop until the node stops (the sender is dropped): batches what arrives and
/// hands each batch to one sender thread per peer, so that a slow or absent peer delays nobody.
/// The proposers are re-read before each batch (agencies join and leave), and the batch goes to
/// those of the heights after `committed` and `proposed`, told whether this node is `busy`
/// ([`Proposers::after`]).
pub fn run(
    rx: Receiver<Vec<u8>>,
    peers: Arc<RwLock<Proposers>>,
    committed: watch::Receiver<Height>,
    proposed: Arc<AtomicU64>,
    busy: impl Fn() -> bool,
) {
    let mut senders: HashMap<String, SyncSender<Arc<Vec<u8>>>> = HashMap::new();
    loop {
        let proposers = peers.read().map(|p| p.clone()).unwrap_or_default();
        // A dropped sender ends its peer's thread.
        senders.retain(|peer, _| proposers.all().any(|p| p == peer));
        for peer in proposers.all().cloned() {
            senders.entry(peer.clone()).or_insert_with(|| {
                let (tx, rx) = sync_channel::<Arc<Vec<u8>>>(PEER_QUEUE);
                std::thread::spawn(move || send_loop(rx, peer));
                tx
            });
        }
        let first = match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(tx) => tx,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(tx) => batch.push(tx),
                Err(_) => break,
            }
        }
        // The batch travels as a CBOR array of transaction byte strings.
        let body = Arc::new(caravan_sdk::api::encode_batch(
            batch.iter().map(|tx| &tx[..]),
        ));
        let height = *committed.borrow();
        let seen = Height(proposed.load(Ordering::Relaxed));
        for sender in proposers
            .after(height, seen, busy())
            .into_iter()
            .filter_map(|p| senders.get(p))
        {
            if let Err(TrySendError::Full(_)) = sender.try_send(Arc::clone(&body)) {
                tracing::debug!("relay queue of a peer is full; batch skipped for it");
            }
        }
    }
}

fn send_loop(rx: Receiver<Arc<Vec<u8>>>, peer: String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("{peer}/v1/relay");
    while let Ok(body) = rx.recv() {
        if let Err(e) = agent
            .post(&url)
            .header("content-type", "application/cbor")
            .send(&body[..])
        {
            tracing::debug!(%url, error = %e, "relay failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use caravan_sdk::block::Validator;
    use caravan_sdk::keys::Keypair;
    use caravan_sdk::tx::Role;

    fn agency(i: u8) -> AgencyId {
        AgencyId::new(format!("AGENCY-{i}")).expect("id")
    }

    fn card(i: u8) -> MemberCard {
        let key = |k: u8| Keypair::from_seed(&[i * 3 + k; 32]).public();
        MemberCard {
            agency: agency(i),
            name: format!("Agency {i}"),
            country: "KZ".into(),
            roles: vec![Role::Customs],
            validator_key: key(1),
            network_key: key(2),
            admin_key: key(3),
            p2p_address: format!("127.0.0.1:{}", 7000 + u16::from(i)),
            api_url: format!("http://127.0.0.{i}:8080"),
        }
    }

    #[test]
    fn batches_go_to_the_next_proposers_but_this_node() {
        let cards: Vec<MemberCard> = (1..=4).map(card).collect();
        let set = ValidatorSet::new(
            cards
                .iter()
                .map(|c| Validator {
                    agency: c.agency.clone(),
                    public_key: c.validator_key,
                    power: 1,
                })
                .collect(),
        );
        // The set's order (by key) is the proposing order.
        let url = |i: usize| {
            let agency = &set.validators[i % 4].agency;
            cards
                .iter()
                .find(|c| &c.agency == agency)
                .map(|c| c.api_url.as_str())
                .expect("card")
        };
        let own = set.validators[2].agency.clone();
        // This node's own card is among the members, as it is in the store.
        let proposers = Proposers::new(&set, &cards, &own);
        // Committed height 0, no proposal seen: heights 1 and 2 are proposed by the validators
        // at 1 and 2.
        assert_eq!(proposers.after(Height(0), Height(0), false), vec![url(1)]);
        assert_eq!(proposers.after(Height(1), Height(1), false), vec![url(3)]);
        assert_eq!(
            proposers.after(Height(2), Height(2), false),
            vec![url(3), url(0)]
        );
        assert_eq!(
            proposers.after(Height(7), Height(7), false),
            vec![url(0), url(1)]
        );
        // A proposal seen below the committed height changes nothing.
        assert_eq!(
            proposers.after(Height(7), Height(5), false),
            vec![url(0), url(1)]
        );
        // The next height's proposal seen: only the one after it.
        assert_eq!(proposers.after(Height(2), Height(3), false), vec![url(0)]);
        assert_eq!(proposers.after(Height(7), Height(8), false), vec![url(1)]);
        // Proposals are accepted for the height after the last committed one only, so a proposal
        // seen beyond it is not expected; if it were: the height after it, here this node's.
        assert_eq!(proposers.after(Height(6), Height(8), false), vec![url(1)]);
        assert!(proposers.after(Height(7), Height(9), false).is_empty());
        assert_eq!(proposers.after(Height(7), Height(10), false), vec![url(3)]);
        // Busy: the next height's proposer is building; the one after it gets the batch.
        assert_eq!(proposers.after(Height(2), Height(2), true), vec![url(0)]);
        assert_eq!(proposers.after(Height(7), Height(7), true), vec![url(1)]);
        assert_eq!(proposers.after(Height(7), Height(8), true), vec![url(1)]);
        assert!(proposers.after(Height(7), Height(9), true).is_empty());
        assert!(proposers.after(Height(0), Height(0), true).is_empty());
        assert_eq!(proposers.all().count(), 3);
        // A validator without a known card is skipped; two validators: the other one, once.
        let unknown = Proposers::new(&set, &cards[..1], &own);
        let expected: Vec<&str> = [6, 7]
            .iter()
            .map(|h| &set.validators[h % 4].agency)
            .filter(|a| **a == cards[0].agency && **a != own)
            .map(|_| cards[0].api_url.as_str())
            .collect();
        assert_eq!(unknown.after(Height(5), Height(5), false), expected);
        assert_eq!(unknown.all().count(), usize::from(cards[0].agency != own));
        let two = ValidatorSet::new(set.validators[..2].to_vec());
        let own = two.validators[0].agency.clone();
        let proposers = Proposers::new(&two, &cards, &own);
        for h in 0..4 {
            assert_eq!(proposers.after(Height(h), Height(h), false), vec![url(1)]);
            // The other's proposal seen: it gets the batch for the height after only, and
            // none when this node proposes that one.
            let next: Vec<&str> = if h % 2 == 1 { vec![url(1)] } else { vec![] };
            assert_eq!(proposers.after(Height(h), Height(h + 1), false), next);
        }
        // One validator, or none known: nowhere.
        let one = ValidatorSet::new(set.validators[..1].to_vec());
        assert!(
            Proposers::new(&one, &cards, &one.validators[0].agency)
                .after(Height(3), Height(3), false)
                .is_empty()
        );
        assert!(
            Proposers::default()
                .after(Height(3), Height(4), false)
                .is_empty()
        );
    }
}
