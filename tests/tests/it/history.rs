//! The history checker: clients record every submission and every acknowledgement; after the
//! faults heal, the checker asks every node for its whole chain and checks that
//! - all nodes hold identical block ids at every height,
//! - every transaction acknowledged as committed is on every node, at the same position, once,
//! - every transaction submitted but not acknowledged is either committed exactly once or absent,
//! - no transaction appears twice anywhere.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use caravan_sdk::api::TxStatus;
use caravan_sdk::block::Block;
use caravan_sdk::client::Client;
use caravan_sdk::codec;
use caravan_sdk::ids::{BlockId, Height, TxId};
use caravan_sdk::tx::SignedTx;

use crate::support::TestNet;

/// What clients saw, shared between client threads.
#[derive(Clone, Default)]
pub struct History {
    inner: Arc<Mutex<Record>>,
}

#[derive(Default)]
struct Record {
    submitted: Vec<TxId>,
    acknowledged: Vec<TxId>,
}

impl History {
    /// Submits `tx` through `client`, waiting for commit, and records what happened. A refusal
    /// or a transport error (a node down) is recorded as submitted but not acknowledged.
    pub fn submit(&self, client: &Client, tx: &SignedTx) -> bool {
        let id = tx.id();
        self.lock().submitted.push(id);
        match client.submit(tx, true) {
            Ok(TxStatus::Committed { .. }) => {
                self.lock().acknowledged.push(id);
                true
            }
            _ => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Record> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many were submitted and acknowledged.
    pub fn counts(&self) -> (usize, usize) {
        let r = self.lock();
        (r.submitted.len(), r.acknowledged.len())
    }

    /// Checks the history against the chains of `nodes` (all caught up to one tip first).
    /// Returns the number of blocks and transactions checked.
    pub fn check(&self, net: &mut TestNet, nodes: &[usize]) -> (u64, usize) {
        let tip = nodes
            .iter()
            .map(|&i| net.fed.client(i).health().expect("health").height)
            .max()
            .expect("nodes");
        for &i in nodes {
            net.fed
                .wait_height(i, tip, Duration::from_secs(120))
                .expect("every node catches up before the check");
        }
        let chains: Vec<Chain> = nodes.iter().map(|&i| Chain::read(net, i, tip)).collect();
        let reference = &chains[0];
        for (chain, &i) in chains.iter().zip(nodes).skip(1) {
            for h in 0..tip.0 as usize {
                assert_eq!(
                    chain.ids[h],
                    reference.ids[h],
                    "nodes {} and {i} disagree at height {}",
                    nodes[0],
                    h + 1
                );
            }
            assert_eq!(
                chain.positions, reference.positions,
                "node {i}'s transactions differ"
            );
        }
        let record = self.lock();
        for id in &record.acknowledged {
            assert!(
                reference.positions.contains_key(id),
                "transaction {id} was acknowledged as committed but is on no node"
            );
        }
        // Submitted but unacknowledged ones are committed once (counted above) or absent: nothing
        // more to check, but say how many of each.
        let unacknowledged = record.submitted.len() - record.acknowledged.len();
        let committed_anyway = record
            .submitted
            .iter()
            .filter(|id| !record.acknowledged.contains(id) && reference.positions.contains_key(id))
            .count();
        eprintln!(
            "history: {} submitted, {} acknowledged, {unacknowledged} unacknowledged ({committed_anyway} of them committed once, the rest absent); {} blocks identical on {} nodes",
            record.submitted.len(),
            record.acknowledged.len(),
            tip.0,
            nodes.len()
        );
        (tip.0, record.submitted.len())
    }
}

/// One node's chain: block ids by height, and where each transaction is.
struct Chain {
    ids: Vec<BlockId>,
    positions: HashMap<TxId, (Height, usize)>,
}

impl Chain {
    fn read(net: &TestNet, i: usize, tip: Height) -> Chain {
        let client = crate::support::agency_client(net, i);
        let mut ids = Vec::new();
        let mut positions = HashMap::new();
        let mut next = 1;
        while next <= tip.0 {
            let batch = client
                .sync_blocks(Height(next), 256)
                .expect("whole blocks from an agency's node");
            assert!(!batch.is_empty(), "node {i} has no block {next}");
            for (bytes, _) in batch {
                let block: Block =
                    codec::decode(&bytes, codec::MAX_BLOCK_BYTES).expect("stored block");
                assert_eq!(block.header.height, Height(next), "node {i} block order");
                for (index, tx) in block.transactions.iter().enumerate() {
                    let previous = positions.insert(tx.id(), (block.header.height, index));
                    assert!(
                        previous.is_none(),
                        "transaction {} is twice on node {i}: {previous:?} and height {next}",
                        tx.id()
                    );
                }
                ids.push(block.id());
                next += 1;
                if next > tip.0 {
                    break;
                }
            }
        }
        Chain { ids, positions }
    }
}
