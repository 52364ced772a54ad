//! Four validators with one down from the start still commit; with two down nothing commits,
//! and when one returns the federation resumes, losing nothing.

use std::time::{Duration, Instant};

use caravan_sdk::api::TxStatus;

use crate::support::{assert_same_chain, record, register_exporter, testnet, wait_committed};

#[test]
fn n4_f1_down_commits_f2_down_halts_and_resumes() {
    // Node 3 never starts.
    let mut net = testnet(4, &[0, 1, 2]);
    let exporter = register_exporter(&net, 1, "CN-EXPORTER-QUORUM");
    let mut committed = vec![exporter.registration];
    for n in 1..=10u64 {
        let tx = record(&net, &exporter, n);
        let status = net
            .fed
            .client((n % 3) as usize)
            .submit(&tx, true)
            .expect("submit");
        assert!(
            matches!(status, TxStatus::Committed { .. }),
            "3 of 4 must commit: {status:?}"
        );
        committed.push(tx.id());
    }

    // Stop node 2: two of four remain, below the quorum of three.
    net.fed.stop(2).expect("stop node 2");
    let height_before = net.fed.client(0).health().expect("health").height;
    let stalled = record(&net, &exporter, 11);
    let status = net
        .fed
        .client(0)
        .submit(&stalled, false)
        .expect("still admitted");
    assert!(matches!(status, TxStatus::Pending { .. }));
    // Observe for a while: no node may commit anything without a quorum.
    let window = Instant::now() + Duration::from_secs(8);
    while Instant::now() < window {
        for i in [0, 1] {
            let h = net.fed.client(i).health().expect("health").height;
            assert_eq!(h, height_before, "node {i} committed without a quorum");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(matches!(
        net.fed.client(0).tx_status(&stalled.id()),
        Ok(TxStatus::Pending { .. })
    ));

    // Node 2 returns: progress resumes and the stalled record commits.
    net.fed.start(2).expect("restart node 2");
    wait_committed(
        &net.fed.client(0),
        &[stalled.id()],
        Duration::from_secs(120),
    );
    committed.push(stalled.id());
    net.fed
        .wait_height(
            2,
            net.fed.client(0).health().expect("health").height,
            Duration::from_secs(60),
        )
        .expect("caught up");
    assert_same_chain(&net, &[0, 1, 2]);
    for i in [0, 1, 2] {
        wait_committed(&net.fed.client(i), &committed, Duration::from_secs(30));
    }
    net.fed.stop_all().expect("stop");
}
