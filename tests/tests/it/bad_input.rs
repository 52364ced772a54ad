//! Bad input gets a specific error (HTTP status and machine-readable reason), changes nothing,
//! and the node keeps serving. Also: a node refuses a genesis that was edited after signing or
//! that lacks a founder's signature, naming what is wrong.

use std::process::Command;

use caravan_sdk::client::ClientError;
use caravan_sdk::codec::MAX_TRANSACTION_BYTES;
use caravan_sdk::hash::Digest;
use caravan_sdk::ids::{ChainId, Nonce, ParticipantId};
use caravan_sdk::keys::Keypair;
use caravan_sdk::tx::{Body, Role, SignedTx, UnsignedTx};

use crate::support::{launcher, record, register_with_nonce, testnet};

fn expect_refused(
    result: Result<caravan_sdk::api::TxStatus, ClientError>,
    status: u16,
    reason: &str,
) {
    match result {
        Err(e) => {
            assert_eq!(e.status(), Some(status), "{e}");
            assert_eq!(e.reason(), Some(reason), "{e}");
        }
        Ok(s) => panic!("expected {status} {reason}, got {s:?}"),
    }
}

#[test]
fn bad_inputs_are_refused_specifically_and_change_nothing() {
    let net = testnet(1, &[0]);
    let client = net.fed.client(0);
    let exporter = register_with_nonce(&net, 0, "CN-EXPORTER-BAD", 1);
    // Idle validators keep committing empty blocks; what must not change is the log of
    // transactions.
    let log_size = client.checkpoint().expect("checkpoint").header.log_size;

    // Bad signature: signed by another key.
    let impostor = Keypair::generate().expect("key");
    let mut tx = record(&net, &exporter, 1);
    tx.signature = tx.tx.clone().sign(&impostor).signature;
    expect_refused(client.submit(&tx, false), 401, "bad_signature");

    // Signer not registered.
    let stranger = UnsignedTx {
        chain_id: net.fed.chain_id(),
        signer: ParticipantId::new("NOBODY-1").expect("id"),
        nonce: Nonce(1),
        body: record(&net, &exporter, 1).tx.body,
    }
    .sign(&impostor);
    expect_refused(client.submit(&stranger, false), 403, "unknown_signer");

    // Signer lacking the role: an enterprise cannot register participants.
    let overreach = UnsignedTx {
        chain_id: net.fed.chain_id(),
        signer: exporter.id.clone(),
        nonce: Nonce(2),
        body: Body::RegisterParticipant {
            id: ParticipantId::new("CN-SHELL-CO").expect("id"),
            name: "Shell".into(),
            roles: vec![Role::Bank],
            public_key: impostor.public(),
        },
    }
    .sign(&exporter.key);
    expect_refused(client.submit(&overreach, false), 403, "missing_role");

    // Wrong chain id.
    let mut foreign = record(&net, &exporter, 3).tx;
    foreign.chain_id = ChainId(Digest([7; 32]));
    expect_refused(
        client.submit(&foreign.sign(&exporter.key), false),
        400,
        "wrong_chain",
    );

    // Unknown record kind.
    let mut poem = record(&net, &exporter, 4).tx;
    poem.body = Body::AnchorRecord {
        kind: "poem".into(),
        document_hash: Digest([1; 32]),
        metadata: vec![],
    };
    expect_refused(
        client.submit(&poem.sign(&exporter.key), false),
        400,
        "unknown_record_kind",
    );

    // Malformed and non-canonical CBOR, malformed JSON, oversized body.
    expect_refused(
        client.submit_raw("application/cbor", &[0xff, 0x00, 0x13], false),
        400,
        "malformed",
    );
    let mut trailing = record(&net, &exporter, 5).to_bytes();
    trailing.push(0x00);
    expect_refused(
        client.submit_raw("application/cbor", &trailing, false),
        400,
        "non_canonical",
    );
    expect_refused(
        client.submit_raw("application/json", b"{\"tx\": 12}", false),
        400,
        "malformed",
    );
    let huge = vec![0u8; MAX_TRANSACTION_BYTES + 10];
    expect_refused(
        client.submit_raw("application/cbor", &huge, false),
        413,
        "too_large",
    );

    // Nothing above changed anything.
    assert_eq!(client.health().expect("health").mempool, 0);
    assert_eq!(
        client.checkpoint().expect("checkpoint").header.log_size,
        log_size
    );
    assert_eq!(
        client.tx_status(&tx.id()).err().and_then(|e| e.status()),
        Some(404)
    );

    // Replays: the same transaction again, and the same nonce with another body.
    let good = record(&net, &exporter, 6);
    client.submit(&good, true).expect("committed");
    expect_refused(client.submit(&good, false), 409, "replayed");
    let mut reuse = record(&net, &exporter, 6).tx;
    reuse.body = Body::AnchorRecord {
        kind: "packing_list".into(),
        document_hash: Digest([9; 32]),
        metadata: vec![],
    };
    let reuse: SignedTx = reuse.sign(&exporter.key);
    expect_refused(client.submit(&reuse, false), 409, "nonce_used");

    // JSON submission works and is the same transaction as CBOR.
    let json_tx = record(&net, &exporter, 7);
    let body = serde_json::to_vec(&json_tx).expect("json");
    let status = client
        .submit_raw("application/json", &body, true)
        .expect("json submit");
    assert_eq!(status.tx_id(), json_tx.id());

    // The refusals are counted, and the node keeps serving.
    let metrics = client.get_text("/metrics").expect("metrics");
    let refused: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("caravan_transactions_refused_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("refused counter");
    assert!(refused >= 7, "{metrics}");
    assert!(client.health().is_ok());
    assert_eq!(
        crate::support::agency_client(&net, 0)
            .block(caravan_sdk::ids::Height(999_999))
            .err()
            .and_then(|e| e.status()),
        Some(404)
    );
}

fn run_node_with(
    genesis: &std::path::Path,
    net: &crate::support::TestNet,
    home: &std::path::Path,
) -> std::process::Output {
    let l = launcher();
    let mut cmd = Command::new(&l.program);
    cmd.args(&l.prefix)
        .arg("--home")
        .arg(home)
        .arg("--genesis")
        .arg(genesis)
        .arg("--agency")
        .arg(net.fed.nodes[0].agency.as_str())
        .arg("--keys")
        .arg(&net.fed.nodes[0].keys);
    cmd.output().expect("run node")
}

#[test]
fn node_refuses_edited_or_unsigned_genesis() {
    let net = testnet(2, &[]);
    let dir = tempfile::tempdir().expect("tmp");
    let text = std::fs::read_to_string(&net.fed.genesis_path).expect("genesis");

    let mut edited: serde_json::Value = serde_json::from_str(&text).expect("json");
    edited["content"]["params"]["block_max_transactions"] = serde_json::json!(7);
    let edited_path = dir.path().join("edited.json");
    std::fs::write(&edited_path, edited.to_string()).expect("write");
    let out = run_node_with(&edited_path, &net, &dir.path().join("a"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("edited after signing"), "{stderr}");

    let mut unsigned: serde_json::Value = serde_json::from_str(&text).expect("json");
    let missing = unsigned["signatures"][1]["agency"]
        .as_str()
        .expect("agency")
        .to_string();
    unsigned["signatures"]
        .as_array_mut()
        .expect("array")
        .remove(1);
    let unsigned_path = dir.path().join("unsigned.json");
    std::fs::write(&unsigned_path, unsigned.to_string()).expect("write");
    let out = run_node_with(&unsigned_path, &net, &dir.path().join("b"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!("lacks the signature of founder {missing}")),
        "{stderr}"
    );
}

/// Every malformed identifier in a submitted transaction is refused with a message that names
/// the identifier and what is wrong with it, and nothing is written.
#[test]
fn malformed_trade_identifiers_are_refused_by_name() {
    use caravan_sdk::trade::documents::DocumentFields;
    use caravan_sdk::trade::sample;
    use caravan_sdk::tx::Body;

    let net = testnet(1, &[0]);
    let client = net.fed.client(0);
    let exporter = register_with_nonce(&net, 0, "CN-EXPORTER-IDS", 1);
    let log_size = client.checkpoint().expect("checkpoint").header.log_size;
    let anchor = |fields: DocumentFields| {
        UnsignedTx {
            chain_id: net.fed.chain_id(),
            signer: exporter.id.clone(),
            nonce: Nonce(9),
            body: Body::AnchorDocument {
                consignment: None,
                leg: None,
                content_hash: Digest([1; 32]),
                fields_root: Digest([2; 32]),
                fields: Box::new(fields),
            },
        }
        .sign(&exporter.key)
    };
    let invoice =
        serde_json::to_value(anchor(DocumentFields::Invoice(sample::invoice()))).expect("json");
    let declaration =
        serde_json::to_value(anchor(DocumentFields::Declaration(sample::declaration())))
            .expect("json");
    let fields = |v: &serde_json::Value| v["tx"]["body"]["fields"].clone();
    // (document, JSON pointer inside the fields, bad value, word the error must contain)
    let cases = [
        (&invoice, "/seller/uscc", "91350100M000100Y44", "USCC"),
        (&invoice, "/seller/lei", "5493001KJTIIGC8Y1R13", "LEI"),
        (&invoice, "/seller/sco_code", "SCO-CN-000123-Q", "SCO code"),
        (&invoice, "/currency", "XYZ", "currency"),
        (&invoice, "/incoterm", "FOBB", "Incoterm"),
        (&invoice, "/lines/0/hs_code", "9912", "HS code"),
        (&declaration, "/port_of_loading", "CNTA1", "UN/LOCODE"),
        (
            &declaration,
            "/containers/0/container",
            "CSQU3054384",
            "container",
        ),
    ];
    for (doc, pointer, bad, word) in cases {
        let mut body = doc.clone();
        let target = body
            .pointer_mut(&format!("/tx/body/fields{pointer}"))
            .unwrap_or_else(|| panic!("{pointer} not in {}", fields(doc)));
        *target = serde_json::Value::String(bad.into());
        let result = client.submit_raw(
            "application/json",
            &serde_json::to_vec(&body).expect("json"),
            false,
        );
        match result {
            Err(e) => {
                assert_eq!(e.status(), Some(400), "{pointer}: {e}");
                let text = e.to_string();
                assert!(
                    text.to_lowercase().contains(&word.to_lowercase()),
                    "{pointer}: the error does not name the {word}: {text}"
                );
            }
            Ok(s) => panic!("{pointer} = {bad} was accepted: {s:?}"),
        }
    }
    assert_eq!(
        client.checkpoint().expect("checkpoint").header.log_size,
        log_size
    );
    assert_eq!(client.health().expect("health").mempool, 0);
}
