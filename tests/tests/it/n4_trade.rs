//! Four validators, the trade domain: two banks race to finance the same invoice through
//! different nodes and exactly one wins; every node holds the same chain and the same report;
//! protected reads need a signed request from a party or an agency.

use std::time::Duration;

use caravan_sdk::api::TxStatus;
use caravan_sdk::hash::{Domain, hash};
use caravan_sdk::ids::ParticipantId;
use caravan_sdk::keys::Keypair;
use caravan_sdk::trade::documents::DocumentFields;
use caravan_sdk::trade::ident::{Amount, CountryCode};
use caravan_sdk::trade::model::{Leg, LegMode, LegalIds};
use caravan_sdk::trade::sample;
use caravan_sdk::tx::{Body, Outcome, Role};
use caravan_testnet::demo::Actor;

use crate::support::{assert_same_chain, testnet, wait_committed};

#[test]
fn n4_double_financing_race_and_read_access() {
    let mut net = testnet(4, &[0, 1, 2, 3]);
    let chain = net.fed.chain_id();
    let agency = Actor::new(
        net.fed.nodes[0].agency.as_str(),
        net.fed.admin_key(0).expect("admin"),
    )
    .expect("actor");
    let exporter =
        Actor::new("CN-HAINA-MACHINERY", Keypair::generate().expect("key")).expect("actor");
    let banks = [
        Actor::new("CN-BANK-QINGDAO", Keypair::generate().expect("key")).expect("actor"),
        Actor::new("KZ-BANK-ALMATY", Keypair::generate().expect("key")).expect("actor"),
    ];
    let outsider = Actor::new("CN-FORWARDER-9", Keypair::generate().expect("key")).expect("actor");
    let carrier = Actor::new("CN-COSCO-LINES", Keypair::generate().expect("key")).expect("actor");
    let seller = sample::seller();
    let mut setup = vec![agency.sign(
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
    )];
    for (actor, role) in [
        (&banks[0], Role::Bank),
        (&banks[1], Role::Bank),
        (&outsider, Role::Forwarder),
        (&carrier, Role::Carrier),
    ] {
        setup.push(agency.sign(
            chain,
            Body::RegisterParticipant {
                id: actor.id.clone(),
                name: actor.id.to_string(),
                roles: vec![role],
                public_key: actor.key.public(),
            },
        ));
    }
    for tx in &setup {
        net.fed.client(0).submit(tx, false).expect("admitted");
    }
    wait_committed(
        &net.fed.client(0),
        &setup.iter().map(|t| t.id()).collect::<Vec<_>>(),
        Duration::from_secs(60),
    );

    let ucr = "6CN91350100-RACE01";
    let open = exporter.sign(
        chain,
        Body::OpenConsignment {
            ucr: ucr.into(),
            legs: vec![Leg {
                mode: LegMode::Sea,
                carrier: carrier.id.clone(),
                from: sample::locode("CNTAO"),
                to: sample::locode("KZALA"),
            }],
            parties: vec![],
        },
    );
    assert!(matches!(
        net.fed.client(1).submit(&open, true),
        Ok(TxStatus::Committed { .. })
    ));
    let invoice = exporter.sign(
        chain,
        Body::AnchorDocument {
            consignment: Some(ucr.into()),
            leg: None,
            content_hash: hash(Domain::Content, b"invoice.pdf"),
            fields_root: hash(Domain::Content, b"invoice fields"),
            fields: Box::new(DocumentFields::Invoice(sample::invoice())),
        },
    );
    assert!(matches!(
        net.fed.client(2).submit(&invoice, true),
        Ok(TxStatus::Committed { .. })
    ));
    let tip = net.fed.client(2).health().expect("health").height;
    for i in 0..4 {
        net.fed
            .wait_height(i, tip, Duration::from_secs(30))
            .expect("caught up");
    }

    // The race: both banks submit a lien on the same invoice, to different nodes, at once.
    let liens: Vec<_> = banks
        .iter()
        .map(|bank| {
            bank.sign(
                chain,
                Body::RegisterLien {
                    document: invoice.id(),
                    amount: Amount {
                        minor: 10_000_000,
                        currency: sample::currency("USD"),
                    },
                    until: sample::date(2027, 1, 31),
                },
            )
        })
        .collect();
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = liens
            .iter()
            .enumerate()
            .map(|(i, tx)| {
                let client = net.fed.client(i * 3);
                s.spawn(move || client.submit(tx, true))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let mut winners = 0;
    for result in &results {
        match result {
            Ok(TxStatus::Committed { .. }) => winners += 1,
            Ok(TxStatus::Rejected { receipt, .. }) => match &receipt.outcome {
                Outcome::Rejected { rejection } => {
                    assert_eq!(rejection.reason.as_str(), "double_financing")
                }
                Outcome::Accepted => unreachable!("a rejected status carries a rejection"),
            },
            Err(e) => assert_eq!(e.reason(), Some("double_financing"), "{e}"),
            Ok(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(winners, 1, "exactly one lien must win: {results:?}");
    let tip = net.fed.client(0).health().expect("health").height;
    for i in 0..4 {
        net.fed
            .wait_height(i, tip, Duration::from_secs(30))
            .expect("caught up");
    }
    assert_same_chain(&net, &[0, 1, 2, 3]);

    // Every node reports the same lien and the same validation report.
    let mut seen = Vec::new();
    for i in 0..4 {
        let liens = banks[0]
            .reader(&net.fed, i)
            .liens(&invoice.id())
            .expect("liens");
        assert_eq!(liens.len(), 1);
        let report = agency
            .reader(&net.fed, i)
            .validation(ucr)
            .expect("validation");
        seen.push((liens[0].id, report.report_hash));
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");

    // Read access: unsigned reads and outsiders learn nothing protected.
    let unsigned = net.fed.client(0);
    assert_eq!(
        unsigned.validation(ucr).err().and_then(|e| e.status()),
        Some(403)
    );
    assert_eq!(
        unsigned.consignment(ucr).err().and_then(|e| e.status()),
        Some(403)
    );
    let forged = net
        .fed
        .client(0)
        .signing_as(exporter.id.clone(), Keypair::generate().expect("key"));
    assert_eq!(
        forged.validation(ucr).err().and_then(|e| e.status()),
        Some(403)
    );
    let outsider_reader = outsider.reader(&net.fed, 0);
    assert_eq!(
        outsider_reader
            .validation(ucr)
            .err()
            .and_then(|e| e.status()),
        Some(403)
    );
    assert_eq!(
        outsider_reader
            .liens(&invoice.id())
            .err()
            .and_then(|e| e.status()),
        Some(403)
    );
    let redacted = outsider_reader.consignment(ucr).expect("header view");
    assert!(redacted.redacted && redacted.consignment.report.is_none());
    assert!(
        redacted
            .documents
            .iter()
            .all(|d| d.fields.is_none() && d.number.is_empty())
    );
    let full = exporter
        .reader(&net.fed, 0)
        .consignment(ucr)
        .expect("party view");
    assert!(!full.redacted && full.documents.iter().all(|d| d.fields.is_some()));
    // Blocks and proofs do not leak key fields either: the outsider gets the invoice's block
    // with that transaction withheld (its id still checks the transactions root), and no proof.
    assert_eq!(
        outsider_reader
            .proof(&invoice.id())
            .err()
            .and_then(|e| e.status()),
        Some(403)
    );
    assert_eq!(
        unsigned.proof(&open.id()).err().and_then(|e| e.status()),
        Some(403)
    );
    assert!(exporter.reader(&net.fed, 0).proof(&invoice.id()).is_ok());
    let status = unsigned.tx_status(&invoice.id()).expect("status is public");
    let height = match status {
        TxStatus::Committed { receipt, .. } => receipt.height,
        other => panic!("{other:?}"),
    };
    let block = outsider_reader.block(height).expect("block");
    assert_eq!(block.withheld.len(), 1);
    assert!(
        block
            .block
            .transactions
            .iter()
            .all(|t| t.id() != invoice.id())
    );
    let full_ids: Vec<_> = block.transaction_ids.clone();
    assert!(full_ids.contains(&invoice.id()));
    assert_eq!(
        agency
            .reader(&net.fed, 0)
            .block(height)
            .expect("block")
            .withheld
            .len(),
        0
    );

    // Any registered participant reads the SCO summary.
    let code = exporter
        .reader(&net.fed, 0)
        .participant(&exporter.id)
        .expect("participant")
        .sco_code
        .expect("sco");
    let view = outsider_reader.sco(code.as_str()).expect("sco view");
    assert_eq!(view.summary.history.active_liens, 1);
    assert_eq!(
        view.enterprise.participant,
        ParticipantId::new("CN-HAINA-MACHINERY").expect("id")
    );
    net.fed.stop_all().expect("stop");
}
