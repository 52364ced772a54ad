//! The explorer's public routes on the demo federation: the pages themselves, the genesis, the
//! overview, search (anonymous and signed, each reader finding only what it may see), the live
//! block events and a credit attestation as a Verifiable Credential.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use caravan_sdk::client::Client;
use caravan_sdk::credential::{Credential, verify_credential};
use caravan_sdk::genesis::Genesis;
use caravan_sdk::hash::{Domain, hash};
use caravan_sdk::ids::{Nonce, ParticipantId};
use caravan_sdk::keys::read_key_file;
use caravan_sdk::tx::{Body, UnsignedTx};
use caravan_testnet::demo;
use serde_json::Value;

use crate::support::{launcher, one_at_a_time};

fn json(client: &Client, path: &str) -> Value {
    let text = client
        .get_text(path)
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path}: {e}: {text}"))
}

fn signed_json(client: &Client, path: &str) -> Value {
    let text = client
        .get_signed_text(path)
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path}: {e}: {text}"))
}

fn kinds(result: &Value) -> Vec<(String, String)> {
    result["matches"]
        .as_array()
        .expect("matches")
        .iter()
        .map(|m| {
            (
                m["kind"].as_str().unwrap_or("").to_string(),
                m["id"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// A raw GET whose status line and headers are returned, body left unread.
fn head(base: &str, path: &str) -> (String, String) {
    let addr = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status).expect("status");
    let mut headers = String::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("header");
        if line.trim().is_empty() {
            break;
        }
        headers.push_str(&line.to_ascii_lowercase());
    }
    (status, headers)
}

#[test]
fn explorer_routes_on_the_demo_federation() {
    let _guard = one_at_a_time();
    let dir = tempfile::tempdir().expect("tempdir");
    let (fed, facts) = demo::scenario(dir.path(), launcher()).expect("demo scenario");
    let node = fed.client(1);
    let base = fed.nodes[1].api_url.clone();

    // The pages: served by the node itself, under a policy that admits only its own files.
    let (status, headers) = head(&base, "/");
    assert!(status.contains(" 200 "), "{status}");
    assert!(headers.contains("content-type: text/html"), "{headers}");
    assert!(
        headers.contains("content-security-policy: default-src 'self'"),
        "{headers}"
    );
    let (status, headers) = head(&base, "/explorer/caravan.wasm");
    assert!(status.contains(" 200 "), "{status}");
    assert!(
        headers.contains("content-type: application/wasm"),
        "{headers}"
    );
    let (status, _) = head(&base, "/explorer/secret.txt");
    assert!(status.contains(" 404 "), "{status}");

    // The genesis the node runs with is the ceremony's.
    let served: Genesis =
        serde_json::from_str(&node.get_text("/v1/genesis").expect("genesis")).expect("parse");
    let on_disk = Genesis::read_verified(&fed.genesis_path)
        .expect("genesis file")
        .0;
    assert_eq!(served.chain_id(), on_disk.chain_id());

    // Overview: four agencies, all validating, a quorum signing the latest block, blocks listed
    // newest first with what they carried.
    let overview = json(&node, "/v1/overview");
    let height = overview["height"].as_u64().expect("height");
    assert!(height > 10, "{overview}");
    let agencies = overview["agencies"].as_array().expect("agencies");
    assert_eq!(agencies.len(), 4, "{overview}");
    assert!(agencies.iter().all(|a| a["validator"] == true));
    let signed = agencies
        .iter()
        .filter(|a| a["signed_latest"] == true)
        .count();
    assert!(
        signed >= 3,
        "only {signed} agencies signed the latest block: {overview}"
    );
    assert!(
        agencies
            .iter()
            .any(|a| a["id"] == "KZ-KGS-CUSTOMS" && a["country"] == "KZ")
    );
    let blocks = overview["latest_blocks"].as_array().expect("blocks");
    assert_eq!(blocks[0]["height"].as_u64(), Some(height));
    assert!(
        blocks
            .windows(2)
            .all(|w| w[0]["height"].as_u64() > w[1]["height"].as_u64())
    );
    assert!(
        overview["tx_per_s"].as_f64().expect("rate") > 0.0,
        "{overview}"
    );
    assert_eq!(overview["node"]["agency"], "KZ-KGS-CUSTOMS");
    // Each listed block's summary is what the block holds.
    let agency = fed.client(0).signing_as(
        ParticipantId::new(fed.nodes[0].agency.as_str()).expect("id"),
        fed.admin_key(0).expect("admin key"),
    );
    let mut listed_kinds = std::collections::BTreeSet::new();
    for summary in blocks {
        let h = summary["height"].as_u64().expect("height");
        let certified = agency.block(caravan_sdk::ids::Height(h)).expect("block");
        let mut counts = std::collections::BTreeMap::<String, u64>::new();
        for tx in &certified.block.transactions {
            *counts
                .entry(tx.tx.body.type_name().to_string())
                .or_default() += 1;
        }
        let summarised: std::collections::BTreeMap<String, u64> =
            serde_json::from_value(summary["kinds"].clone()).expect("kinds");
        assert_eq!(summarised, counts, "block {h}");
        assert_eq!(
            summary["txs"].as_u64(),
            Some(certified.block.transactions.len() as u64)
        );
        assert_eq!(summary["id"], certified.block_id.to_string(), "block {h}");
        assert!(certified.withheld.is_empty());
        listed_kinds.extend(counts.into_keys());
    }
    assert!(!listed_kinds.is_empty(), "{overview}");

    // Anonymous search: by the term's form only, with a note saying what signing in adds.
    let result = json(&node, &format!("/v1/search?q={}", facts.sco_code));
    assert_eq!(kinds(&result), vec![("sco".into(), facts.sco_code.clone())]);
    assert_eq!(result["signed_in"], false);
    assert!(result["note"].as_str().expect("note").contains("sign in"));
    let result = json(&node, &format!("/v1/search?q={}", facts.invoice));
    assert_eq!(
        kinds(&result),
        vec![("tx".into(), facts.invoice.to_string())]
    );
    let result = json(&node, &format!("/v1/search?q={}", facts.train));
    assert!(kinds(&result).is_empty(), "{result}");
    let result = json(&node, &format!("/v1/search?q={height}"));
    assert_eq!(kinds(&result), vec![("block".into(), height.to_string())]);

    // Signed search, as the rail operator (a party): the train, a container (typed loosely) and
    // the note's number lead to the rail note of the consignment; the reference to it.
    let rail = reader(&fed, &facts, "CN-CR-EXPRESS", 1);
    let loose_container = format!(
        "{} {}",
        facts.container[..4].to_lowercase(),
        &facts.container[4..]
    );
    for term in [
        facts.train.clone(),
        loose_container,
        facts.rail_note_number.clone(),
    ] {
        let path = format!("/v1/search?q={}", term.replace(' ', "%20"));
        let result = signed_json(&rail, &path);
        let found = result["matches"].as_array().expect("matches");
        assert!(
            found
                .iter()
                .any(|m| m["kind"] == "document" && m["consignment"] == facts.ucr.as_str()),
            "{term}: {result}"
        );
        assert_eq!(result["signed_in"], true);
    }
    let result = signed_json(&rail, &format!("/v1/search?q={}", facts.train));
    let train = result["matches"]
        .as_array()
        .expect("matches")
        .iter()
        .find(|m| m["kind"] == "document")
        .expect("the rail note")
        .clone();
    assert_eq!(train["field"], "train", "{train}");
    assert_eq!(train["value"], facts.train.as_str(), "{train}");
    assert_eq!(train["number"], facts.rail_note_number.as_str(), "{train}");
    assert_eq!(train["document_kind"], "transport", "{train}");
    let result = signed_json(&rail, &format!("/v1/search?q={}", facts.ucr));
    assert!(kinds(&result).contains(&("consignment".into(), facts.ucr.clone())));

    // A bank that is no party to the consignment finds no document of it.
    let outsider_bank = reader(&fed, &facts, "KZ-BANK-ALMATY", 2);
    let result = signed_json(&outsider_bank, &format!("/v1/search?q={}", facts.train));
    assert!(kinds(&result).is_empty(), "{result}");
    assert!(
        result["note"]
            .as_str()
            .expect("note")
            .contains("nothing you may see")
    );

    // Bad input: a clear error, and the node keeps serving.
    for (path, reason) in [
        ("/v1/search", "bad_query"),
        ("/v1/search?q=%20", "bad_query"),
    ] {
        let e = node.get_text(path).expect_err(path);
        assert_eq!(
            (e.status(), e.reason()),
            (Some(400), Some(reason)),
            "{path}"
        );
    }
    let long = "A".repeat(200);
    let e = node
        .get_text(&format!("/v1/search?q={long}"))
        .expect_err("long");
    assert_eq!(e.status(), Some(400));
    let forged = Client::new(&base).signing_as(
        ParticipantId::new("CN-CR-EXPRESS").expect("id"),
        caravan_sdk::keys::Keypair::from_seed(&[9; 32]),
    );
    let e = forged
        .get_signed_text(&format!("/v1/search?q={}", facts.train))
        .expect_err("forged");
    assert_eq!(e.status(), Some(403));

    // The SCO page's history: the consignment by reference, and the lien on the invoice.
    let sco = signed_json(
        &reader(&fed, &facts, "CN-BANK-QINGDAO", 0),
        &format!("/v1/sco/{}", facts.sco_code),
    );
    let consignments = sco["consignments"].as_array().expect("consignments");
    assert!(
        consignments.iter().any(|k| k["ucr"] == facts.ucr.as_str()),
        "{sco}"
    );
    let liens = sco["liens"].as_array().expect("liens");
    assert!(
        liens
            .iter()
            .any(|l| l["document"] == facts.invoice.to_string().as_str()),
        "{sco}"
    );
    assert_eq!(
        sco["summary"]["history"]["active_liens"].as_u64(),
        Some(liens.len() as u64),
        "{sco}"
    );

    // The credential of the customs grade: a signed read; it verifies offline from the genesis.
    let path = format!(
        "/v1/sco/{}/credential?attestation={}",
        facts.sco_code, facts.grade_attestation
    );
    let e = node.get_text(&path).expect_err("unsigned");
    assert_eq!(e.status(), Some(403));
    let bank = reader(&fed, &facts, "CN-BANK-QINGDAO", 3);
    let text = bank.get_signed_text(&path).expect("credential");
    let credential = Credential::parse(text.as_bytes()).expect("a credential");
    verify_credential(&on_disk, &credential).expect("the credential verifies");
    let e = bank
        .get_signed_text(&format!(
            "/v1/sco/{}/credential?attestation={}",
            facts.sco_code, facts.invoice
        ))
        .expect_err("not an attestation");
    assert_eq!(e.status(), Some(404));

    // Live events: a block event arrives for a transaction committed after connecting.
    let addr = base.trim_start_matches("http://").to_string();
    let mut stream = TcpStream::connect(&addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        stream,
        "GET /v1/events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .expect("write");
    let mut events = BufReader::new(stream);
    let mut line = String::new();
    events.read_line(&mut line).expect("status");
    assert!(line.contains(" 200 "), "{line}");
    let bank_key = read_key_file(&facts.keys["CN-BANK-QINGDAO"]).expect("key");
    let tx = UnsignedTx {
        chain_id: fed.chain_id(),
        signer: ParticipantId::new("CN-BANK-QINGDAO").expect("id"),
        nonce: Nonce(1_000_000),
        body: Body::AnchorRecord {
            kind: "commercial_invoice".into(),
            document_hash: hash(Domain::Content, b"explorer event"),
            metadata: vec![],
        },
    }
    .sign(&bank_key);
    let status = fed.client(0).submit(&tx, true).expect("submit");
    let committed_at = match status {
        caravan_sdk::api::TxStatus::Committed { receipt, .. } => receipt.height.0,
        other => panic!("not committed: {other:?}"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = false;
    while Instant::now() < deadline && !seen {
        line.clear();
        if events.read_line(&mut line).expect("event line") == 0 {
            break;
        }
        if let Some(data) = line.trim().strip_prefix("data:") {
            let event: Value = serde_json::from_str(data.trim()).expect("event json");
            if event["height"].as_u64() == Some(committed_at) {
                assert_eq!(event["kinds"]["anchor_record"], 1, "{event}");
                seen = true;
            }
        }
    }
    assert!(seen, "no block event for height {committed_at}");
    let health = fed.client(1).health().expect("still serving");
    assert_eq!(health.status, "ok");
}

fn reader(
    fed: &caravan_testnet::federation::Federation,
    facts: &demo::DemoFacts,
    id: &str,
    node: usize,
) -> Client {
    let key = read_key_file(&facts.keys[id]).expect("key file");
    fed.client(node)
        .signing_as(ParticipantId::new(id).expect("id"), key)
}
