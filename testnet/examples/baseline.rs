//! Measures the central-database baseline on its own and prints its report as JSON:
//!
//! ```text
//! cargo run --release -p caravan-testnet --example baseline -- [RECORDS] [BATCH]
//! ```
//!
//! RECORDS signed records (default 100,000) from 16 signers, BATCH records per commit (default
//! 1,000).

use caravan_testnet::baseline;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let count: usize = match args.next() {
        Some(text) => text.parse()?,
        None => 100_000,
    };
    let batch: usize = match args.next() {
        Some(text) => text.parse()?,
        None => baseline::BATCH_RECORDS_DEFAULT,
    };
    let sample = baseline::sample_records(count, 16)?;
    let report = baseline::run(&sample.records, &sample.keys, batch, |_| {})?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
