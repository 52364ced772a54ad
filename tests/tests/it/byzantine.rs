//! A Byzantine agency: one validator of four double-signs its votes and proposes conflicting
//! blocks (the engine's Byzantine network proxy, in a test-only build of the node). The
//! ledger does not fork, nothing acknowledged is lost, and the other agencies put the evidence
//! on the ledger, where the API shows it and anyone can check it with the validator's key.

use std::time::{Duration, Instant};

use caravan_sdk::evidence::Equivocation;
use caravan_sdk::genesis::Genesis;
use serde_json::Value;

use crate::history::History;
use crate::support::{record, register_exporter, testnet};

/// Equivocate on every vote and every proposal.
const BYZANTINE: &str =
    r#"{"equivocate_votes": {"mode": "always"}, "equivocate_proposals": {"mode": "always"}}"#;

#[test]
fn n4_byzantine_agency_equivocates_no_fork_and_its_evidence_is_on_the_ledger() {
    let mut net = testnet(4, &[0, 1, 2]);
    net.fed
        .start_with(3, &["--byzantine", BYZANTINE])
        .expect("start the Byzantine node");
    net.fed
        .wait_healthy(3, Duration::from_secs(60))
        .expect("Byzantine node up");
    let log = std::fs::read_to_string(&net.fed.nodes[3].log).unwrap_or_default();
    assert!(log.contains("BYZANTINE"), "node 3 did not turn Byzantine");

    let exporter = register_exporter(&net, 0, "CN-EXPORTER-BYZANTINE");
    let history = History::default();
    let clients: Vec<_> = (0..4).map(|i| net.fed.client(i)).collect();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut evidence: Vec<Value> = Vec::new();
    let mut nonce = 0;
    while Instant::now() < deadline {
        for client in &clients {
            nonce += 1;
            history.submit(client, &record(&net, &exporter, nonce));
        }
        let text = clients[0].get_text("/v1/evidence").expect("evidence");
        evidence = serde_json::from_str(&text).expect("evidence json");
        let steps: std::collections::BTreeSet<&str> =
            evidence.iter().filter_map(|r| r["step"].as_str()).collect();
        if steps.contains("proposal") && steps.iter().any(|s| *s != "proposal") && nonce >= 200 {
            break;
        }
    }
    let (submitted, acknowledged) = history.counts();
    eprintln!(
        "Byzantine run: {submitted} submitted, {acknowledged} acknowledged, {} equivocations recorded",
        evidence.len()
    );
    assert!(!evidence.is_empty(), "no equivocation was recorded");
    // The ledger keeps a bounded number per agency: enough to prove it, not a flood.
    assert!(
        evidence.len() <= 16,
        "{} equivocations recorded for one agency",
        evidence.len()
    );
    assert!(
        acknowledged >= 100,
        "only {acknowledged} of {submitted} acknowledged"
    );

    // Every record names the Byzantine agency and proves itself with its validator key.
    let genesis = Genesis::read_verified(&net.fed.genesis_path)
        .expect("genesis")
        .0;
    let byzantine = genesis
        .content
        .agencies
        .iter()
        .find(|c| c.agency == net.fed.nodes[3].agency)
        .expect("node 3's card");
    let chain = genesis.chain_id();
    let mut steps = std::collections::BTreeSet::new();
    for record in &evidence {
        assert_eq!(
            record["agency"],
            byzantine.agency.as_str(),
            "evidence against the wrong agency: {record}"
        );
        assert_ne!(record["reported_by"], byzantine.agency.as_str());
        let e: Equivocation = serde_json::from_value(record["evidence"].clone()).expect("evidence");
        assert_eq!(e.validator(), byzantine.validator_key);
        e.verify(&chain).expect("the evidence verifies offline");
        steps.insert(e.step());
    }
    eprintln!("equivocations recorded by step: {steps:?}");
    assert!(
        steps.contains("proposal"),
        "no proposal equivocation: {steps:?}"
    );
    assert!(
        steps.contains("prevote") || steps.contains("precommit"),
        "no vote equivocation: {steps:?}"
    );

    // No fork: all four hold the same blocks, every acknowledged transaction once.
    history.check(&mut net, &[0, 1, 2, 3]);
    net.fed.stop_all().expect("stop");
}
