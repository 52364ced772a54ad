//! Four validators, one crashes (kill -9) while records are being submitted: the other three
//! keep committing; the killed node restarts from its files, catches up to the same chain, and
//! no acknowledged record is lost.

use std::time::Duration;

use caravan_sdk::api::TxStatus;

use crate::support::{assert_same_chain, record, register_exporter, testnet, wait_committed};

#[test]
fn n4_kill9_one_validator_under_load_then_recover() {
    let mut net = testnet(4, &[0, 1, 2, 3]);
    let exporter = register_exporter(&net, 0, "CN-EXPORTER-CRASH");
    let mut acknowledged = Vec::new();
    // Before the crash: records through every node, each acknowledged as committed.
    for n in 1..=20u64 {
        let tx = record(&net, &exporter, n);
        let status = net
            .fed
            .client((n % 4) as usize)
            .submit(&tx, true)
            .expect("submit");
        assert!(matches!(status, TxStatus::Committed { .. }));
        acknowledged.push(tx.id());
    }
    // Crash node 3 without warning while a stream of records goes to the others.
    let mut pending = Vec::new();
    for n in 21..=220u64 {
        if n == 60 {
            net.fed.kill(3).expect("kill -9");
        }
        let tx = record(&net, &exporter, n);
        net.fed
            .client((n % 3) as usize)
            .submit(&tx, false)
            .expect("admitted by a live node");
        pending.push(tx.id());
    }
    wait_committed(&net.fed.client(0), &pending, Duration::from_secs(180));
    acknowledged.extend(pending);
    let tip_while_down = net.fed.client(0).health().expect("health").height;

    // Restart from its files: it catches up to the same chain, holding every record.
    net.fed.start(3).expect("restart");
    net.fed
        .wait_healthy(3, Duration::from_secs(60))
        .expect("healthy after restart");
    net.fed
        .wait_height(3, tip_while_down, Duration::from_secs(120))
        .expect("caught up");
    assert_same_chain(&net, &[0, 1, 2, 3]);
    wait_committed(&net.fed.client(3), &acknowledged, Duration::from_secs(30));

    // And it takes part again: new records commit through it.
    let tx = record(&net, &exporter, 1_000);
    let status = net
        .fed
        .client(3)
        .submit(&tx, true)
        .expect("submit after recovery");
    assert!(matches!(status, TxStatus::Committed { .. }));
    net.fed.stop_all().expect("stop");
}
