//! The user-facing executables, run as a user would: the demo exits 0 after every step,
//! `caravan verify` accepts a real bundle and names the failed link of a tampered one, and a
//! credit attestation exported as a Verifiable Credential verifies offline.

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
    assert!(
        stdout.contains("recomputed offline from 2 verified attestation bundles"),
        "{stdout}"
    );
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
    // Proofs are for registered readers: unsigned, the node answers 403.
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("403"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(caravan)
        .args([
            "proof",
            "get",
            "--node",
            &net.fed.nodes[0].api_url,
            &tx.id().to_string(),
            "--as",
            net.fed.nodes[0].agency.as_str(),
            "--key",
        ])
        .arg(net.fed.nodes[0].keys.join("admin.key"))
        .arg("--out")
        .arg(&bundle_path)
        .output()
        .expect("proof get");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // One file, or several verified together; `--json` when asked.
    let verify_all = |paths: &[&std::path::Path], json: bool| {
        let mut command = Command::new(caravan);
        command.arg("verify").args(paths);
        command.arg("--genesis").arg(&net.fed.genesis_path);
        if json {
            command.arg("--json");
        }
        command.output().expect("verify")
    };
    let verify = |path: &std::path::Path| verify_all(&[path], false);
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
    let mut bundle = crate::support::agency_client(&net, 0)
        .proof(&tx.id())
        .expect("bundle");
    if let Some(item) = bundle.item.as_mut()
        && let Body::AnchorRecord { metadata, .. } = &mut item.transaction.tx.body
    {
        metadata[0].1 = "INV-999999".into();
    }
    let tampered = dir.path().join("tampered.json");
    std::fs::write(&tampered, serde_json::to_vec(&bundle).expect("json")).expect("write");
    let out = verify(&tampered);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("link 'signature' failed"), "{stderr}");

    // Several bundles are verified together, each answered as alone.
    let out = verify_all(&[&bundle_path, &bundle_path], false);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout
            .lines()
            .filter(|line| line.starts_with("VERIFIED "))
            .count(),
        2,
        "{stdout}"
    );
    assert!(stdout.contains("2 of 2 verified"), "{stdout}");
    let garbage = dir.path().join("garbage.cbor");
    std::fs::write(&garbage, b"not a bundle").expect("write");
    let out = verify_all(&[&bundle_path, &tampered, &garbage, &bundle_path], false);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    assert!(
        lines[0].starts_with("VERIFIED") && lines[0].contains(&tx.id().to_string()),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with("NOT VERIFIED") && lines[1].contains("link 'signature' failed"),
        "{stdout}"
    );
    assert!(
        lines[2].starts_with("NOT VERIFIED") && lines[2].contains("link 'encoding' failed"),
        "{stdout}"
    );
    assert!(lines[3].starts_with("VERIFIED"), "{stdout}");
    assert!(lines[4].starts_with("2 of 4 verified"), "{stdout}");
    let out = verify_all(&[&tampered, &bundle_path], true);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    assert_eq!(report[0]["verified"], false, "{report}");
    assert_eq!(report[0]["link"], "signature", "{report}");
    assert_eq!(report[1]["verified"], true, "{report}");
    assert_eq!(
        report[1]["proven"]["transaction"]["tx_id"],
        tx.id().to_string(),
        "{report}"
    );

    // The stored log was not changed by any of this: the node still proves the original.
    let again = crate::support::agency_client(&net, 0)
        .proof(&tx.id())
        .expect("bundle");
    assert_eq!(again.item.expect("item").transaction, tx);

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
        &[],
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
            &[],
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
        .args(["up", "--validators", "4", "--observers", "1", "--dir"])
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
    assert_eq!(file.nodes.len(), 5);
    for node in &file.nodes {
        let health = caravan_sdk::client::Client::new(&node.api_url)
            .health()
            .expect("healthy after up returns");
        assert_eq!(health.agency, node.agency);
        assert_eq!(health.chain_id, file.chain_id);
        let role = if node.follows.is_some() {
            "observer"
        } else {
            "validator"
        };
        assert_eq!(health.role, role, "{}", node.agency);
    }
    assert_eq!(file.nodes.iter().filter(|n| n.follows.is_some()).count(), 1);
    // Consensus runs among the detached processes: every node commits (empty blocks when idle),
    // and the observer follows them.
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
    // Fault drills on the running federation: pause and resume, kill and start again.
    let fault = |node: &str, action: &str| {
        let out = Command::new(bin)
            .args(["fault", "--node", node, action, "--dir"])
            .arg(&fed_dir)
            .output()
            .expect("fault");
        assert!(
            out.status.success(),
            "fault {node} {action}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let victim = &file.nodes[3];
    let quick = caravan_sdk::client::Client::with_timeout(
        &victim.api_url,
        std::time::Duration::from_millis(500),
    );
    assert!(fault(victim.agency.as_str(), "pause").contains("paused"));
    assert!(quick.health().is_err(), "a paused node answered");
    fault("3", "resume");
    quick.health().expect("answers again after resume");
    fault("3", "kill");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(quick.health().is_err(), "a killed node answered");
    assert!(fault("3", "start").contains("started"));
    quick.health().expect("answers after start");
    let bad = Command::new(bin)
        .args(["fault", "--node", "NO-SUCH-NODE", "kill", "--dir"])
        .arg(&fed_dir)
        .output()
        .expect("fault");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no node"));
    // `down` reads the restarted node's new pid from testnet.json.
    let file: caravan_testnet::federation::TestnetFile = serde_json::from_str(
        &std::fs::read_to_string(fed_dir.join("testnet.json")).expect("testnet.json"),
    )
    .expect("parse");
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

#[test]
fn caravan_trade_cli_anchor_disclose_check_sco() {
    use caravan_sdk::keys::write_key_file;
    use caravan_sdk::trade::documents::DocumentFields;
    use caravan_sdk::trade::ident::CountryCode;
    use caravan_sdk::trade::model::LegalIds;
    use caravan_sdk::trade::sample;
    use caravan_sdk::tx::Role;
    use caravan_testnet::demo::Actor;

    let net = testnet(1, &[0]);
    let dir = tempfile::tempdir().expect("tmp");
    let caravan = env!("CARGO_BIN_EXE_caravan-it");
    let run = |args: &[&str]| {
        Command::new(caravan)
            .args(args)
            .output()
            .expect("run caravan")
    };
    let chain = net.fed.chain_id();
    let agency = Actor::new(
        net.fed.nodes[0].agency.as_str(),
        net.fed.admin_key(0).expect("admin"),
    )
    .expect("actor");
    let exporter_key = caravan_sdk::keys::Keypair::generate().expect("key");
    let key_path = dir.path().join("exporter.key");
    write_key_file(&key_path, "participant", &exporter_key).expect("key file");
    let seller = sample::seller();
    let register = agency.sign(
        chain,
        caravan_sdk::tx::Body::RegisterEnterprise {
            id: caravan_sdk::ids::ParticipantId::new("CN-HAINA-MACHINERY").expect("id"),
            name: seller.name.clone(),
            country: CountryCode::new("CN").expect("cn"),
            legal_ids: LegalIds {
                uscc: seller.uscc.clone(),
                lei: None,
                national: None,
            },
            roles: vec![Role::Enterprise],
            public_key: exporter_key.public(),
        },
    );
    net.fed
        .client(0)
        .submit(&register, true)
        .expect("registered");
    let node = net.fed.nodes[0].api_url.as_str();
    let genesis = net.fed.genesis_path.to_str().expect("utf8");
    let write = |name: &str, fields: DocumentFields| {
        let path = dir.path().join(name);
        std::fs::write(&path, serde_json::to_string_pretty(&fields).expect("json")).expect("write");
        path.to_str().expect("utf8").to_string()
    };
    let invoice = write("invoice.json", DocumentFields::Invoice(sample::invoice()));
    let original = dir.path().join("invoice.pdf");
    std::fs::write(&original, b"%PDF invoice HN-2025-0417").expect("write");
    let key = key_path.to_str().expect("utf8");

    // Anchor with salted field commitments computed locally.
    let out = run(&[
        "doc",
        "anchor",
        original.to_str().expect("utf8"),
        "--type",
        "invoice",
        "--fields",
        &invoice,
        "--node",
        node,
        "--signer",
        "CN-HAINA-MACHINERY",
        "--key",
        key,
        "--nonce",
        "1",
        "--genesis",
        genesis,
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: caravan_sdk::api::TxStatus = serde_json::from_str(&stdout).expect("status json");
    let reader = net.fed.client(0).signing_as(
        caravan_sdk::ids::ParticipantId::new("CN-HAINA-MACHINERY").expect("id"),
        exporter_key.clone(),
    );
    let document = reader.get_text(&format!("/v1/documents/{}", status.tx_id()));
    // get_text does not sign; the signed typed read is the consignment/document API below.
    assert_eq!(document.err().and_then(|e| e.status()), Some(403));
    let view: caravan_sdk::api::DocumentView = serde_json::from_str(&signed_get(
        &reader,
        &format!("/v1/documents/{}", status.tx_id()),
    ))
    .expect("document view");
    let root = view.versions[0].fields_root.to_string();

    // Disclose one field; anyone checks it against the anchored root; a changed value fails.
    let seed = dir.path().join("invoice.caravan-seed");
    let disclosure = dir.path().join("total.json");
    let out = run(&[
        "doc",
        "disclose",
        "--fields",
        &invoice,
        "--seed",
        seed.to_str().expect("utf8"),
        "--path",
        "total.minor",
        "--out",
        disclosure.to_str().expect("utf8"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&[
        "doc",
        "verify-disclosure",
        disclosure.to_str().expect("utf8"),
        "--root",
        &root,
    ]);
    assert!(
        out.status.success()
            && String::from_utf8_lossy(&out.stdout).contains("VERIFIED total.minor = 17920400")
    );
    let text = std::fs::read_to_string(&disclosure)
        .expect("read")
        .replace("17920400", "17920499");
    std::fs::write(&disclosure, text).expect("write");
    let out = run(&[
        "doc",
        "verify-disclosure",
        disclosure.to_str().expect("utf8"),
        "--root",
        &root,
    ]);
    assert_eq!(out.status.code(), Some(1));

    // `caravan check` runs the rules locally: a wrong rail weight fails rule 5, the right one passes.
    let mut heavy = sample::rail_consignment_note();
    heavy.weight_gross = sample::qty(11_500_000, "KGM");
    heavy.goods[0].weight_gross = sample::qty(10_100_000, "KGM");
    let common = [
        invoice.clone(),
        write(
            "declaration.json",
            DocumentFields::Declaration(sample::declaration()),
        ),
        write(
            "bl.json",
            DocumentFields::Transport(sample::sea_bill_of_lading()),
        ),
    ];
    let tail = [
        write(
            "pl.json",
            DocumentFields::PackingList(sample::packing_list()),
        ),
        write(
            "coo.json",
            DocumentFields::CertificateOfOrigin(sample::certificate_of_origin()),
        ),
    ];
    let heavy = write("smgs-heavy.json", DocumentFields::Transport(heavy));
    let good = write(
        "smgs.json",
        DocumentFields::Transport(sample::rail_consignment_note()),
    );
    let check = |note: &str| {
        let mut args = vec!["check".to_string()];
        args.extend(common.iter().cloned());
        args.push(note.to_string());
        args.extend(tail.iter().cloned());
        Command::new(caravan).args(&args).output().expect("check")
    };
    let out = check(&heavy);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL    weights"));
    let out = check(&good);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // `caravan sco show` prints the summary, read with a signed request.
    let code = reader
        .participant(&caravan_sdk::ids::ParticipantId::new("CN-HAINA-MACHINERY").expect("id"))
        .expect("view")
        .sco_code
        .expect("sco");
    let out = run(&[
        "sco",
        "show",
        code.as_str(),
        "--node",
        node,
        "--as",
        "CN-HAINA-MACHINERY",
        "--key",
        key,
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success()
            && stdout.contains(code.as_str())
            && stdout.contains("standing     good"),
        "{stdout}"
    );
}

#[test]
fn caravan_credential_export_and_verify_offline() {
    use caravan_sdk::hash::{Domain, hash};
    use caravan_sdk::ids::ParticipantId;
    use caravan_sdk::trade::ident::CountryCode;
    use caravan_sdk::trade::model::{CreditRecord, CustomsGrade, Grade282, LegalIds};
    use caravan_sdk::trade::sample;
    use caravan_sdk::tx::Role;
    use caravan_testnet::demo::Actor;

    let net = testnet(1, &[0]);
    let dir = tempfile::tempdir().expect("tmp");
    let caravan = env!("CARGO_BIN_EXE_caravan-it");
    let run = |args: &[&str]| {
        Command::new(caravan)
            .args(args)
            .output()
            .expect("run caravan")
    };
    let chain = net.fed.chain_id();
    let agency = Actor::new(
        net.fed.nodes[0].agency.as_str(),
        net.fed.admin_key(0).expect("admin"),
    )
    .expect("actor");
    let client = net.fed.client(0);

    // The agency registers the exporter (the ledger issues its SCO code), then attests its
    // customs grade.
    let exporter = ParticipantId::new("CN-HAINA-MACHINERY").expect("id");
    let seller = sample::seller();
    let register = agency.sign(
        chain,
        Body::RegisterEnterprise {
            id: exporter.clone(),
            name: seller.name.clone(),
            country: CountryCode::new("CN").expect("cn"),
            legal_ids: LegalIds {
                uscc: seller.uscc.clone(),
                lei: None,
                national: None,
            },
            roles: vec![Role::Enterprise],
            public_key: caravan_sdk::keys::Keypair::generate()
                .expect("key")
                .public(),
        },
    );
    client.submit(&register, true).expect("registered");
    let code = crate::support::agency_client(&net, 0)
        .participant(&exporter)
        .expect("view")
        .sco_code
        .expect("an SCO code");
    let attest = agency.sign(
        chain,
        Body::AttestCredit {
            sco_code: code.clone(),
            record: CreditRecord::CustomsGrade {
                grade: CustomsGrade::Order282(Grade282::AdvancedCertified),
            },
            valid_from: sample::date(2026, 4, 1),
            valid_until: Some(sample::date(2028, 3, 31)),
            evidence_hash: hash(Domain::Content, b"GACC decision 2026-0412"),
        },
    );
    client.submit(&attest, true).expect("attested");

    // Export from the running node, reading as the agency.
    let node = net.fed.nodes[0].api_url.as_str();
    let genesis = net.fed.genesis_path.to_str().expect("utf8");
    let admin_key = net.fed.nodes[0].keys.join("admin.key");
    let credential = dir.path().join("grade.vc.json");
    let out = run(&[
        "credential",
        "export",
        "--node",
        node,
        "--tx",
        &attest.id().to_string(),
        "--as",
        net.fed.nodes[0].agency.as_str(),
        "--key",
        admin_key.to_str().expect("utf8"),
        "--genesis",
        genesis,
        "--out",
        credential.to_str().expect("utf8"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("application/vc"));

    // Offline, with the genesis only, the bank verifies it: one file, or several together.
    let verify_all = |paths: &[&std::path::Path], json: bool| {
        let mut command = Command::new(caravan);
        command
            .arg("verify")
            .args(paths)
            .args(["--genesis", genesis]);
        if json {
            command.arg("--json");
        }
        command.output().expect("verify")
    };
    let verify = |path: &std::path::Path| verify_all(&[path], false);
    let out = verify(&credential);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("VERIFIED credential"), "{stdout}");
    assert!(stdout.contains(code.as_str()), "{stdout}");
    assert!(stdout.contains("advanced_certified"), "{stdout}");
    assert!(stdout.contains(&attest.id().to_string()), "{stdout}");
    assert!(stdout.contains("revocation   not shown"), "{stdout}");

    // The same credential from a bundle file written by `caravan proof get`.
    let bundle = dir.path().join("grade.cbor");
    let out = run(&[
        "proof",
        "get",
        "--node",
        node,
        &attest.id().to_string(),
        "--as",
        net.fed.nodes[0].agency.as_str(),
        "--key",
        admin_key.to_str().expect("utf8"),
        "--out",
        bundle.to_str().expect("utf8"),
    ]);
    assert!(out.status.success());
    let out = run(&[
        "credential",
        "export",
        "--bundle",
        bundle.to_str().expect("utf8"),
        "--genesis",
        genesis,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&credential).expect("read");
    assert_eq!(String::from_utf8_lossy(&out.stdout), text);

    // A copy whose grade was edited is refused, naming the claim.
    let tampered = dir.path().join("tampered.vc.json");
    std::fs::write(
        &tampered,
        text.replace("\"advanced_certified\"", "\"certified\""),
    )
    .expect("write");
    let out = verify(&tampered);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("link 'credential' failed: credentialSubject.grade.grade says"),
        "{stderr}"
    );

    // Credentials and bundles given together: one line each, in order.
    let out = verify_all(&[&credential, &bundle, &tampered], false);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert!(
        lines[0].starts_with("VERIFIED") && lines[0].contains(&format!("SCO code {code}")),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with("VERIFIED") && lines[1].contains(&attest.id().to_string()),
        "{stdout}"
    );
    assert!(
        lines[2].starts_with("NOT VERIFIED") && lines[2].contains("link 'credential' failed"),
        "{stdout}"
    );
    assert!(lines[3].starts_with("2 of 3 verified"), "{stdout}");
    let out = verify_all(&[&credential, &tampered], true);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    assert_eq!(report[0]["verified"], true, "{report}");
    assert_eq!(
        report[0]["credential"]["sco_code"],
        code.as_str(),
        "{report}"
    );
    assert_eq!(report[1]["verified"], false, "{report}");
    assert_eq!(report[1]["link"], "credential", "{report}");

    // A copy whose proof value was changed is refused at a link of the bundle.
    let mut json: serde_json::Value = serde_json::from_str(&text).expect("json");
    let proof_value = json["proof"]["proofValue"].as_str().expect("proof value");
    let middle = proof_value.len() / 2;
    let flipped = if &proof_value[middle..=middle] == "A" {
        "B"
    } else {
        "A"
    };
    let changed = format!(
        "{}{flipped}{}",
        &proof_value[..middle],
        &proof_value[middle + 1..]
    );
    json["proof"]["proofValue"] = changed.into();
    std::fs::write(&tampered, serde_json::to_vec_pretty(&json).expect("json")).expect("write");
    let out = verify(&tampered);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("NOT VERIFIED: link '"), "{stderr}");
    assert!(!stderr.contains("link 'credential'"), "{stderr}");

    // A bundle of another kind of transaction is not exported.
    let out = run(&[
        "credential",
        "export",
        "--node",
        node,
        "--tx",
        &register.id().to_string(),
        "--as",
        net.fed.nodes[0].agency.as_str(),
        "--key",
        admin_key.to_str().expect("utf8"),
        "--genesis",
        genesis,
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a credit attestation"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A signed GET through the typed client's signing path.
fn signed_get(client: &caravan_sdk::client::Client, path: &str) -> String {
    client.get_signed_text(path).expect("signed read")
}

/// `caravan follow` keeps the latest verified checkpoint, accepts one that extends it (checked
/// with a consistency proof), and reports a fork, with both signed checkpoints, when the kept
/// checkpoint conflicts with the node's: here a header certified by the test federation's own
/// validator keys over a rewritten log.
#[test]
fn caravan_follow_accepts_extensions_and_reports_a_fork() {
    use caravan_sdk::api::Checkpoint;
    use caravan_sdk::block::{CommitSignature, VoteKind, vote_digest};
    use caravan_sdk::hash::Digest;
    use caravan_sdk::keys::read_key_file;

    let net = testnet(4, &[0, 1, 2, 3]);
    let exporter = register_exporter(&net, 0, "CN-EXPORTER-FOLLOW");
    net.fed
        .client(0)
        .submit(&record(&net, &exporter, 1), true)
        .expect("commit");
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("kept.json");
    let evidence = dir.path().join("fork.json");
    let caravan = env!("CARGO_BIN_EXE_caravan-it");
    let follow = || {
        Command::new(caravan)
            .args([
                "follow",
                "--once",
                "--node",
                &net.fed.nodes[1].api_url,
                "--genesis",
            ])
            .arg(&net.fed.genesis_path)
            .arg("--state")
            .arg(&state)
            .arg("--evidence")
            .arg(&evidence)
            .output()
            .expect("caravan follow")
    };
    let out = follow();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("first, kept"), "{stdout}");
    let first: Checkpoint =
        serde_json::from_slice(&std::fs::read(&state).expect("kept")).expect("checkpoint");

    // More records: the next checkpoint extends the kept one.
    net.fed
        .client(0)
        .submit(&record(&net, &exporter, 2), true)
        .expect("commit");
    let out = follow();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("consistency proof checked"), "{stdout}");
    let kept: Checkpoint =
        serde_json::from_slice(&std::fs::read(&state).expect("kept")).expect("checkpoint");
    assert!(kept.header.height > first.header.height);

    // A conflicting checkpoint at the kept height, certified by three of the federation's own
    // validator keys over a rewritten log: the node's next checkpoint does not extend it.
    let mut forged = kept.clone();
    forged.header.log_root = Digest([0x5a; 32]);
    let id = forged.header.id();
    let digest = vote_digest(
        &net.fed.chain_id(),
        VoteKind::Precommit,
        forged.header.height,
        0,
        Some(&id),
    );
    forged.certificate.round = 0;
    forged.certificate.block_id = id;
    forged.certificate.signatures = (0..3)
        .map(|i| {
            let key = read_key_file(&net.fed.nodes[i].keys.join("validator.key")).expect("key");
            CommitSignature {
                validator: key.public(),
                signature: key.sign(&digest),
            }
        })
        .collect();
    std::fs::write(&state, serde_json::to_vec(&forged).expect("json")).expect("write");
    net.fed
        .client(0)
        .submit(&record(&net, &exporter, 3), true)
        .expect("commit");
    let out = follow();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("FORK EVIDENCE"), "{stdout}");
    let evidence: caravan_sdk::follow::ForkEvidence =
        serde_json::from_slice(&std::fs::read(&evidence).expect("evidence")).expect("json");
    assert_eq!(evidence.kept, forged);
    assert!(evidence.shown.header.height > forged.header.height);
    assert!(
        evidence.reason.contains("does not extend"),
        "{}",
        evidence.reason
    );
    // Both checkpoints of the evidence are certified from the genesis: a fork, not a bad answer.
    let genesis = &net.fed.genesis;
    let history = caravan_sdk::bundle::ValidatorHistory::from_genesis(genesis, genesis.chain_id());
    for cp in [&evidence.kept, &evidence.shown] {
        caravan_sdk::bundle::verify_certified_header(&history, &cp.header, &cp.certificate)
            .expect("certified");
    }
    // A checkpoint no quorum signed is an error, not a fork.
    let mut unsigned = forged.clone();
    unsigned.certificate.signatures.truncate(2);
    std::fs::write(&state, serde_json::to_vec(&unsigned).expect("json")).expect("write");
    let out = follow();
    assert_eq!(out.status.code(), Some(2), "an error, not a fork (3)");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not verify"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
