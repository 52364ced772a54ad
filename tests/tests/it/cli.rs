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
    assert!(stdout.contains("VERIFIED transaction"), "{stdout}");
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
}
