//! The demo: four agencies, a registered exporter, signed records submitted through different
//! nodes, a proof bundle verified offline against the genesis file, and a tampered copy refused
//! with the failed link named. Each step is printed as it happens.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, bail};

use caravan_sdk::api::TxStatus;
use caravan_sdk::bundle::{ProofBundle, verify_bundle};
use caravan_sdk::genesis::Genesis;
use caravan_sdk::hash::{Domain, hash};
use caravan_sdk::ids::{Nonce, ParticipantId};
use caravan_sdk::keys::Keypair;
use caravan_sdk::tx::{Body, Role, SignedTx, UnsignedTx};

use crate::federation::{Federation, Launcher};

fn step(n: usize, text: &str) {
    println!("\n[{n}] {text}");
}

fn committed(status: &TxStatus) -> anyhow::Result<()> {
    match status {
        TxStatus::Committed { receipt, .. } => {
            println!(
                "    committed at height {}, log position {}",
                receipt.height, receipt.log_index
            );
            Ok(())
        }
        TxStatus::Rejected { receipt, .. } => bail!(
            "transaction was rejected by the ledger: {:?}",
            receipt.outcome
        ),
        TxStatus::Pending { tx_id } => bail!("transaction {tx_id} still pending"),
    }
}

/// Runs the demo in `dir`. With `exit`, stops the federation and returns when every step has
/// succeeded; otherwise keeps it running until the process is interrupted.
pub fn run(dir: &Path, exit: bool, launcher: Launcher) -> anyhow::Result<()> {
    println!("Caravan demo: a federated trust ledger for SCO cross-border trade");
    println!("working folder: {}", dir.display());

    step(
        1,
        "Genesis ceremony: four agencies generate keys, assemble and each sign the genesis",
    );
    let mut fed = Federation::create(dir, 4, launcher)?;
    for node in &fed.nodes {
        println!("    {:<16} keys in {}", node.agency, node.keys.display());
    }
    println!(
        "    genesis {} (chain {})",
        fed.genesis_path.display(),
        fed.chain_id()
    );

    step(2, "Starting four validator processes on loopback");
    fed.start_all()?;
    fed.wait_all_healthy(Duration::from_secs(60))?;
    for node in &fed.nodes {
        println!(
            "    {:<16} {}  (pid {})",
            node.agency,
            node.api_url,
            node.pid.unwrap_or(0)
        );
    }
    let chain_id = fed.chain_id();

    step(
        3,
        "Qingdao Customs (registry role) registers an exporter with its own key",
    );
    let registrar = fed.admin_key(0)?;
    let exporter_key = Keypair::generate()?;
    let exporter = ParticipantId::new("CN-QDG-EXPORTER-01")?;
    let registration = UnsignedTx {
        chain_id,
        signer: ParticipantId::from(&fed.nodes[0].agency),
        nonce: Nonce(1),
        body: Body::RegisterParticipant {
            id: exporter.clone(),
            name: "Qingdao Haina Machinery Export Co., Ltd.".into(),
            roles: vec![Role::Enterprise],
            public_key: exporter_key.public(),
        },
    }
    .sign(&registrar);
    println!(
        "    submitting registration {} through {}",
        registration.id(),
        fed.nodes[0].api_url
    );
    committed(&fed.client(0).submit(&registration, true)?)?;

    step(
        4,
        "The exporter anchors four signed records, each through a different agency's node",
    );
    let records = [
        ("commercial_invoice", "INV-2026-0917", "invoice.pdf"),
        ("packing_list", "PL-2026-0917", "packing-list.pdf"),
        ("bill_of_lading", "COSU6234019870", "bill-of-lading.pdf"),
        ("rail_consignment_note", "SMGS-24-778812", "smgs-note.pdf"),
    ];
    let mut anchored: Vec<SignedTx> = Vec::new();
    for (i, (kind, number, file)) in records.iter().enumerate() {
        let document =
            format!("{kind} {number}: 20 x 40HC machinery parts, Qingdao -> Khorgos -> Almaty");
        let tx = UnsignedTx {
            chain_id,
            signer: exporter.clone(),
            nonce: Nonce(i as u64 + 1),
            body: Body::AnchorRecord {
                kind: kind.to_string(),
                document_hash: hash(Domain::Content, document.as_bytes()),
                metadata: vec![
                    ("file".into(), file.to_string()),
                    ("number".into(), number.to_string()),
                ],
            },
        }
        .sign(&exporter_key);
        let node = i % fed.nodes.len();
        println!("    {kind:<22} {number:<16} via {}", fed.nodes[node].agency);
        committed(&fed.client(node).submit(&tx, true)?)?;
        anchored.push(tx);
    }

    step(5, "Every node holds the same chain");
    let tip = fed.client(0).checkpoint()?.header.height;
    for i in 0..fed.nodes.len() {
        fed.wait_height(i, tip, Duration::from_secs(30))?;
    }
    for h in 1..=tip.0 {
        let id = fed.client(0).block(caravan_sdk::ids::Height(h))?.block_id;
        for i in 1..fed.nodes.len() {
            let other = fed.client(i).block(caravan_sdk::ids::Height(h))?.block_id;
            if other != id {
                bail!(
                    "node {} has block {other} at height {h}, node {} has {id}",
                    fed.nodes[i].agency,
                    fed.nodes[0].agency
                );
            }
        }
    }
    println!(
        "    heights 1..={tip}: identical block ids on all {} nodes",
        fed.nodes.len()
    );

    step(
        6,
        "A bank fetches the invoice's proof bundle and verifies it offline against the genesis file",
    );
    let invoice = &anchored[0];
    let bundle = fed.client(2).proof(&invoice.id())?;
    let bundle_path = dir.join("invoice-bundle.cbor");
    std::fs::write(&bundle_path, bundle.to_bytes())?;
    println!(
        "    bundle: {} ({} bytes, fetched from {})",
        bundle_path.display(),
        bundle.to_bytes().len(),
        fed.nodes[2].agency
    );
    // Offline: only the genesis file and the bundle file are read from here on.
    let genesis = Genesis::read(&fed.genesis_path)?;
    let bytes = std::fs::read(&bundle_path)?;
    let proven = verify_bundle(&genesis, &ProofBundle::parse(&bytes)?)
        .context("the bundle should verify")?;
    println!("    VERIFIED transaction {}", proven.tx_id);
    println!(
        "      signed by {} ({})",
        proven.signer, proven.signer_key_source
    );
    println!(
        "      block {} at height {}, log position {} of {}",
        proven.block_id, proven.height, proven.log_index, proven.log_size
    );
    println!(
        "      certified by {}",
        proven
            .certified_by
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );

    step(
        7,
        "A tampered copy (one byte of the record's document hash changed) is refused",
    );
    let mut tampered = bundle.clone();
    if let Body::AnchorRecord { document_hash, .. } = &mut tampered.item.transaction.tx.body {
        document_hash.0[0] ^= 0x01;
    }
    match verify_bundle(&genesis, &tampered) {
        Ok(_) => bail!("a tampered bundle verified"),
        Err(e) => println!("    REFUSED at link '{}': {e}", e.link()),
    }
    let mut forged = bundle.clone();
    forged.item.certificate.signatures[0].signature.0[10] ^= 0x01;
    match verify_bundle(&genesis, &forged) {
        Ok(_) => bail!("a bundle with a forged certificate signature verified"),
        Err(e) => println!("    REFUSED at link '{}': {e}", e.link()),
    }

    println!("\nThe federation is running:");
    for node in &fed.nodes {
        println!("    {:<16} {}/health", node.agency, node.api_url);
    }
    println!("    genesis: {}", fed.genesis_path.display());
    if exit {
        fed.stop_all()?;
        println!("\ndemo complete: every step succeeded");
        return Ok(());
    }
    println!("\nPress Ctrl-C to stop.");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
