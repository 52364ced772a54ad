//! Relays admitted transactions to the other validators, so that whichever agency proposes next
//! can include a transaction submitted at any node. Best effort and batched: a peer that is down
//! misses the relay, and the transaction still commits through the nodes that have it.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

/// Most transactions in one relay request.
const MAX_BATCH: usize = 512;

/// Runs the relay loop until the node stops (the sender is dropped).
pub fn run(rx: Receiver<Vec<u8>>, peers: Vec<String>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(2)))
        .http_status_as_error(false)
        .build()
        .into();
    loop {
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
        let mut body = Vec::new();
        let mut encoder = minicbor::Encoder::new(&mut body);
        let written = encoder
            .array(batch.len() as u64)
            .and_then(|e| batch.iter().try_for_each(|tx| e.bytes(tx).map(|_| ())));
        if written.is_err() {
            continue;
        }
        for peer in &peers {
            let url = format!("{peer}/v1/relay");
            if let Err(e) = agent
                .post(&url)
                .header("content-type", "application/cbor")
                .send(&body[..])
            {
                tracing::debug!(%url, error = %e, "relay failed");
            }
        }
    }
}
