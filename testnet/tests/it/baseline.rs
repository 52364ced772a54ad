//! The central-database baseline against a real PostgreSQL server started by
//! `scripts/postgres`, which installs PostgreSQL when it is missing. Without a server these
//! tests fail: the baseline is part of the benchmark and is never skipped.

use anyhow::Context as _;

use caravan_sdk::tx::SignedTx;
use caravan_testnet::baseline::{self, Postgres, SampleRecords};

const NEEDS_POSTGRES: &str = "the baseline needs PostgreSQL: scripts/postgres could not install or start it (see its messages above)";

#[test]
fn baseline_inserts_verified_records_and_rejects_tampered_ones() -> anyhow::Result<()> {
    let SampleRecords { mut records, keys } = baseline::sample_records(2_000, 4)?;
    let mut tampered = Vec::new();
    for i in [7, 1_000, 1_999] {
        let mut tx = SignedTx::from_bytes(&records[i])?;
        tx.signature.0[10] ^= 0x40;
        tampered.push(tx.id());
        records[i] = tx.to_bytes();
    }
    let dir = tempfile::tempdir()?;
    let server = Postgres::start(dir.path()).context(NEEDS_POSTGRES)?;

    let mut progress = Vec::new();
    let report = baseline::insert(&server, &records, &keys, 500, |n| progress.push(n))?;
    println!("{report:?}");
    assert_eq!(report.records, 1_997);
    assert_eq!(report.rejected, 3);
    assert_eq!(report.batches, 4);
    assert_eq!(report.batch_records, 500);
    assert!(progress.windows(2).all(|w| w[0] < w[1]), "{progress:?}");
    assert_eq!(progress.last(), Some(&1_997));

    let count = server
        .psql()
        .args(["-At", "-c", "select count(*) from records"])
        .output()?;
    assert!(count.status.success(), "{count:?}");
    assert_eq!(String::from_utf8_lossy(&count.stdout).trim(), "1997");

    for id in &tampered {
        let found = server.query(&format!(
            "select count(*) from records where tx_id = '\\x{}'",
            hex(&id.0.0)
        ))?;
        assert_eq!(found, "0", "tampered record {id} was inserted");
    }

    // A stored row holds exactly the record's fields.
    let tx = SignedTx::from_bytes(&records[5])?;
    let row = server.query(&format!(
        "select signer, nonce, encode(signature, 'hex'), encode(body, 'hex') \
         from records where tx_id = '\\x{}'",
        hex(&tx.id().0.0)
    ))?;
    let expected = format!(
        "{}|{}|{}|{}",
        tx.tx.signer,
        tx.tx.nonce.0,
        hex(&tx.signature.0),
        hex(&caravan_sdk::codec::encode(&tx.tx.body))
    );
    assert_eq!(row, expected);
    server.stop()
}

#[test]
fn baseline_run_starts_checks_and_stops_its_own_server() -> anyhow::Result<()> {
    let SampleRecords { records, keys } = baseline::sample_records(2_000, 4)?;
    let report = baseline::run(&records, &keys, baseline::BATCH_RECORDS_DEFAULT, |_| {})
        .context(NEEDS_POSTGRES)?;
    println!(
        "baseline: {} records in {:.3} s = {:.0} records/s (batch {}, {} verify thread(s), PostgreSQL {})",
        report.records,
        report.seconds,
        report.tx_s,
        report.batch_records,
        report.verify_threads,
        report.server_version
    );
    assert_eq!(report.records, 2_000);
    assert_eq!(report.rejected, 0);
    assert_eq!(report.batches, 2);
    assert!(report.tx_s > 0.0);
    Ok(())
}

#[test]
fn baseline_fails_rather_than_count_a_batch_the_database_refused() -> anyhow::Result<()> {
    let SampleRecords { mut records, keys } = baseline::sample_records(10, 2)?;
    records.push(records[3].clone());
    let error = baseline::run(&records, &keys, 100, |_| {})
        .expect_err("a duplicate primary key aborts the batch");
    let message = format!("{error:#}");
    assert!(message.contains("duplicate key"), "{message}");
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
