//! Relays admitted transactions to the other validators, so that whichever agency proposes next
//! can include a transaction submitted at any node. Best effort and batched: a peer that is down
//! misses the relay, and the transaction still commits through the nodes that have it.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Most transactions in one relay request.
const MAX_BATCH: usize = 512;

/// Relay bodies waiting for one peer; a peer that falls this far behind misses batches.
const PEER_QUEUE: usize = 64;

/// Runs the relay loop until the node stops (the sender is dropped): batches what arrives and
/// hands each batch to one sender thread per peer, so that a slow or absent peer delays nobody.
/// The peers are re-read before each batch: agencies join and leave.
pub fn run(rx: Receiver<Vec<u8>>, peers: Arc<RwLock<Vec<String>>>) {
    let mut senders: HashMap<String, SyncSender<Arc<Vec<u8>>>> = HashMap::new();
    loop {
        let wanted = peers.read().map(|p| p.clone()).unwrap_or_default();
        // A dropped sender ends its peer's thread.
        senders.retain(|peer, _| wanted.contains(peer));
        for peer in wanted {
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
        for sender in senders.values() {
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
