//! Four validators, state proofs: a bank proves an SCO code's credit attestation from the genesis
//! alone, sees its revocation in the next proof, proves a key never written absent, and cannot
//! pass an old proof off under a newer header. `caravan verify` prints the proven value.

use std::process::Command;
use std::time::Duration;

use caravan_sdk::api::TxStatus;
use caravan_sdk::bundle::{ProofBundle, verify_bundle};
use caravan_sdk::codec;
use caravan_sdk::genesis::Genesis;
use caravan_sdk::hash::{Domain, hash};
use caravan_sdk::ids::TxId;
use caravan_sdk::keys::Keypair;
use caravan_sdk::trade::ident::CountryCode;
use caravan_sdk::trade::model::{
    CreditAttestation, CreditRecord, CustomsGrade, Grade282, LegalIds,
};
use caravan_sdk::trade::sample;
use caravan_sdk::tx::{Body, Role};
use caravan_testnet::demo::Actor;

use crate::support::{testnet, wait_committed};

fn attestation_of(bundle: &ProofBundle, genesis: &Genesis) -> Option<CreditAttestation> {
    let state = verify_bundle(genesis, bundle)
        .unwrap_or_else(|e| panic!("state bundle fails: {e}"))
        .state
        .expect("a state proof");
    state
        .value
        .map(|v| codec::decode(&v, codec::MAX_BLOCK_BYTES).expect("an attestation record"))
}

#[test]
fn n4_state_proofs_of_credit_attestations() {
    let mut net = testnet(4, &[0, 1, 2, 3]);
    let chain = net.fed.chain_id();
    let genesis = Genesis::read(&net.fed.genesis_path).expect("genesis");
    let agency = Actor::new(
        net.fed.nodes[0].agency.as_str(),
        net.fed.admin_key(0).expect("admin"),
    )
    .expect("actor");
    let exporter =
        Actor::new("CN-STATE-EXPORTER", Keypair::generate().expect("key")).expect("actor");
    let bank = Actor::new("KZ-BANK-STATE", Keypair::generate().expect("key")).expect("actor");
    let seller = sample::seller();
    let setup = vec![
        agency.sign(
            chain,
            Body::RegisterEnterprise {
                id: exporter.id.clone(),
                name: seller.name.clone(),
                country: CountryCode::new("CN").expect("cn"),
                legal_ids: LegalIds {
                    uscc: seller.uscc.clone(),
                    lei: None,
                    national: None,
                },
                roles: vec![Role::Enterprise],
                public_key: exporter.key.public(),
            },
        ),
        agency.sign(
            chain,
            Body::RegisterParticipant {
                id: bank.id.clone(),
                name: "Almaty bank".into(),
                roles: vec![Role::Bank],
                public_key: bank.key.public(),
            },
        ),
    ];
    for tx in &setup {
        net.fed.client(0).submit(tx, false).expect("admitted");
    }
    wait_committed(
        &net.fed.client(0),
        &setup.iter().map(|t| t.id()).collect::<Vec<_>>(),
        Duration::from_secs(60),
    );
    let sco = bank
        .reader(&net.fed, 0)
        .participant(&exporter.id)
        .expect("participant")
        .sco_code
        .expect("an SCO code");

    // A customs grade is attested; the bank fetches its state proof from another node and
    // verifies it against the genesis alone: present, with the node's record.
    let attest = agency.sign(
        chain,
        Body::AttestCredit {
            sco_code: sco.clone(),
            record: CreditRecord::CustomsGrade {
                grade: CustomsGrade::Order282(Grade282::AdvancedCertified),
            },
            valid_from: sample::date(2026, 4, 1),
            valid_until: None,
            evidence_hash: hash(Domain::Content, b"GACC decision 2026-0412"),
        },
    );
    let attestation = attest.id();
    let status = net.fed.client(1).submit(&attest, true).expect("attest");
    let TxStatus::Committed { receipt, .. } = status else {
        panic!("attestation not committed: {status:?}");
    };
    net.fed
        .wait_height(2, receipt.height, Duration::from_secs(30))
        .expect("node 2 caught up");
    let live = bank
        .reader(&net.fed, 2)
        .sco_proof(sco.as_str(), Some(&attestation))
        .expect("state bundle");
    let record = attestation_of(&live, &genesis).expect("the attestation is present");
    assert_eq!(record.id, attestation);
    assert_eq!(record.sco_code, sco);
    assert!(record.revoked.is_none());
    let view = bank
        .reader(&net.fed, 2)
        .sco(sco.as_str())
        .expect("sco view");
    assert!(view.attestations.contains(&record));
    // The enterprise record itself is provable too.
    let enterprise = bank
        .reader(&net.fed, 3)
        .sco_proof(sco.as_str(), None)
        .expect("enterprise bundle");
    let proven = verify_bundle(&genesis, &enterprise)
        .expect("enterprise verifies")
        .state
        .expect("state");
    assert!(proven.value.is_some());

    // Revoked: the next proof shows the revocation, under a later certified header.
    let revoke = agency.sign(
        chain,
        Body::RevokeCredit {
            attestation,
            reason: "grade withdrawn after audit".into(),
        },
    );
    assert!(matches!(
        net.fed.client(0).submit(&revoke, true),
        Ok(TxStatus::Committed { .. })
    ));
    let revoked = agency_reader(&net, &agency)
        .sco_proof(sco.as_str(), Some(&attestation))
        .expect("state bundle");
    let record = attestation_of(&revoked, &genesis).expect("still present");
    let revocation = record.revoked.expect("the proof shows the revocation");
    assert_eq!(revocation.tx, revoke.id());
    let (old, new) = (
        live.state.as_ref().expect("old state"),
        revoked.state.as_ref().expect("new state"),
    );
    assert!(new.header.height > old.header.height);
    assert_ne!(new.header.state_root, old.header.state_root);

    // The old (unrevoked) value and proof under the newer certified header: refused, naming
    // the state proof link.
    let mut stale = revoked.clone();
    if let Some(state) = stale.state.as_mut() {
        state.value = old.value.clone();
        state.proof = old.proof.clone();
    }
    let error = verify_bundle(&genesis, &stale).expect_err("a stale proof is refused");
    assert_eq!(error.link(), "state proof");

    // A key never written is proven absent; an attestation id never used likewise.
    let never = TxId(hash(Domain::Content, b"never attested"));
    let absent = bank
        .reader(&net.fed, 1)
        .sco_proof(sco.as_str(), Some(&never))
        .expect("absence bundle");
    assert!(attestation_of(&absent, &genesis).is_none());
    let absent = agency_reader(&net, &agency)
        .state_proof(b"p/NEVER-REGISTERED")
        .expect("absence bundle");
    let proven = verify_bundle(&genesis, &absent)
        .expect("absence verifies")
        .state
        .expect("state");
    assert_eq!(proven.value, None);
    // The key given as text, the bundle as JSON: the same proof.
    let json = agency_reader(&net, &agency)
        .get_signed_text("/v1/state/proof?key=p/NEVER-REGISTERED&format=json")
        .expect("json bundle");
    let from_json = ProofBundle::parse(json.as_bytes()).expect("a JSON bundle");
    assert_eq!(
        from_json.state.as_ref().map(|s| &s.key),
        absent.state.as_ref().map(|s| &s.key)
    );
    assert!(verify_bundle(&genesis, &from_json).is_ok());
    // Claiming a value for it fails at the state proof.
    let mut forged = absent.clone();
    if let Some(state) = forged.state.as_mut() {
        state.value = Some(b"x".to_vec());
    }
    assert_eq!(
        verify_bundle(&genesis, &forged).err().map(|e| e.link()),
        Some("state proof")
    );

    // Replay markers are not in the state tree: nobody gets a proof of one (a proof of
    // absence would mislead).
    let nonce_key = [b"n/".as_slice(), agency.id.as_str().as_bytes()].concat();
    for reader in [bank.reader(&net.fed, 0), agency_reader(&net, &agency)] {
        let refused = reader.state_proof(&nonce_key);
        assert_eq!(refused.err().and_then(|e| e.status()), Some(400));
    }
    // Documents and liens are proven to the agencies only.
    let lien_key = b"l/0000".to_vec();
    let refused = bank.reader(&net.fed, 0).state_proof(&lien_key);
    assert_eq!(refused.err().and_then(|e| e.status()), Some(403));
    assert!(agency_reader(&net, &agency).state_proof(&lien_key).is_ok());

    // The CLI fetches the same bundles and prints what was proven.
    let dir = tempfile::tempdir().expect("tmp");
    let caravan = env!("CARGO_BIN_EXE_caravan-it");
    let key_file = dir.path().join("bank.key");
    caravan_sdk::keys::write_key_file(&key_file, "participant", &bank.key).expect("key file");
    let fetch_and_verify = |extra: &[&str], file: &str| {
        let path = dir.path().join(file);
        let out = Command::new(caravan)
            .args(["proof", "sco", sco.as_str(), "--node"])
            .arg(&net.fed.nodes[0].api_url)
            .args(["--as", bank.id.as_str(), "--key"])
            .arg(&key_file)
            .args(extra)
            .arg("--out")
            .arg(&path)
            .output()
            .expect("proof sco");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = Command::new(caravan)
            .arg("verify")
            .arg(&path)
            .arg("--genesis")
            .arg(&net.fed.genesis_path)
            .output()
            .expect("verify");
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let attestation_text = attestation.to_string();
    let stdout = fetch_and_verify(&["--attestation", &attestation_text], "attestation.json");
    assert!(stdout.contains("VERIFIED"), "{stdout}");
    assert!(
        stdout.contains("grade withdrawn after audit"),
        "the value is printed as JSON: {stdout}"
    );
    assert!(stdout.contains("certified by"), "{stdout}");
    let never_text = never.to_string();
    let stdout = fetch_and_verify(&["--attestation", &never_text], "never.cbor");
    assert!(stdout.contains("absent"), "{stdout}");
}

/// A client of node 0 that signs its reads as the agency.
fn agency_reader(net: &crate::support::TestNet, agency: &Actor) -> caravan_sdk::client::Client {
    agency.reader(&net.fed, 0)
}
