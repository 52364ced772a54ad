//! Four validators, no faults: 1,000 records submitted through all four nodes are all committed,
//! every node holds the same chain, and every record's bundle verifies offline; changing any
//! byte of a bundle makes verification fail.

use std::time::Duration;

use caravan_sdk::bundle::{BUNDLE_VERSION, ProofBundle, verify_bundle};
use caravan_sdk::genesis::Genesis;
use caravan_sdk::tx::Outcome;

use crate::support::{
    agency_client, assert_same_chain, record, register_exporter, testnet, wait_committed,
};

#[test]
fn n4_thousand_records_through_all_nodes() {
    let mut net = testnet(4, &[0, 1, 2, 3]);
    let exporter = register_exporter(&net, 0, "CN-EXPORTER-THOUSAND");
    let txs: Vec<_> = (1..=1000).map(|n| record(&net, &exporter, n)).collect();
    let ids: Vec<_> = txs.iter().map(|t| t.id()).collect();
    std::thread::scope(|s| {
        for node in 0..4 {
            let client = net.fed.client(node);
            let mine: Vec<_> = txs.iter().skip(node).step_by(4).collect();
            s.spawn(move || {
                for tx in mine {
                    client.submit(tx, false).expect("admitted");
                }
            });
        }
    });
    wait_committed(&net.fed.client(0), &ids, Duration::from_secs(240));
    let tip = net.fed.client(0).health().expect("health").height;
    for i in 0..4 {
        net.fed
            .wait_height(i, tip, Duration::from_secs(60))
            .expect("catch up");
    }
    assert_same_chain(&net, &[0, 1, 2, 3]);

    // Every record's bundle, fetched from the four nodes in turn, verifies against the genesis
    // file alone.
    let genesis = Genesis::read(&net.fed.genesis_path).expect("genesis");
    let mut sample = None;
    let mut longest = 0;
    for (n, id) in ids.iter().enumerate() {
        let bundle = agency_client(&net, n % 4).proof(id).expect("bundle");
        // The exporter's registration, proven under the record's own header.
        assert_eq!(bundle.version, BUNDLE_VERSION);
        assert!(bundle.signer_registration.is_none());
        let registration = bundle.registration.as_ref().expect("the registration");
        assert_eq!(registration.transaction.id(), exporter.registration);
        longest = longest.max(registration.path.len());
        let proven = verify_bundle(&genesis, &bundle)
            .unwrap_or_else(|e| panic!("bundle of {id} fails: {e}"))
            .transaction
            .expect("a transaction bundle");
        assert_eq!(&proven.tx_id, id);
        assert_eq!(proven.outcome, Outcome::Accepted);
        assert_eq!(proven.signer, exporter.id);
        assert!(proven.certified_by.len() >= 3);
        sample = Some(bundle);
    }

    // The registration precedes the records; a record past the log's 512th entry has it in
    // the perfect left subtree of 512 entries (at least 256 for any shape of this log).
    assert!(
        longest >= 8,
        "the longest registration path is {longest} hashes"
    );

    // Tamper: every single-byte change to a real bundle is refused.
    let bundle = sample.expect("a bundle");
    let bytes = bundle.to_bytes();
    for position in 0..bytes.len() {
        let mut changed = bytes.clone();
        changed[position] ^= 0x01;
        let verdict = ProofBundle::from_bytes(&changed).and_then(|b| verify_bundle(&genesis, &b));
        assert!(
            verdict.is_err(),
            "flipping byte {position} of {} still verifies",
            bytes.len()
        );
    }
    net.fed.stop_all().expect("stop");
}
