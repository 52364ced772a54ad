//! Governed membership, live: while records are being submitted, the federation admits a fifth
//! agency, removes a founder and rotates a validator key. Each change takes effect at its
//! scheduled height without stopping the federation, the new validators' votes count (the tests
//! force them to be needed), and bundles taken before, between and after the changes all verify
//! from the original genesis alone; forged or incomplete chains of changes are refused.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use caravan_sdk::api::TxStatus;
use caravan_sdk::block::{CommitSignature, VoteKind, vote_digest};
use caravan_sdk::bundle::{ProofBundle, VerifyError, verify_bundle};
use caravan_sdk::ids::{AgencyId, Height, Nonce, ParticipantId, TxId};
use caravan_sdk::keys::{Keypair, read_key_file, write_key_file};
use caravan_sdk::tx::{Body, Change, Role, UnsignedTx, VALIDATOR_CHANGE_DELAY};

use crate::support::{
    TestNet, agency_client, assert_same_chain, record, register_exporter, testnet, wait_committed,
};

/// Signs and commits a governance body as agency `i`, through node `via`.
fn govern(net: &TestNet, i: usize, via: usize, nonce: u64, body: Body) -> TxId {
    let tx = UnsignedTx {
        chain_id: net.fed.chain_id(),
        signer: ParticipantId::from(&net.fed.nodes[i].agency),
        nonce: Nonce(nonce),
        body,
    }
    .sign(&net.fed.admin_key(i).expect("admin key"));
    let status = net.fed.client(via).submit(&tx, true).expect("submit");
    match status {
        TxStatus::Committed { receipt, .. } => assert!(
            matches!(receipt.outcome, caravan_sdk::tx::Outcome::Accepted),
            "governance transaction of agency {i} rejected: {:?}",
            receipt.outcome
        ),
        other => panic!("governance transaction of agency {i} not committed: {other:?}"),
    }
    tx.id()
}

/// Proposes `change` as agency `proposer` and approves it by `approvers`; returns the first
/// height the new set certifies.
fn decide(
    net: &TestNet,
    proposer: usize,
    approvers: &[usize],
    nonce: u64,
    change: Change,
) -> Height {
    let proposal = govern(
        net,
        proposer,
        1,
        nonce,
        Body::ProposeChange {
            change: Box::new(change),
        },
    );
    for &a in approvers {
        govern(net, a, 1, nonce, Body::ApproveChange { proposal });
    }
    let text = net
        .fed
        .client(1)
        .get_text(&format!("/v1/proposals/{proposal}"))
        .expect("proposal");
    let json: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(json["status"]["status"], "enacted", "{json}");
    let activation = json["status"]["activation"].as_u64().expect("activation");
    let enacted = json["status"]["height"].as_u64().expect("height");
    assert_eq!(activation, enacted + VALIDATOR_CHANGE_DELAY);
    Height(activation)
}

fn validator_count(net: &TestNet, via: usize) -> usize {
    let text = net
        .fed
        .client(via)
        .get_text("/v1/validators")
        .expect("validators");
    let json: serde_json::Value = serde_json::from_str(&text).expect("json");
    json["validators"].as_array().expect("array").len()
}

/// Commits a record through node 1 and returns its bundle.
fn bundle_of(net: &TestNet, exporter: &crate::support::Exporter, nonce: u64) -> ProofBundle {
    let tx = record(net, exporter, nonce);
    let status = net.fed.client(1).submit(&tx, true).expect("submit");
    assert!(matches!(status, TxStatus::Committed { .. }), "{status:?}");
    agency_client(net, 1).proof(&tx.id()).expect("bundle")
}

#[test]
fn n4_agencies_join_leave_and_rotate_keys_live_and_old_bundles_still_verify() {
    let mut net = testnet(4, &[0, 1, 2, 3]);
    let genesis = net.fed.genesis.clone();
    let exporter = register_exporter(&net, 1, "CN-EXPORTER-GOVERN");

    // Records keep arriving at node 1 (never stopped) while the membership changes.
    let stop = Arc::new(AtomicBool::new(false));
    let background = {
        let stop = stop.clone();
        let client = net.fed.client(1);
        let txs: Vec<_> = (1_000..1_400u64)
            .map(|n| record(&net, &exporter, n))
            .collect();
        std::thread::spawn(move || {
            let mut sent = Vec::new();
            for tx in txs {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                if client.submit(&tx, false).is_ok() {
                    sent.push(tx.id());
                }
                std::thread::sleep(Duration::from_millis(150));
            }
            sent
        })
    };

    let before = bundle_of(&net, &exporter, 1);

    // 1. A fifth agency joins. Its node starts from the genesis and its own member card, syncs,
    //    and votes from the activation height.
    let uz = AgencyId::new("UZ-TASHKENT-CUSTOMS").expect("id");
    let new = net
        .fed
        .prepare_agency(
            &uz,
            "Uzbekistan customs, Tashkent",
            "UZ",
            vec![Role::Customs],
        )
        .expect("new agency keys");
    let card = net.fed.member_card(new).expect("card");
    let activation = decide(&net, 0, &[1, 2], 10, Change::AddAgency { card });
    net.fed.start(new).expect("start the new agency's node");
    net.fed
        .wait_height(new, activation.next(), Duration::from_secs(120))
        .expect("the new node catches up past the activation");
    assert_eq!(validator_count(&net, 1), 5);
    // With a founder down, four of five must sign: the new agency's vote is needed.
    net.fed.stop(3).expect("stop node 3");
    let between = bundle_of(&net, &exporter, 2);
    assert!(between.item.as_ref().expect("item").header.height >= activation);
    let new_key = read_key_file(&net.fed.nodes[new].keys.join("validator.key"))
        .expect("new validator key")
        .public();
    assert!(
        between
            .item
            .as_ref()
            .expect("item")
            .certificate
            .signatures
            .iter()
            .any(|s| s.validator == new_key),
        "the new agency's precommit is not in a certificate that needed it"
    );

    // 2. A founder (node 3, still down) is removed; four of five approve.
    let removed = net.fed.nodes[3].agency.clone();
    let removed_key =
        read_key_file(&net.fed.nodes[3].keys.join("validator.key")).expect("removed key");
    let activation = decide(
        &net,
        0,
        &[1, 2, new],
        11,
        Change::RemoveAgency {
            agency: removed.clone(),
        },
    );
    net.fed
        .wait_height(1, activation.next(), Duration::from_secs(120))
        .expect("past the removal");
    assert_eq!(validator_count(&net, 1), 4);
    let after_removal = bundle_of(&net, &exporter, 3);

    // 3. Agency 2 rotates its validator key: its node restarts with the new key and is needed
    //    (node 4 down) once the new set is in force.
    let rotated = Keypair::generate().expect("key");
    let activation = decide(
        &net,
        0,
        &[1, new],
        12,
        Change::RotateValidatorKey {
            agency: net.fed.nodes[2].agency.clone(),
            validator_key: rotated.public(),
        },
    );
    net.fed.stop(2).expect("stop node 2");
    let key_path = net.fed.nodes[2].keys.join("validator.key");
    std::fs::remove_file(&key_path).expect("remove the old key");
    write_key_file(&key_path, "validator", &rotated).expect("write the new key");
    net.fed.start(2).expect("restart node 2 with its new key");
    net.fed
        .wait_height(2, activation.next(), Duration::from_secs(120))
        .expect("past the rotation");
    net.fed.stop(new).expect("stop the new agency's node");
    let after_rotation = bundle_of(&net, &exporter, 4);
    assert!(
        after_rotation
            .item
            .as_ref()
            .expect("item")
            .certificate
            .signatures
            .iter()
            .any(|s| s.validator == rotated.public()),
        "the rotated key's precommit is not in a certificate that needed it"
    );
    net.fed.start(new).expect("restart node 4");

    stop.store(true, Ordering::Relaxed);
    let sent = background.join().expect("background submitter");
    assert!(sent.len() > 20, "only {} background records", sent.len());
    wait_committed(&net.fed.client(1), &sent, Duration::from_secs(120));

    // Every bundle verifies from the original genesis alone.
    for (name, bundle, changes) in [
        ("before", &before, 0),
        ("between", &between, 1),
        ("after the removal", &after_removal, 2),
        ("after the rotation", &after_rotation, 3),
    ] {
        assert_eq!(bundle.validator_changes.len(), changes, "{name}");
        let proven = verify_bundle(&genesis, bundle)
            .unwrap_or_else(|e| panic!("bundle {name} does not verify: {e}"));
        assert_eq!(
            proven.transaction.as_ref().expect("tx").height,
            bundle.item.as_ref().expect("item").header.height
        );
    }
    // The same bundles survive the CBOR round trip.
    let again = ProofBundle::from_bytes(&after_rotation.to_bytes()).expect("decode");
    assert_eq!(again, after_rotation);

    // A chain that skips a change is refused, naming the header.
    let mut skipped = after_rotation.clone();
    skipped.validator_changes.remove(1);
    let err = verify_bundle(&genesis, &skipped).expect_err("a skipped change");
    assert_eq!(err.link(), "validator-set change", "{err}");
    let mut truncated = after_rotation.clone();
    truncated.validator_changes.pop();
    let err = verify_bundle(&genesis, &truncated).expect_err("a missing last change");
    assert_eq!(err.link(), "header", "{err}");
    assert!(err.to_string().contains("skips a change"), "{err}");
    // A forged change (an extra validator slipped into the set) is refused.
    let mut forged = after_rotation.clone();
    forged.validator_changes[0]
        .validators
        .validators
        .retain(|v| v.agency != uz);
    let err = verify_bundle(&genesis, &forged).expect_err("a forged change");
    assert_eq!(err.link(), "validator-set change", "{err}");
    // A certificate carrying the removed agency's signature no longer counts it.
    let mut by_removed = after_rotation.clone();
    let header = by_removed.item.as_ref().expect("item").header.clone();
    let digest = vote_digest(
        &genesis.chain_id(),
        VoteKind::Precommit,
        header.height,
        i64::from(by_removed.item.as_ref().expect("item").certificate.round),
        Some(&header.id()),
    );
    by_removed
        .item
        .as_mut()
        .expect("item")
        .certificate
        .signatures
        .push(CommitSignature {
            validator: removed_key.public(),
            signature: removed_key.sign(&digest),
        });
    let err = verify_bundle(&genesis, &by_removed).expect_err("a removed agency's signature");
    assert!(matches!(err, VerifyError::Certificate(_)), "{err}");
    assert!(err.to_string().contains("not a validator"), "{err}");

    // The agencies that remain hold one history.
    let tip = agency_client(&net, 1).health().expect("health").height;
    net.fed
        .wait_height(new, tip, Duration::from_secs(60))
        .expect("node 4 caught up");
    assert_same_chain(&net, &[0, 1, 2, new]);
    net.fed.stop_all().expect("stop");
}
