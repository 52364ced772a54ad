//! The user-facing executables, run as a user would: the demo exits 0 after every step, and
//! `caravan verify` accepts a real bundle and names the failed link of a tampered one.

use std::process::Command;

use caravan_sdk::tx::Body;

use crate::support::{record, register_exporter, testnet};

#[test]
fn demo_exit_succeeds() {
    let _net = testnet(1, &[]); // holds the one-federation-at-a-time lock
    let dir = tempfile::tempdir().expect("tmp");
    let out = Command::new(env!("CARGO_BIN_EXE_caravan-testnet-it"))
        .args(["demo", "--exit", "--dir"])
        .arg(dir.path().join("demo"))
        .output()
        .expect("run demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("VERIFIED credit grade attestation"),
        "{stdout}"
    );
    assert!(stdout.contains("VERIFIED commercial invoice"), "{stdout}");
    assert!(stdout.contains("FAIL    weights"), "{stdout}");
    assert!(stdout.contains("all 11 rules pass"), "{stdout}");
    assert!(stdout.contains("double_financing"), "{stdout}");
    assert!(stdout.contains("REFUSED at link 'signature'"), "{stdout}");
    assert!(stdout.contains("REFUSED at link 'certificate'"), "{stdout}");
    assert!(
        stdout.contains("demo complete: every step succeeded"),
        "{stdout}"
    );
}

#[test]
fn caravan_verify_cli_offline() {
    let net = testnet(1, &[0]);
    let exporter = register_exporter(&net, 0, "CN-EXPORTER-CLI");
    let tx = record(&net, &exporter, 1);
    net.fed.client(0).submit(&tx, true).expect("commit");
    let dir = tempfile::tempdir().expect("tmp");
    let bundle_path = dir.path().join("bundle.cbor");
    let caravan = env!("CARGO_BIN_EXE_caravan-it");
    let out = Command::new(caravan)
        .args([
            "proof",
            "get",
            "--node",
            &net.fed.nodes[0].api_url,
            &tx.id().to_string(),
            "--out",
        ])
        .arg(&bundle_path)
        .output()
        .expect("proof get");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let verify = |path: &std::path::Path| {
        Command::new(caravan)
            .arg("verify")
            .arg(path)
            .arg("--genesis")
            .arg(&net.fed.genesis_path)
            .output()
            .expect("verify")
    };
    let out = verify(&bundle_path);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("VERIFIED") && stdout.contains(&tx.id().to_string()),
        "{stdout}"
    );
    assert!(stdout.contains("INV-000001"), "{stdout}");

    // A JSON copy whose metadata was edited fails at the signature link.
    let mut bundle = net.fed.client(0).proof(&tx.id()).expect("bundle");
    if let Body::AnchorRecord { metadata, .. } = &mut bundle.item.transaction.tx.body {
        metadata[0].1 = "INV-999999".into();
    }
    let tampered = dir.path().join("tampered.json");
    std::fs::write(&tampered, serde_json::to_vec(&bundle).expect("json")).expect("write");
    let out = verify(&tampered);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("link 'signature' failed"), "{stderr}");

    // The stored log was not changed by any of this: the node still proves the original.
    let again = net.fed.client(0).proof(&tx.id()).expect("bundle");
    assert_eq!(again.item.transaction, tx);

    // A later checkpoint provably extends an earlier one; a proof for other sizes does not fit.
    let client = net.fed.client(0);
    let old = client.checkpoint().expect("checkpoint");
    for n in 2..=4 {
        client
            .submit(&record(&net, &exporter, n), true)
            .expect("commit");
    }
    let new = client.checkpoint().expect("checkpoint");
    assert!(new.header.log_size > old.header.log_size);
    let proof = client
        .consistency(old.header.log_size, new.header.log_size)
        .expect("consistency");
    let genesis = caravan_sdk::genesis::Genesis::read(&net.fed.genesis_path).expect("genesis");
    caravan_sdk::bundle::verify_extension(
        &genesis,
        (&old.header, &old.certificate),
        (&new.header, &new.certificate),
        &proof,
    )
    .expect("extends");
    let other = client
        .consistency(old.header.log_size - 1, new.header.log_size)
        .expect("consistency");
    assert!(
        caravan_sdk::bundle::verify_extension(
            &genesis,
            (&old.header, &old.certificate),
            (&new.header, &new.certificate),
            &other
        )
        .is_err()
    );
    assert_eq!(
        client.consistency(5, 2).err().and_then(|e| e.status()),
        Some(400)
    );
}

#[test]
fn testnet_up_and_down() {
    let _net = testnet(1, &[]); // holds the one-federation-at-a-time lock
    let dir = tempfile::tempdir().expect("tmp");
    let fed_dir = dir.path().join("fed");
    let bin = env!("CARGO_BIN_EXE_caravan-testnet-it");
    let out = Command::new(bin)
        .args(["up", "--validators", "4", "--dir"])
        .arg(&fed_dir)
        .output()
        .expect("up");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file: caravan_testnet::federation::TestnetFile = serde_json::from_str(
        &std::fs::read_to_string(fed_dir.join("testnet.json")).expect("testnet.json"),
    )
    .expect("parse");
    assert_eq!(file.nodes.len(), 4);
    for node in &file.nodes {
        let health = caravan_sdk::client::Client::new(&node.api_url)
            .health()
            .expect("healthy after up returns");
        assert_eq!(health.agency, node.agency);
        assert_eq!(health.chain_id, file.chain_id);
    }
    // Consensus runs among the detached processes: every node commits (empty blocks when idle).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    for node in &file.nodes {
        let client = caravan_sdk::client::Client::new(&node.api_url);
        while client.health().expect("health").height.0 < 2 {
            assert!(
                std::time::Instant::now() < deadline,
                "node {} commits nothing",
                node.agency
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
    let out = Command::new(bin)
        .args(["down", "--dir"])
        .arg(&fed_dir)
        .output()
        .expect("down");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for node in &file.nodes {
        let pid = node.pid.expect("pid");
        assert!(
            !caravan_testnet::federation::alive(pid),
            "node {} still running after down",
            node.agency
        );
    }
    // A second `up` into the same folder is refused rather than overwriting keys.
    let out = Command::new(bin)
        .args(["up", "--dir"])
        .arg(&fed_dir)
        .output()
        .expect("up again");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already holds a federation"));
}
