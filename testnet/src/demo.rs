//! The demo: four agencies run a China–Europe rail consignment from Qingdao via Khorgos to
//! Almaty on a real federation. Documents come from different parties through different nodes;
//! cross-validation catches a rail note whose gross weight is off, the rail operator amends it and
//! the report turns clean; a second bank's attempt to finance the same invoice is refused; a bank
//! checks the exporter's credit and verifies proof bundles offline against the genesis file; a
//! tampered bundle is refused with the failed link named. A second consignment, whose rail note
//! and packing list disagree on the gross weight, is left with its discrepancy open, for the
//! explorer to show. Each step is printed as it happens.

use std::cell::Cell;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, bail};

use caravan_sdk::api::TxStatus;
use caravan_sdk::bundle::{ProofBundle, verify_bundle};
use caravan_sdk::client::{Client, ClientError};
use caravan_sdk::genesis::Genesis;
use caravan_sdk::hash::{Domain, hash};
use caravan_sdk::ids::{ChainId, Height, Nonce, ParticipantId, TxId};
use caravan_sdk::keys::Keypair;
use caravan_sdk::trade::documents::{DocumentFields, GoodsItem, PackingList};
use caravan_sdk::trade::ident::{Amount, CountryCode};
use caravan_sdk::trade::model::{
    CreditRecord, CustomsGrade, Grade282, Leg, LegMode, LegalIds, TransportEventKind,
};
use caravan_sdk::trade::rules::Report;
use caravan_sdk::trade::sample;
use caravan_sdk::tx::{Body, Role, SignedTx, UnsignedTx};

use crate::federation::{Federation, Launcher};

/// The consignment's unique reference (WCO UCR).
pub const UCR: &str = "6CN91350100-HN0417";

/// The second consignment, whose weight discrepancy is left open.
pub const DISCREPANCY_UCR: &str = "6CN91350100-HN0502";

fn step(n: usize, text: &str) {
    println!("\n[{n}] {text}");
}

/// A participant who signs transactions, with its own nonce counter.
pub struct Actor {
    /// Its participant id.
    pub id: ParticipantId,
    /// Its key.
    pub key: Keypair,
    nonce: Cell<u64>,
}

impl Actor {
    /// An actor.
    pub fn new(id: &str, key: Keypair) -> anyhow::Result<Self> {
        Ok(Actor {
            id: ParticipantId::new(id)?,
            key,
            nonce: Cell::new(0),
        })
    }

    /// Signs `body` with the next nonce.
    pub fn sign(&self, chain_id: ChainId, body: Body) -> SignedTx {
        self.nonce.set(self.nonce.get() + 1);
        UnsignedTx {
            chain_id,
            signer: self.id.clone(),
            nonce: Nonce(self.nonce.get()),
            body,
        }
        .sign(&self.key)
    }

    /// A client of `node` that signs its reads as this actor.
    pub fn reader(&self, fed: &Federation, node: usize) -> Client {
        fed.client(node)
            .signing_as(self.id.clone(), self.key.clone())
    }
}

fn committed(status: &TxStatus) -> anyhow::Result<Height> {
    match status {
        TxStatus::Committed { receipt, .. } => Ok(receipt.height),
        TxStatus::Rejected { receipt, .. } => bail!(
            "transaction was rejected by the ledger: {:?}",
            receipt.outcome
        ),
        TxStatus::Pending { tx_id } => bail!("transaction {tx_id} still pending"),
    }
}

/// Submits through `node`, waits for commit, and prints where it landed.
fn submit(fed: &Federation, node: usize, what: &str, tx: &SignedTx) -> anyhow::Result<TxId> {
    let status = fed
        .client(node)
        .submit(tx, true)
        .with_context(|| format!("{what} via {}", fed.nodes[node].agency))?;
    let height = committed(&status)?;
    println!(
        "    {what:<46} via {:<15} committed at height {height}",
        fed.nodes[node].agency.as_str()
    );
    Ok(tx.id())
}

fn anchor(ucr: &str, leg: Option<u16>, fields: DocumentFields, file: &str) -> Body {
    Body::AnchorDocument {
        consignment: Some(ucr.to_string()),
        leg,
        content_hash: hash(Domain::Content, file.as_bytes()),
        fields_root: hash(Domain::Content, format!("fields of {file}").as_bytes()),
        fields: Box::new(fields),
    }
}

fn print_report(report: &Report) {
    for line in report.lines() {
        println!("    {line}");
    }
}

/// What the demo leaves on the ledger, for people and tests to look up (also written to
/// `DIR/demo.json`).
#[derive(Clone, Debug, serde::Serialize)]
pub struct DemoFacts {
    /// The consignment's reference.
    pub ucr: String,
    /// The second consignment's reference: its rail note and packing list disagree on the gross
    /// weight, and the weights rule fails.
    pub discrepancy_ucr: String,
    /// The exporter's SCO code.
    pub sco_code: String,
    /// The customs grade attestation (a transaction id).
    pub grade_attestation: TxId,
    /// The financed invoice's document id.
    pub invoice: TxId,
    /// The rail consignment note's number, its train and one of its containers.
    pub rail_note_number: String,
    /// The train.
    pub train: String,
    /// A container on the train.
    pub container: String,
    /// Each participant's key file, by participant id: sign in to the explorer with them.
    pub keys: std::collections::BTreeMap<String, std::path::PathBuf>,
    /// The explorer's address on each node.
    pub explorer: Vec<String>,
}

/// Saves an actor's key as `DIR/keys/ID.key` (0600) so that people can sign in with it.
fn save_key(dir: &Path, actor: &Actor) -> anyhow::Result<std::path::PathBuf> {
    let folder = dir.join("keys");
    std::fs::create_dir_all(&folder).with_context(|| format!("creating {}", folder.display()))?;
    let path = folder.join(format!("{}.key", actor.id));
    if path.exists() {
        std::fs::remove_file(&path).with_context(|| format!("replacing {}", path.display()))?;
    }
    caravan_sdk::keys::write_key_file(&path, "participant", &actor.key)?;
    Ok(path)
}

/// Runs the demo in `dir`. With `exit`, stops the federation and returns when every step has
/// succeeded; otherwise keeps it running until the process is interrupted.
pub fn run(dir: &Path, exit: bool, launcher: Launcher) -> anyhow::Result<()> {
    let (mut fed, facts) = scenario(dir, launcher)?;
    println!("\nThe federation is running:");
    for node in &fed.nodes {
        println!("    {:<16} {}/health", node.agency, node.api_url);
    }
    println!("    genesis: {}", fed.genesis_path.display());
    println!("\nExplorer (any node): {}", facts.explorer.join("  "));
    println!(
        "    sign in with a participant's key from {}",
        dir.join("keys").display()
    );
    println!(
        "    search for {} (SCO code), {} (consignment), {} (train) or {} (container)",
        facts.sco_code, facts.ucr, facts.train, facts.container
    );
    println!(
        "    consignment {} has an open weight discrepancy",
        facts.discrepancy_ucr
    );
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

/// Runs every step of the demo on a new federation in `dir` and returns it running, with what
/// it put on the ledger.
pub fn scenario(dir: &Path, launcher: Launcher) -> anyhow::Result<(Federation, DemoFacts)> {
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
    let chain = fed.chain_id();
    let qingdao = Actor::new(fed.nodes[0].agency.as_str(), fed.admin_key(0)?)?;
    let khorgos = Actor::new(fed.nodes[1].agency.as_str(), fed.admin_key(1)?)?;

    step(
        3,
        "Qingdao Customs registers the exporter (SCO code issued), the carriers and two banks",
    );
    let exporter = Actor::new("CN-HAINA-MACHINERY", Keypair::generate()?)?;
    let seller = sample::seller();
    submit(
        &fed,
        0,
        "exporter Qingdao Haina Machinery (USCC)",
        &qingdao.sign(
            chain,
            Body::RegisterEnterprise {
                id: exporter.id.clone(),
                name: seller.name.clone(),
                country: CountryCode::new("CN")?,
                legal_ids: LegalIds {
                    uscc: seller.uscc.clone(),
                    lei: None,
                    national: None,
                },
                roles: vec![Role::Enterprise],
                public_key: exporter.key.public(),
            },
        ),
    )?;
    let cosco = Actor::new("CN-COSCO-LINES", Keypair::generate()?)?;
    let rail = Actor::new("CN-CR-EXPRESS", Keypair::generate()?)?;
    let bank_qd = Actor::new("CN-BANK-QINGDAO", Keypair::generate()?)?;
    let bank_ala = Actor::new("KZ-BANK-ALMATY", Keypair::generate()?)?;
    for (actor, name, role) in [
        (&cosco, "COSCO Shipping Lines", Role::Carrier),
        (
            &rail,
            "China Railway Container Transport (rail operator)",
            Role::Carrier,
        ),
        (&bank_qd, "Bank of Qingdao, trade finance", Role::Bank),
        (&bank_ala, "Almaty Trade Bank", Role::Bank),
    ] {
        let tx = qingdao.sign(
            chain,
            Body::RegisterParticipant {
                id: actor.id.clone(),
                name: name.into(),
                roles: vec![role],
                public_key: actor.key.public(),
            },
        );
        submit(&fed, 0, &format!("{} ({role:?})", actor.id), &tx)?;
    }
    let enterprise_sco = exporter
        .reader(&fed, 0)
        .participant(&exporter.id)?
        .sco_code
        .context("the exporter's SCO code was not issued")?;
    println!("    exporter's SCO code: {enterprise_sco}");

    step(
        4,
        "Credit: Qingdao Customs attests the grade (Order 282), Khorgos customs its AEO recognition",
    );
    let grade_tx = qingdao.sign(
        chain,
        Body::AttestCredit {
            sco_code: enterprise_sco.clone(),
            record: CreditRecord::CustomsGrade {
                grade: CustomsGrade::Order282(Grade282::AdvancedCertified),
            },
            valid_from: sample::date(2026, 4, 1),
            valid_until: None,
            evidence_hash: hash(Domain::Content, b"GACC decision 2026-0412"),
        },
    );
    let grade_id = submit(&fed, 0, "customs grade 高级认证 (Order 282)", &grade_tx)?;
    submit(
        &fed,
        1,
        "AEO mutual recognition by KZ",
        &khorgos.sign(
            chain,
            Body::AttestCredit {
                sco_code: enterprise_sco.clone(),
                record: CreditRecord::AeoRecognition {
                    countries: vec![CountryCode::new("KZ")?],
                },
                valid_from: sample::date(2026, 4, 1),
                valid_until: None,
                evidence_hash: hash(Domain::Content, b"KZ-CN AEO MRA"),
            },
        ),
    )?;

    step(
        5,
        "The exporter opens consignment 6CN91350100-HN0417: sea Qingdao -> Lianyungang, rail -> Khorgos -> Almaty",
    );
    let legs = vec![
        Leg {
            mode: LegMode::Sea,
            carrier: cosco.id.clone(),
            from: sample::locode("CNTAO"),
            to: sample::locode("CNLYG"),
        },
        Leg {
            mode: LegMode::Rail,
            carrier: rail.id.clone(),
            from: sample::locode("CNLYG"),
            to: sample::locode("KZALA"),
        },
    ];
    submit(
        &fed,
        0,
        "open consignment",
        &exporter.sign(
            chain,
            Body::OpenConsignment {
                ucr: UCR.into(),
                legs,
                parties: vec![],
            },
        ),
    )?;

    step(
        6,
        "Documents from different parties, through different nodes (the rail note's gross weight is wrong)",
    );
    let invoice = exporter.sign(
        chain,
        anchor(
            UCR,
            None,
            DocumentFields::Invoice(sample::invoice()),
            "invoice HN-2025-0417.pdf",
        ),
    );
    let invoice_id = submit(&fed, 0, "commercial invoice (exporter)", &invoice)?;
    submit(
        &fed,
        0,
        "export declaration (exporter)",
        &exporter.sign(
            chain,
            anchor(
                UCR,
                None,
                DocumentFields::Declaration(sample::declaration()),
                "declaration.xml",
            ),
        ),
    )?;
    submit(
        &fed,
        1,
        "sea bill of lading (COSCO)",
        &cosco.sign(
            chain,
            anchor(
                UCR,
                Some(0),
                DocumentFields::Transport(sample::sea_bill_of_lading()),
                "cosu-bl.pdf",
            ),
        ),
    )?;
    let mut wrong_note = sample::rail_consignment_note();
    wrong_note.weight_gross = sample::qty(11_500_000, "KGM");
    wrong_note.goods[0].weight_gross = sample::qty(10_100_000, "KGM");
    let note = rail.sign(
        chain,
        anchor(
            UCR,
            Some(1),
            DocumentFields::Transport(wrong_note),
            "smgs-v1.pdf",
        ),
    );
    let note_id = submit(&fed, 2, "rail consignment note SMGS (rail operator)", &note)?;
    submit(
        &fed,
        3,
        "packing list (exporter)",
        &exporter.sign(
            chain,
            anchor(
                UCR,
                None,
                DocumentFields::PackingList(sample::packing_list()),
                "packing-list.pdf",
            ),
        ),
    )?;
    submit(
        &fed,
        3,
        "certificate of origin (exporter)",
        &exporter.sign(
            chain,
            anchor(
                UCR,
                None,
                DocumentFields::CertificateOfOrigin(sample::certificate_of_origin()),
                "coo.pdf",
            ),
        ),
    )?;
    for (i, receipt) in sample::receipts().into_iter().enumerate() {
        submit(
            &fed,
            1,
            &format!("equipment interchange receipt {} (COSCO)", i + 1),
            &cosco.sign(
                chain,
                anchor(
                    UCR,
                    None,
                    DocumentFields::InterchangeReceipt(receipt),
                    &format!("eir-{i}.pdf"),
                ),
            ),
        )?;
    }

    step(
        7,
        "Cross-validation, as Khorgos customs (KZ) reads it: the discrepancy is caught and explained",
    );
    let validation = khorgos.reader(&fed, 1).validation(UCR)?;
    let report = validation.report.context("no report")?;
    print_report(&report);
    if report.failed().is_empty() {
        bail!("the weight discrepancy was not caught");
    }

    step(
        8,
        "The rail operator amends its note (gross 10,000 kg); the report turns clean on every node",
    );
    submit(
        &fed,
        2,
        "amended rail consignment note",
        &rail.sign(
            chain,
            Body::AmendDocument {
                document: note_id,
                content_hash: hash(Domain::Content, b"smgs-v2.pdf"),
                fields_root: hash(Domain::Content, b"fields of smgs-v2.pdf"),
                fields: Box::new(DocumentFields::Transport(sample::rail_consignment_note())),
            },
        ),
    )?;
    let tip = fed.client(2).health()?.height;
    for i in 0..fed.nodes.len() {
        fed.wait_height(i, tip, Duration::from_secs(30))?;
    }
    let mut hashes = Vec::new();
    for i in 0..fed.nodes.len() {
        let v = khorgos.reader(&fed, i).validation(UCR)?;
        hashes.push(v.report_hash.context("no report")?);
        if !v.report.as_ref().is_some_and(|r| r.is_clean()) {
            bail!("the report is not clean on {}", fed.nodes[i].agency);
        }
    }
    if hashes.windows(2).any(|w| w[0] != w[1]) {
        bail!("nodes disagree on the report: {hashes:?}");
    }
    println!(
        "    all 11 rules pass; report {} identical on all {} nodes",
        hashes[0],
        hashes.len()
    );
    submit(
        &fed,
        1,
        "Khorgos customs confirms the report",
        &khorgos.sign(
            chain,
            Body::AttestReport {
                ucr: UCR.into(),
                report_hash: hashes[0],
                decision: caravan_sdk::trade::model::ReportDecision::Confirm,
            },
        ),
    )?;
    for (leg, event, place, who, node) in [
        (0u16, TransportEventKind::Loaded, "CNTAO", &cosco, 1),
        (1, TransportEventKind::BorderCrossing, "KZKHO", &rail, 2),
        (1, TransportEventKind::Arrived, "KZALA", &rail, 2),
    ] {
        let tx = who.sign(
            chain,
            Body::RecordTransportEvent {
                ucr: UCR.into(),
                leg,
                event: event.clone(),
                place: sample::locode(place),
                at_ms: crate::federation::now_ms(),
            },
        );
        submit(
            &fed,
            node,
            &format!("transport event {event:?} at {place}"),
            &tx,
        )?;
    }

    step(
        9,
        "Financing: Bank of Qingdao registers a lien on the invoice; Almaty Trade Bank tries the same invoice",
    );
    let lien = |bank: &Actor, minor: i64| {
        bank.sign(
            chain,
            Body::RegisterLien {
                document: invoice_id,
                amount: Amount {
                    minor,
                    currency: sample::currency("USD"),
                },
                until: sample::date(2026, 12, 31),
            },
        )
    };
    submit(
        &fed,
        0,
        "lien of CN-BANK-QINGDAO for 150,000.00 USD",
        &lien(&bank_qd, 15_000_000),
    )?;
    // Refused at admission if node 3 has applied the first lien already, or ordered with a
    // rejected receipt if it had not: either way the ledger never holds two active liens.
    match fed.client(3).submit(&lien(&bank_ala, 12_000_000), true) {
        Err(ClientError::Api { status, api, .. }) if api.error == "double_financing" => {
            println!("    REFUSED (HTTP {status} {}): {}", api.error, api.detail);
        }
        Ok(TxStatus::Rejected { receipt, .. }) => match &receipt.outcome {
            caravan_sdk::tx::Outcome::Rejected { rejection }
                if rejection.reason.as_str() == "double_financing" =>
            {
                println!(
                    "    REFUSED (ledger receipt at height {}, double_financing): {}",
                    receipt.height, rejection.detail
                );
            }
            other => bail!("the second lien was rejected for another reason: {other:?}"),
        },
        other => bail!("the second lien was not refused as double financing: {other:?}"),
    }

    step(
        10,
        "The bank checks the exporter's credit summary and verifies proof bundles offline",
    );
    let view = bank_ala.reader(&fed, 3).sco(enterprise_sco.as_str())?;
    let s = &view.summary;
    println!("    {} — {}", s.sco_code, s.name);
    for g in &s.customs_grades {
        println!(
            "    customs grade {:?} by {} (attestation {})",
            g.grade, g.issuer, g.attestation
        );
    }
    println!(
        "    AEO: {}; recognised by {:?}; violations {}; payment defaults {}; standing {}",
        s.aeo,
        s.aeo_recognised_by
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>(),
        s.violations,
        s.payment_defaults,
        s.standing
    );
    println!(
        "    consignments {} (clean {}), open discrepancies {}, active liens {}",
        s.history.consignments,
        s.history.clean,
        s.history.open_discrepancies,
        s.history.active_liens
    );
    let genesis = Genesis::read(&fed.genesis_path)?;
    let mut bundles = Vec::new();
    // The bank fetches the credit attestation's bundle itself; the invoice carries consignment
    // key fields, so the exporter fetches its bundle and hands it to the bank.
    for (what, id, client) in [
        (
            "credit grade attestation",
            grade_id,
            bank_ala.reader(&fed, 2),
        ),
        ("commercial invoice", invoice_id, exporter.reader(&fed, 3)),
    ] {
        let bundle = client.proof(&id)?;
        let path = dir.join(format!("{}-bundle.cbor", what.replace(' ', "-")));
        std::fs::write(&path, bundle.to_bytes())?;
        // Offline: only the genesis file and the bundle file from here on.
        let proven = verify_bundle(&genesis, &ProofBundle::parse(&std::fs::read(&path)?)?)
            .with_context(|| format!("the {what} bundle should verify"))?
            .transaction
            .with_context(|| format!("the {what} bundle should carry its transaction"))?;
        println!(
            "    VERIFIED {what}: transaction {} at height {}",
            proven.tx_id, proven.height
        );
        println!(
            "      signed by {} ({})",
            proven.signer, proven.signer_key_source
        );
        println!(
            "      certified by {}; bundle {} ({} bytes)",
            proven
                .certified_by
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            path.display(),
            bundle.to_bytes().len()
        );
        bundles.push(bundle);
    }

    // The credit summary recomputed offline: the bank verifies the bundle of every live
    // attestation against the genesis, and its state proof at the tip (present, not revoked),
    // and derives the grades with the sdk's own function.
    let mut verified = Vec::new();
    for a in view.attestations.iter().filter(|a| a.revoked.is_none()) {
        let bundle = bank_ala.reader(&fed, 1).proof(&a.id)?;
        let proven = verify_bundle(&genesis, &bundle)
            .with_context(|| format!("attestation {} should verify", a.id))?
            .transaction
            .with_context(|| format!("the bundle of {} should carry its transaction", a.id))?;
        let current = bank_ala
            .reader(&fed, 1)
            .sco_proof(view.enterprise.sco_code.as_str(), Some(&a.id))?;
        let state = verify_bundle(&genesis, &current)
            .with_context(|| format!("the state proof of attestation {} should verify", a.id))?
            .state
            .with_context(|| format!("the state bundle of {} should carry a state proof", a.id))?;
        let record: caravan_sdk::trade::model::CreditAttestation = state
            .value
            .as_deref()
            .map(|v| caravan_sdk::codec::decode(v, caravan_sdk::codec::MAX_BLOCK_BYTES))
            .transpose()?
            .with_context(|| format!("attestation {} is absent from the state", a.id))?;
        if record.revoked.is_some() {
            bail!("attestation {} is revoked at height {}", a.id, state.height);
        }
        let Body::AttestCredit {
            sco_code,
            record,
            valid_from,
            valid_until,
            evidence_hash,
        } = proven.body
        else {
            bail!("bundle {} is not a credit attestation", a.id);
        };
        verified.push(caravan_sdk::trade::model::CreditAttestation {
            id: proven.tx_id,
            sco_code,
            record,
            valid_from,
            valid_until,
            evidence_hash,
            issuer: proven.signer,
            attested_at: proven.height,
            revoked: None,
        });
    }
    let offline = caravan_sdk::trade::model::credit_summary(
        &view.enterprise,
        &verified,
        s.history.clone(),
        s.as_of,
    );
    if offline.customs_grades != s.customs_grades
        || offline.aeo != s.aeo
        || offline.aeo_recognised_by != s.aeo_recognised_by
    {
        bail!("the credit summary recomputed from verified bundles differs from the node's");
    }
    println!(
        "    credit summary recomputed offline from {} verified attestation bundles: grades and AEO agree with the node",
        verified.len()
    );
    println!(
        "      each attestation proven current and unrevoked by a state proof under the certified tip's state root"
    );

    step(
        11,
        "A tampered copy (one byte of the invoice's content hash changed) is refused, naming the link",
    );
    let mut tampered = bundles[1].clone();
    if let Some(item) = tampered.item.as_mut()
        && let Body::AnchorDocument { content_hash, .. } = &mut item.transaction.tx.body
    {
        content_hash.0[0] ^= 0x01;
    }
    match verify_bundle(&genesis, &tampered) {
        Ok(_) => bail!("a tampered bundle verified"),
        Err(e) => println!("    REFUSED at link '{}': {e}", e.link()),
    }
    let mut forged = bundles[1].clone();
    if let Some(item) = forged.item.as_mut() {
        item.certificate.signatures[0].signature.0[10] ^= 0x01;
    }
    match verify_bundle(&genesis, &forged) {
        Ok(_) => bail!("a bundle with a forged certificate signature verified"),
        Err(e) => println!("    REFUSED at link '{}': {e}", e.link()),
    }

    step(
        12,
        "A second consignment, 6CN91350100-HN0502, by rail Lianyungang -> Almaty: its rail note and packing list disagree on the gross weight, and the discrepancy is left open",
    );
    submit(
        &fed,
        0,
        "open consignment",
        &exporter.sign(
            chain,
            Body::OpenConsignment {
                ucr: DISCREPANCY_UCR.into(),
                legs: vec![Leg {
                    mode: LegMode::Rail,
                    carrier: rail.id.clone(),
                    from: sample::locode("CNLYG"),
                    to: sample::locode("KZALA"),
                }],
                parties: vec![],
            },
        ),
    )?;
    let containers = vec![sample::seals("CSNU651824", &["CN2025050201"])];
    let mut note = sample::rail_consignment_note();
    note.number = "SMGS 24-0502-0131".into();
    note.vessel_voyage_or_train = Some("X8023".into());
    note.shipped_on_board_or_acceptance_date = sample::date(2025, 5, 3);
    note.package_count = 8;
    note.weight_gross = sample::qty(4_800_000, "KGM");
    note.goods = vec![GoodsItem {
        hs_code: None,
        description: "Machine tools".into(),
        packages: 8,
        weight_gross: sample::qty(4_800_000, "KGM"),
    }];
    note.containers = containers.clone();
    submit(
        &fed,
        2,
        "rail consignment note SMGS (rail operator)",
        &rail.sign(
            chain,
            anchor(
                DISCREPANCY_UCR,
                Some(0),
                DocumentFields::Transport(note),
                "smgs-0502.pdf",
            ),
        ),
    )?;
    submit(
        &fed,
        3,
        "packing list (exporter)",
        &exporter.sign(
            chain,
            anchor(
                DISCREPANCY_UCR,
                None,
                DocumentFields::PackingList(PackingList {
                    number: "PL-HN-2025-0502".into(),
                    package_count: 8,
                    weight_gross: sample::qty(4_200_000, "KGM"),
                    weight_net: sample::qty(3_600_000, "KGM"),
                    containers,
                }),
                "packing-list-0502.pdf",
            ),
        ),
    )?;
    // Read where the last document was committed: the other nodes may be a block behind.
    let report = khorgos
        .reader(&fed, 3)
        .validation(DISCREPANCY_UCR)?
        .report
        .context("no report")?;
    print_report(&report);
    if report.failed().is_empty() {
        bail!("the weight discrepancy of {DISCREPANCY_UCR} was not caught");
    }

    let rail_note = sample::rail_consignment_note();
    let mut keys = std::collections::BTreeMap::new();
    for actor in [
        &exporter, &cosco, &rail, &bank_qd, &bank_ala, &qingdao, &khorgos,
    ] {
        keys.insert(actor.id.to_string(), save_key(dir, actor)?);
    }
    let facts = DemoFacts {
        ucr: UCR.to_string(),
        discrepancy_ucr: DISCREPANCY_UCR.to_string(),
        sco_code: enterprise_sco.to_string(),
        grade_attestation: grade_id,
        invoice: invoice_id,
        train: rail_note.vessel_voyage_or_train.clone().unwrap_or_default(),
        container: rail_note
            .containers
            .first()
            .map(|c| c.container.as_str().to_string())
            .unwrap_or_default(),
        rail_note_number: rail_note.number,
        keys,
        explorer: fed
            .nodes
            .iter()
            .map(|n| format!("{}/", n.api_url))
            .collect(),
    };
    let facts_path = dir.join("demo.json");
    std::fs::write(&facts_path, serde_json::to_vec_pretty(&facts)?)
        .with_context(|| format!("writing {}", facts_path.display()))?;
    Ok((fed, facts))
}
