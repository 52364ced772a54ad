//! Proof bundle size against log size, for a federation of four agencies: builds logs of 10^3 to
//! 10^7 entries, real bundles over them (each one verified), and prints a Markdown table of their
//! canonical CBOR sizes. Run with `cargo bench -p caravan-sdk --bench sizes`.

mod common;

use std::time::Instant;

use caravan_sdk::bundle::{ProofBundle, ProvenTx};
use caravan_sdk::codec;

use common::{Case, Federation, Placement, Signer};

/// Log sizes, in entries.
const SIZES: [u64; 5] = [1_000, 10_000, 100_000, 1_000_000, 10_000_000];

/// The target: a bundle of at most 2 KiB at 10^6 entries.
const TARGET: (u64, usize) = (1_000_000, 2_048);

/// The number of hashes in the bundle's inclusion paths: the transaction's, plus the
/// registration's within the log when it carries one.
fn path_hashes(bundle: &ProofBundle) -> String {
    let item = bundle
        .item
        .as_ref()
        .map_or(0, |item| item.inclusion.path.len());
    match &bundle.registration {
        None => format!("{item}"),
        Some(registration) => format!("{item} + {}", registration.path.len()),
    }
}

/// The encoded size of each part of a proven transaction.
fn proven_parts(item: &ProvenTx) -> Vec<(&'static str, usize)> {
    vec![
        ("transaction", codec::encode(&item.transaction).len()),
        ("receipt", codec::encode(&item.receipt).len()),
        ("inclusion proof", codec::encode(&item.inclusion).len()),
        ("header", codec::encode(&item.header).len()),
        ("commit certificate", codec::encode(&item.certificate).len()),
    ]
}

/// Parts and their sizes, as "part bytes, ...".
fn listed(parts: &[(&str, usize)]) -> String {
    parts
        .iter()
        .map(|(part, bytes)| format!("{part} {bytes}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `n` with thousands separators.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// The process's peak resident memory, where the system reports it.
fn peak_memory_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

fn main() {
    let federation = Federation::new();
    let columns = [
        (Signer::Founder, Placement::LastEntries),
        (Signer::Founder, Placement::LongestPath),
        (Signer::RegisteredJustBefore, Placement::LastEntries),
        (Signer::RegisteredParticipant, Placement::LastEntries),
        (Signer::RegisteredParticipant, Placement::LongestPath),
    ];
    println!(
        "Proof bundle size, canonical CBOR bytes (inclusion path hashes), {} validators, \
         certificates of {} precommits",
        federation.validator_count(),
        federation.quorum()
    );
    println!();
    let header: Vec<String> = columns
        .iter()
        .map(|(signer, placement)| format!("{} {}", signer.name(), placement.name()))
        .collect();
    println!("| log entries | {} |", header.join(" | "));
    println!("|---:|{}", "---:|".repeat(columns.len()));
    let mut at_target = Vec::new();
    let mut breakdown: Option<ProofBundle> = None;
    let mut registered: Option<ProofBundle> = None;
    let mut slowest = (0, 0.0);
    for entries in SIZES {
        let started = Instant::now();
        let cases: Vec<Case> = federation.cases(entries);
        slowest = (entries, started.elapsed().as_secs_f64());
        let cells: Vec<String> = columns
            .iter()
            .map(|&(signer, placement)| {
                let case = cases
                    .iter()
                    .find(|case| case.signer == signer && case.placement == placement)
                    .expect("every signer in every placement");
                let bytes = codec::encode(&case.bundle).len();
                if entries == TARGET.0 {
                    at_target.push((signer.name(), placement.name(), bytes));
                    if (signer, placement) == (Signer::Founder, Placement::LongestPath) {
                        breakdown = Some(case.bundle.clone());
                    }
                    if (signer, placement)
                        == (Signer::RegisteredParticipant, Placement::LongestPath)
                    {
                        registered = Some(case.bundle.clone());
                    }
                }
                format!("{} ({})", grouped(bytes as u64), path_hashes(&case.bundle))
            })
            .collect();
        println!("| {} | {} |", grouped(entries), cells.join(" | "));
    }
    println!();
    println!(
        "Target: at most {} bytes at {} entries with {} validators.",
        grouped(TARGET.1 as u64),
        grouped(TARGET.0),
        federation.validator_count()
    );
    for (signer, placement, bytes) in at_target {
        let verdict = if bytes <= TARGET.1 { "within" } else { "over" };
        println!(
            "- {signer} {placement}: {} bytes, {verdict}",
            grouped(bytes as u64)
        );
    }
    println!();
    if let Some(item) = breakdown.as_ref().and_then(|bundle| bundle.item.as_ref()) {
        println!(
            "Where the bytes go, one proven transaction at {} entries, longest path: {}.",
            grouped(TARGET.0),
            listed(&proven_parts(item))
        );
        if let Some(bundle) = &registered
            && let (Some(item), Some(registration)) = (&bundle.item, &bundle.registration)
        {
            let mut parts = proven_parts(item);
            parts.extend([
                (
                    "registration's transaction",
                    codec::encode(&registration.transaction).len(),
                ),
                (
                    "registration's receipt",
                    codec::encode(&registration.receipt).len(),
                ),
                (
                    "registration's path",
                    codec::encode(&registration.path).len(),
                ),
            ]);
            let framing = codec::encode(bundle).len() - parts.iter().map(|(_, b)| b).sum::<usize>();
            println!(
                "A registered participant's bundle at {} entries, longest pair of paths ({} + {} \
                 hashes): {}, framing {framing}.",
                grouped(TARGET.0),
                item.inclusion.path.len(),
                registration.path.len(),
                listed(&parts)
            );
        }
        println!();
    }
    print!(
        "Building the two logs of {} entries and their bundles took {:.1} s",
        grouped(slowest.0),
        slowest.1
    );
    match peak_memory_mib() {
        Some(mib) => println!("; peak resident memory {mib} MiB."),
        None => println!("."),
    }
}
