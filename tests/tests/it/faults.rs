//! Fault scenarios under load, each named after its fault model, each ending with the history
//! checker (`history.rs`): whatever the faults, every node holds the same blocks, every
//! acknowledged transaction is on every node once, and nothing else is there twice.

use std::time::Duration;

use caravan_sdk::tx::SignedTx;
use caravan_testnet::netfault::{CAP_SYS_ADMIN, SmallDisk, has_capability};

use crate::history::History;
use crate::support::{Load, TestNet, record, register_exporter, testnet};

/// A four-node federation with an exporter and `count` records ready to submit.
fn setup(name: &str, count: u64) -> (TestNet, Vec<SignedTx>) {
    let net = testnet(4, &[0, 1, 2, 3]);
    let exporter = register_exporter(&net, 0, name);
    let txs = (1..=count).map(|n| record(&net, &exporter, n)).collect();
    (net, txs)
}

#[test]
fn f1_crashed_validator_restarted_repeatedly_under_load() {
    let (mut net, txs) = setup("CN-EXPORTER-F1-CRASH", 5_000);
    let history = History::default();
    let load = Load::start(&net, &history, &[0, 1, 2, 3], txs);
    for round in 0..3 {
        let victim = 1 + round % 3;
        std::thread::sleep(Duration::from_secs(2));
        net.fed.kill(victim).expect("kill -9");
        std::thread::sleep(Duration::from_secs(3));
        net.fed.start(victim).expect("restart");
        net.fed
            .wait_healthy(victim, Duration::from_secs(60))
            .expect("healthy after restart");
    }
    std::thread::sleep(Duration::from_secs(2));
    load.finish();
    let (submitted, acknowledged) = history.counts();
    assert!(
        acknowledged >= 50,
        "only {acknowledged} of {submitted} acknowledged"
    );
    history.check(&mut net, &[0, 1, 2, 3]);
    net.fed.stop_all().expect("stop");
}

#[test]
fn rolling_restart_of_every_validator_under_load() {
    let (mut net, txs) = setup("CN-EXPORTER-ROLLING", 5_000);
    let history = History::default();
    let load = Load::start(&net, &history, &[0, 1, 2, 3], txs);
    for i in 0..4 {
        std::thread::sleep(Duration::from_secs(1));
        net.fed.stop(i).expect("stop");
        std::thread::sleep(Duration::from_secs(1));
        net.fed.start(i).expect("start");
        net.fed
            .wait_healthy(i, Duration::from_secs(60))
            .expect("healthy after restart");
        let tip = net.fed.client((i + 1) % 4).health().expect("health").height;
        net.fed
            .wait_height(i, tip, Duration::from_secs(60))
            .expect("caught up before the next one restarts");
    }
    load.finish();
    let (submitted, acknowledged) = history.counts();
    assert!(
        acknowledged >= 50,
        "only {acknowledged} of {submitted} acknowledged"
    );
    history.check(&mut net, &[0, 1, 2, 3]);
    net.fed.stop_all().expect("stop");
}

#[test]
fn paused_validator_mid_round_stalls_nothing_and_catches_up() {
    let (mut net, txs) = setup("CN-EXPORTER-PAUSED", 5_000);
    let history = History::default();
    // Clients use the three nodes that stay up; node 0 is frozen (SIGSTOP) mid-round, as a
    // hung or partitioned proposer would be, then thawed.
    let load = Load::start(&net, &history, &[1, 2, 3], txs);
    std::thread::sleep(Duration::from_secs(2));
    let before = net.fed.client(1).health().expect("health").height;
    net.fed.pause(0).expect("SIGSTOP");
    std::thread::sleep(Duration::from_secs(6));
    let during = net.fed.client(1).health().expect("health").height;
    assert!(
        during.0 > before.0 + 2,
        "the other three stalled while node 0 was paused: {before} -> {during}"
    );
    net.fed.resume(0).expect("SIGCONT");
    std::thread::sleep(Duration::from_secs(2));
    load.finish();
    history.check(&mut net, &[0, 1, 2, 3]);
    net.fed.stop_all().expect("stop");
}

#[test]
fn corrupted_store_is_refused_and_recovered_by_resync() {
    let (mut net, txs) = setup("CN-EXPORTER-CORRUPT", 200);
    let history = History::default();
    for tx in &txs[..40] {
        assert!(history.submit(&net.fed.client(0), tx), "committed");
    }
    net.fed.stop(2).expect("stop node 2");
    // Damage the stored copy of node 2's tip block, in place.
    let path = net.fed.nodes[2].home.join("ledger.redb");
    let tip_block = {
        let genesis = net.fed.genesis.clone();
        let store = caravan_node::store::Store::open(&path, &genesis, &genesis.chain_id())
            .expect("intact store");
        let tip = store.tip().expect("tip");
        let (block, _) = store.block(tip.height).expect("read").expect("tip block");
        caravan_sdk::codec::encode(&block)
    };
    let mut bytes = std::fs::read(&path).expect("store file");
    let needle = &tip_block[tip_block.len() / 2..tip_block.len() / 2 + 32];
    let mut damaged = 0;
    let mut at = 0;
    while let Some(offset) = bytes[at..].windows(needle.len()).position(|w| w == needle) {
        bytes[at + offset + 8] ^= 0xff;
        damaged += 1;
        at += offset + needle.len();
    }
    assert!(damaged > 0, "the tip block's bytes are not in the file");
    std::fs::write(&path, &bytes).expect("write damaged store");

    // It refuses to start, saying why.
    net.fed.start(2).expect("spawn");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = net.fed.exited(2) {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a damaged store was served"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!status.success());
    net.fed.kill(2).expect("reap");
    let log = std::fs::read_to_string(&net.fed.nodes[2].log).expect("log");
    assert!(log.contains("refusing to serve from a damaged"), "{log}");
    assert!(log.contains("store is corrupt"), "{log}");

    // The others go on; with --resync it syncs the ledger again and takes part.
    for tx in &txs[40..80] {
        assert!(history.submit(&net.fed.client(1), tx), "committed");
    }
    net.fed.start_with(2, &["--resync"]).expect("resync");
    net.fed
        .wait_healthy(2, Duration::from_secs(60))
        .expect("healthy after resync");
    for tx in &txs[80..100] {
        assert!(
            history.submit(&net.fed.client(2), tx),
            "committed through node 2"
        );
    }
    history.check(&mut net, &[0, 1, 2, 3]);
    net.fed.stop_all().expect("stop");
}

#[test]
fn disk_full_on_one_validator_loses_nothing_and_it_recovers_with_space() {
    // Node 3's data folder (its store and its consensus WAL) is a 1 MiB tmpfs: it fills under
    // load while the other three carry on.
    let mut net = testnet(4, &[0, 1, 2]);
    let home = net.fed.nodes[3].home.clone();
    if !has_capability(CAP_SYS_ADMIN) {
        eprintln!(
            "disk-full test DID NOT RUN: mounting a small disk needs CAP_SYS_ADMIN (root), which \
             this process lacks"
        );
        return;
    }
    let disk = SmallDisk::mount(&home, "1m").expect("a small disk (the process is privileged)");
    net.fed.start(3).expect("start node 3");
    net.fed
        .wait_healthy(3, Duration::from_secs(60))
        .expect("node 3 healthy");
    let exporter = register_exporter(&net, 0, "CN-EXPORTER-DISK-FULL");
    let txs = (1..=20_000).map(|n| record(&net, &exporter, n)).collect();
    let history = History::default();
    let load = Load::start(&net, &history, &[0, 1, 2, 3], txs);

    // Wait until node 3 can no longer write: its process ends, or its height stops while the
    // others go on.
    let log = net.fed.nodes[3].log.clone();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let full = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(line) = text
            .lines()
            .find(|l| l.contains("No space left on device") || l.contains("StorageFull"))
        {
            eprintln!("node 3 on its full disk: {line}");
            break true;
        }
        if std::time::Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(
        full,
        "node 3 never reported a full disk; last log lines:\n{}",
        caravan_testnet::federation::tail(&log, 30)
    );
    let stalled = net.fed.client(0).health().expect("health").height;
    // Rounds that node 3 would propose time out first; the others still commit.
    std::thread::sleep(Duration::from_secs(8));
    let later = net.fed.client(0).health().expect("health").height;
    assert!(
        later.0 > stalled.0,
        "the three others stopped while node 3's disk was full: {stalled} -> {later}"
    );

    // Space comes back; node 3 is restarted (if it stopped) and catches up.
    SmallDisk::resize(&home, "512m").expect("grow the small disk");
    let running = net.fed.nodes[3]
        .pid
        .is_some_and(caravan_testnet::federation::alive);
    eprintln!(
        "node 3 after its disk filled: process {}",
        if running {
            "still running (stopped now)"
        } else {
            "exited"
        }
    );
    if running {
        net.fed.stop(3).expect("stop node 3");
    }
    net.fed.start(3).expect("restart node 3");
    if let Err(e) = net.fed.wait_healthy(3, Duration::from_secs(60)) {
        panic!(
            "node 3 not healthy with space again: {e:#}\n{}",
            caravan_testnet::federation::tail(&log, 40)
        );
    }
    std::thread::sleep(Duration::from_secs(2));
    load.finish();
    let (submitted, acknowledged) = history.counts();
    assert!(
        acknowledged >= 50,
        "only {acknowledged} of {submitted} acknowledged"
    );
    history.check(&mut net, &[0, 1, 2, 3]);
    net.fed.stop_all().expect("stop");
    drop(disk);
}
