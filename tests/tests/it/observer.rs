//! Observer nodes: started from zero after 10,000 blocks, an observer fetches every certified
//! block, re-executes it and catches up; its headers (state root included) equal the
//! validator's at every height. It serves reads and refuses writes, and a participant without
//! the observer role may not read whole blocks.

use std::time::{Duration, Instant};

use caravan_sdk::api::TxStatus;
use caravan_sdk::client::ClientError;
use caravan_sdk::genesis::Params;
use caravan_sdk::ids::Height;

use crate::support::{TestNet, agency_client, launcher, record, register_exporter};

/// Blocks committed before the observer starts.
const BLOCKS: u64 = 10_000;

#[test]
fn an_observer_started_after_10000_blocks_catches_up_and_agrees_at_every_height() {
    // One validator and one transaction per block: the quickest way to many real blocks.
    let guard = crate::support::one_at_a_time();
    let dir = tempfile::tempdir().expect("tempdir");
    let params = Params {
        block_max_transactions: 1,
        ..Params::default()
    };
    let mut fed =
        caravan_testnet::federation::Federation::create_with(dir.path(), 1, params, launcher())
            .expect("federation");
    fed.start(0).expect("start");
    fed.wait_healthy(0, Duration::from_secs(60))
        .expect("healthy");
    let mut net = TestNet::new(fed, dir, guard);
    let exporter = register_exporter(&net, 0, "CN-EXPORTER-OBSERVED");
    let txs: Vec<_> = (1..BLOCKS).map(|n| record(&net, &exporter, n)).collect();
    for chunk in txs.chunks(1000) {
        let answer = net
            .fed
            .client(0)
            .submit_batch(chunk, false)
            .expect("submit");
        assert_eq!(answer.results.len(), chunk.len());
    }
    let last = txs.last().expect("txs").id();
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        if let Ok(TxStatus::Committed { .. }) = net.fed.client(0).tx_status(&last) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the records did not commit in time"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let tip = net.fed.client(0).health().expect("health").height;
    assert!(tip.0 >= BLOCKS, "only {tip} blocks");

    // The observer starts from zero and catches up from the genesis alone.
    let obs = net.fed.add_observer(0).expect("observer");
    let started = Instant::now();
    net.fed.start(obs).expect("start observer");
    net.fed
        .wait_height(obs, tip, Duration::from_secs(600))
        .expect("observer caught up");
    let took = started.elapsed();
    eprintln!(
        "observer caught up {} blocks in {:.1} s ({:.0} blocks/s)",
        tip.0,
        took.as_secs_f64(),
        tip.0 as f64 / took.as_secs_f64()
    );
    let health = net.fed.client(obs).health().expect("observer health");
    assert_eq!(health.role, "observer");

    // Its header equals the validator's at every height: same transactions, log and state.
    let validator = agency_client(&net, 0);
    let observer = agency_client(&net, obs);
    for h in 1..=tip.0 {
        let a = validator.block(Height(h)).expect("validator block");
        let b = observer.block(Height(h)).expect("observer block");
        assert_eq!(a.block.header, b.block.header, "height {h}");
        assert_eq!(a.certificate, b.certificate, "height {h}");
    }

    // It keeps following: a new record reaches it.
    let more = record(&net, &exporter, BLOCKS + 1);
    net.fed.client(0).submit(&more, true).expect("submit");
    crate::support::wait_committed(&net.fed.client(obs), &[more.id()], Duration::from_secs(30));

    // It accepts no transaction.
    let refused = net
        .fed
        .client(obs)
        .submit(&record(&net, &exporter, BLOCKS + 2), false)
        .expect_err("observer refuses");
    assert!(
        matches!(&refused, ClientError::Api { status: 403, api, .. } if api.error == "observer"),
        "{refused:?}"
    );
    // A participant without the observer role may not read whole blocks.
    let exporter_client = net
        .fed
        .client(0)
        .signing_as(exporter.id.clone(), exporter.key.clone());
    let denied = exporter_client
        .sync_blocks(Height(1), 1)
        .expect_err("an enterprise may not follow");
    assert!(
        matches!(&denied, ClientError::Api { status: 403, .. }),
        "{denied:?}"
    );
    net.fed.stop_all().expect("stop");
}
