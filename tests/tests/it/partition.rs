//! Network faults between real nodes, each in its own network namespace joined to a bridge by a
//! veth link (`caravan_testnet::netfault::Network`): links taken down, splits of any shape and
//! one-way packet loss by packet filters in the namespaces (`nft`, installed by
//! `scripts/nftables` when missing). Each scenario ends with the history checker.
//!
//! Creating namespaces needs CAP_NET_ADMIN (root in CI). Without it a test says that it did not
//! run, and why, instead of passing silently. The machines lack the `netem` queueing
//! discipline, so latency and jitter are injected by relays instead (`wan.rs`); loss needs no
//! delay line, and is a packet filter dropping a random share of one direction's packets.

use std::time::{Duration, Instant};

use caravan_sdk::api::TxStatus;
use caravan_sdk::ids::Height;

use caravan_testnet::federation::Federation;
use caravan_testnet::netfault::{CAP_NET_ADMIN, Network, has_capability};

use crate::history::History;
use crate::support::{Load, TestNet, launcher, one_at_a_time, record, register_exporter};

/// A four-validator federation, one validator per namespace, or `None` (after saying why) when
/// namespaces cannot be made here.
fn federation_in_namespaces(test: &str) -> Option<TestNet> {
    if !has_capability(CAP_NET_ADMIN) {
        eprintln!(
            "{test} DID NOT RUN: network namespaces and packet filters need CAP_NET_ADMIN \
             (root), which this process lacks"
        );
        return None;
    }
    install_nft();
    let guard = one_at_a_time();
    let network = Network::build(4).expect("network namespaces (the process is privileged)");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut fed =
        Federation::create_in_network(dir.path(), network, launcher()).expect("federation");
    fed.start_all().expect("start");
    fed.wait_all_healthy(Duration::from_secs(60))
        .expect("healthy");
    let net = TestNet::new(fed, dir, guard);
    await_connected(&net, "a new federation");
    Some(net)
}

fn network(net: &TestNet) -> &Network {
    net.fed
        .network
        .as_ref()
        .expect("a federation in namespaces")
}

/// Runs `scripts/nftables`, which installs Debian's nftables when `nft` is missing, once per
/// test process (the tests run in parallel, and two package installs at once would contend for
/// the package manager's lock). Panics with its reason when it cannot.
fn install_nft() {
    static INSTALLED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let result = INSTALLED.get_or_init(|| {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/nftables");
        let out = std::process::Command::new("bash")
            .arg(&script)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{} could not provide it:\n{}",
                script.display(),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    });
    if let Err(e) = result {
        panic!("the network-fault tests need `nft`, and {e}");
    }
}

/// Waits up to 60 s for every node of `nodes` to pass height `above`.
fn await_progress(net: &TestNet, nodes: &[usize], above: Height, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    for &i in nodes {
        while height(net, i) <= above {
            assert!(
                Instant::now() < deadline,
                "{what}: node {i} stayed at {} (not above {above})",
                height(net, i)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Packets dropped by node `i`'s filters since the last heal.
fn dropped_at(net: &TestNet, i: usize) -> u64 {
    network(net).dropped(i).expect("read the packet counters")
}

/// Packets dropped by the filters of `nodes` since the last heal.
fn dropped(net: &TestNet, nodes: &[usize]) -> u64 {
    nodes.iter().map(|&i| dropped_at(net, i)).sum()
}

/// Asserts for `secs` seconds that no node of `nodes` passes `stalled_at`.
fn assert_stalled(net: &TestNet, nodes: &[usize], stalled_at: Height, secs: u64, what: &str) {
    let window = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < window {
        for &i in nodes {
            let h = height(net, i);
            assert!(
                h <= stalled_at,
                "{what}: node {i} committed {h} without a quorum (stalled at {stalled_at})"
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn height(net: &TestNet, i: usize) -> Height {
    net.fed.client(i).health().expect("health").height
}

/// Each node's height and connected consensus peers, for failure messages.
fn status(net: &TestNet) -> String {
    (0..4)
        .map(|i| match net.fed.client(i).health() {
            Ok(h) => format!("node {i}: height {}, {} peers", h.height, h.peers),
            Err(e) => format!("node {i}: {e}"),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Waits up to 60 s until every node reports that it exchanges consensus messages with each of
/// the other three. After a link comes back, a node can be connected to a peer that never sent it
/// its subscriptions (the peer still held its connection from before the outage); such a node
/// cannot send that peer a vote until it notices and redials (`watch_peers` in the node, after
/// 10 s). A scenario that needs three nodes to talk must not start before they can.
fn await_connected(net: &TestNet, what: &str) {
    let start = Instant::now();
    while (0..4).any(|i| net.fed.client(i).health().map_or(true, |h| h.peers < 3)) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{what}: the nodes did not reconnect within 60 s ({})",
            status(net)
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    eprintln!("{what}: all four connected after {:?}", start.elapsed());
}

#[test]
fn partitions_minority_leader_and_majority_then_heal() {
    let Some(mut net) = federation_in_namespaces("partition test") else {
        return;
    };
    let exporter = register_exporter(&net, 0, "CN-EXPORTER-PARTITION");
    let history = History::default();
    let mut nonce = 0u64;
    let mut submit_through = |net: &TestNet, via: usize, n: usize| {
        for _ in 0..n {
            nonce += 1;
            history.submit(&net.fed.client(via), &record(net, &exporter, nonce));
        }
    };

    // Minority partition: node 3 is cut off; the other three go on committing.
    submit_through(&net, 0, 10);
    network(&net).unplug(3).expect("unplug");
    let before = height(&net, 0);
    submit_through(&net, 1, 20);
    assert!(height(&net, 0) > before, "three of four stopped committing");
    network(&net).plug(3).expect("plug");
    let tip = height(&net, 0);
    net.fed
        .wait_height(3, tip, Duration::from_secs(60))
        .expect("the cut-off node catches up after the heal");
    await_connected(&net, "node 3 plugged back in");

    // The leader of the next round cut off: node 0 proposes every fourth height; the round
    // times out to the next proposer, and the chain goes on.
    network(&net).unplug(0).expect("unplug");
    let before = height(&net, 1);
    submit_through(&net, 1, 20);
    // On a loaded machine the rounds that time out past the cut-off leader take a while: allow
    // them up to 60 s to show progress.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while height(&net, 1) <= before && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(
        height(&net, 1) > before,
        "progress stopped with one node cut off ({})",
        status(&net)
    );
    network(&net).plug(0).expect("plug");
    net.fed
        .wait_height(0, height(&net, 1), Duration::from_secs(60))
        .expect("node 0 catches up");
    await_connected(&net, "node 0 plugged back in");

    // A split down the middle: {0, 1} | {2, 3}, each pair still talking within itself and to
    // clients; no side holds a quorum. Nothing commits on either side, the submitted record stays
    // pending, and after the heal it commits.
    network(&net)
        .partition(&[vec![0, 1], vec![2, 3]])
        .expect("split");
    // A block decided just before the split may still reach the other side of it; nothing later
    // can be decided without a quorum.
    std::thread::sleep(Duration::from_secs(1));
    let stalled_at = (0..4).map(|i| height(&net, i)).max().expect("four nodes");
    let pending = record(&net, &exporter, 10_000);
    assert!(matches!(
        net.fed.client(0).submit(&pending, false),
        Ok(TxStatus::Pending { .. })
    ));
    assert_stalled(&net, &[0, 1, 2, 3], stalled_at, 5, "split 2 | 2");
    network(&net).heal().expect("heal");
    crate::support::wait_committed(
        &net.fed.client(0),
        &[pending.id()],
        Duration::from_secs(120),
    );
    submit_through(&net, 2, 10);

    let (submitted, acknowledged) = history.counts();
    assert!(
        acknowledged >= 50,
        "{acknowledged} of {submitted} acknowledged"
    );
    history.check(&mut net, &[0, 1, 2, 3]);
    net.fed.stop_all().expect("stop");
}

#[test]
fn one_way_loss_and_splits_of_every_shape_under_load() {
    let Some(mut net) = federation_in_namespaces("one-way loss test") else {
        return;
    };
    let exporter = register_exporter(&net, 0, "CN-EXPORTER-LOSS");
    let txs = (1..=20_000).map(|n| record(&net, &exporter, n)).collect();
    let history = History::default();
    let load = Load::start(&net, &history, &[0, 1, 2, 3], txs);

    // One-way loss: 40% of what node 0 sends to each other node is dropped, and 40% of what node
    // 2 sends to node 1; the replies travel untouched. TCP retransmits; the chain goes on.
    for to in [1, 2, 3] {
        network(&net).loss(0, to, 40).expect("loss");
    }
    network(&net).loss(2, 1, 40).expect("loss");
    let (before, since) = (height(&net, 1), Instant::now());
    await_progress(
        &net,
        &[0, 1, 2, 3],
        Height(before.0 + 5),
        "40% one-way loss",
    );
    // Hold the loss a few seconds under load, however fast the heights passed.
    std::thread::sleep(Duration::from_secs(4).saturating_sub(since.elapsed()));
    let dropped_lossy = dropped(&net, &[1, 2, 3]);
    assert!(dropped_lossy > 0, "the loss rules dropped nothing");
    assert_eq!(
        dropped_at(&net, 0),
        0,
        "nothing sent to node 0 was to be dropped"
    );
    eprintln!("one-way loss: {dropped_lossy} packets dropped");
    network(&net).heal().expect("heal");

    // Node 3 deaf: it loses every packet the others send it, while they still hear its votes.
    // The other three go on; after the heal it catches up.
    for from in [0, 1, 2] {
        network(&net).loss(from, 3, 100).expect("deaf");
    }
    let before = height(&net, 0);
    await_progress(&net, &[0, 1, 2], Height(before.0 + 3), "node 3 deaf");
    let deaf = dropped_at(&net, 3);
    if deaf == 0 {
        let out = std::process::Command::new("ip")
            .args([
                "netns",
                "exec",
                &network(&net).namespace(3),
                "nft",
                "list",
                "ruleset",
            ])
            .output()
            .expect("nft");
        panic!(
            "node 3 was not deaf:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    eprintln!("node 3 deaf: {deaf} packets dropped");
    network(&net).heal().expect("heal");
    await_progress(&net, &[3], height(&net, 0), "node 3 after the heal");
    await_connected(&net, "node 3 hears again");

    // Splits of other shapes, each healed by the next: {0} | {1, 2, 3} goes on; {0, 1, 2} | {3}
    // goes on with node 0 back in the majority; {0, 3} | {1} | {2} stalls.
    network(&net)
        .partition(&[vec![0], vec![1, 2, 3]])
        .expect("split 1 | 3");
    let before = height(&net, 1);
    await_progress(&net, &[1, 2, 3], Height(before.0 + 2), "split 1 | 3");
    network(&net)
        .partition(&[vec![0, 1, 2], vec![3]])
        .expect("split 3 | 1");
    let before = height(&net, 1);
    await_progress(&net, &[0, 1, 2], Height(before.0 + 2), "split 3 | 1");
    network(&net)
        .partition(&[vec![0, 3], vec![1], vec![2]])
        .expect("split 2 | 1 | 1");
    std::thread::sleep(Duration::from_secs(1));
    let stalled_at = (0..4).map(|i| height(&net, i)).max().expect("four nodes");
    assert_stalled(&net, &[0, 1, 2, 3], stalled_at, 4, "split 2 | 1 | 1");
    assert!(
        dropped(&net, &[0, 1, 2, 3]) > 0,
        "the split dropped nothing"
    );
    network(&net).heal().expect("heal");
    await_progress(&net, &[0, 1, 2, 3], stalled_at, "after the last heal");

    load.finish();
    let (submitted, acknowledged) = history.counts();
    eprintln!("one-way loss and splits: {submitted} submitted, {acknowledged} acknowledged");
    assert!(
        acknowledged >= 20,
        "{acknowledged} of {submitted} acknowledged"
    );
    history.check(&mut net, &[0, 1, 2, 3]);
    net.fed.stop_all().expect("stop");
}

/// Runs `caravan-testnet ARGS --dir DIR`; returns (success, stdout, stderr).
fn testnet_cli(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_caravan-testnet-it"))
        .args(args)
        .arg("--dir")
        .arg(dir)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run caravan-testnet");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Like [`testnet_cli`], but the command must succeed; returns its stdout.
fn drill(dir: &std::path::Path, args: &[&str]) -> String {
    let (ok, out, err) = testnet_cli(dir, args);
    assert!(ok, "caravan-testnet {}: {err}", args.join(" "));
    out
}

/// Runs `caravan-testnet down` on drop, so that a failed test leaves no nodes running.
struct DownOnDrop(std::path::PathBuf);

impl Drop for DownOnDrop {
    fn drop(&mut self) {
        if self.0.join("testnet.json").exists() {
            let _ = testnet_cli(&self.0, &["down"]);
        }
    }
}

#[test]
fn operators_drill_partitions_loss_and_a_full_disk_by_command() {
    use caravan_testnet::netfault::{CAP_SYS_ADMIN, is_small_disk};
    if !has_capability(CAP_NET_ADMIN) || !has_capability(CAP_SYS_ADMIN) {
        eprintln!(
            "fault drill test DID NOT RUN: `up --netns` and `fault disk-full` need CAP_NET_ADMIN \
             and CAP_SYS_ADMIN (root), which this process lacks"
        );
        return;
    }
    install_nft();
    let guard = one_at_a_time();
    let dir = tempfile::tempdir().expect("tempdir");
    let fed_dir = dir.path().join("fed");
    let up = drill(&fed_dir, &["up", "--netns", "--validators", "4"]);
    let _down = DownOnDrop(fed_dir.clone());
    assert!(up.contains("10.78."), "nodes not in namespaces: {up}");
    let fed = Federation::open(&fed_dir, launcher()).expect("open testnet.json");
    let ns = fed.network.clone().expect("the network is in testnet.json");
    let net = TestNet::new(fed, dir, guard);
    let exporter = register_exporter(&net, 0, "CN-EXPORTER-DRILL");
    let mut nonce = 0;
    let mut submit = |via: usize| {
        nonce += 1;
        let tx = record(&net, &exporter, nonce);
        net.fed.client(via).submit(&tx, false).expect("submit");
        tx.id()
    };

    // Refused drills change nothing and say why.
    for (args, reason) in [
        (&["fault", "partition"][..], "needs --groups"),
        (
            &["fault", "partition", "--groups", "0,1/1,2,3"],
            "more than one group",
        ),
        (
            &["fault", "partition", "--groups", "0,1/2"],
            "node 3 is in no group",
        ),
        (
            &["fault", "partition", "--groups", "0,1/NO-SUCH"],
            "no node",
        ),
        (
            &["fault", "loss", "--node", "0", "--percent", "0"],
            "1 to 100 percent",
        ),
        (&["fault", "loss"], "needs --node"),
        (&["fault", "disk-space", "--node", "1"], "no small disk"),
    ] {
        let (ok, _, err) = testnet_cli(&fed_dir, args);
        assert!(!ok, "{args:?} was accepted");
        assert!(err.contains(reason), "{args:?}: {err}");
    }

    // A split by agency names, 2 | 2: nothing commits; after `heal` the pending record does.
    let names: Vec<String> = net.fed.nodes.iter().map(|n| n.agency.to_string()).collect();
    let split = format!("{},{}/{},{}", names[0], names[1], names[2], names[3]);
    assert!(drill(&fed_dir, &["fault", "partition", "--groups", &split]).contains("partitioned"));
    std::thread::sleep(Duration::from_secs(1));
    let stalled_at = (0..4).map(|i| height(&net, i)).max().expect("four nodes");
    let pending = submit(0);
    assert_stalled(&net, &[0, 1, 2, 3], stalled_at, 3, "drilled split 2 | 2");
    assert!(
        dropped(&net, &[0, 1, 2, 3]) > 0,
        "the split dropped nothing"
    );
    assert!(drill(&fed_dir, &["fault", "heal"]).contains("healed"));
    crate::support::wait_committed(&net.fed.client(0), &[pending], Duration::from_secs(60));

    // One-way loss from node 0 to the others: records still commit.
    let out = drill(
        &fed_dir,
        &["fault", "loss", "--node", "0", "--percent", "50"],
    );
    assert!(out.contains("50% of the packets from"), "{out}");
    let ids: Vec<_> = (0..10).map(|k| submit(k % 4)).collect();
    crate::support::wait_committed(&net.fed.client(1), &ids, Duration::from_secs(60));
    assert!(dropped(&net, &[1, 2, 3]) > 0, "the loss dropped nothing");
    drill(&fed_dir, &["fault", "heal"]);

    // Node 3 moved onto a disk with 64 KiB free: it stops with the disk full while the others
    // commit; with space and a start it catches up.
    let out = drill(
        &fed_dir,
        &["fault", "--node", "3", "disk-full", "--size", "64k"],
    );
    assert!(out.contains("64 KiB free"), "{out}");
    let home = net.fed.nodes[3].home.clone();
    assert!(
        is_small_disk(&home).expect("mounts"),
        "no small disk under node 3"
    );
    let log = net.fed.nodes[3].log.clone();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = None;
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("No space left on device")
    {
        assert!(
            Instant::now() < deadline,
            "node 3 never filled its disk:\n{}",
            caravan_testnet::federation::tail(&log, 20)
        );
        let ids: Vec<_> = (0..20).map(|_| submit(0)).collect();
        last = ids.last().copied();
        std::thread::sleep(Duration::from_millis(300));
    }
    let last = last.expect("records submitted");
    crate::support::wait_committed(&net.fed.client(0), &[last], Duration::from_secs(60));
    drill(
        &fed_dir,
        &["fault", "--node", "3", "disk-space", "--size", "64m"],
    );
    let (ok, out, err) = testnet_cli(&fed_dir, &["fault", "--node", "3", "start"]);
    assert!(ok && out.contains("started"), "{out}{err}");
    await_progress(
        &net,
        &[3],
        Height(height(&net, 0).0 - 1),
        "node 3 after space freed",
    );

    let out = drill(&fed_dir, &["down"]);
    assert!(
        out.contains("unmounted") && out.contains("removed the network namespaces"),
        "{out}"
    );
    assert!(
        !is_small_disk(&home).unwrap_or(false),
        "the small disk is still mounted"
    );
    assert!(
        !std::path::Path::new(&format!("/run/netns/{}", ns.namespace(0))).exists(),
        "namespace {} still there after down",
        ns.namespace(0)
    );
}
