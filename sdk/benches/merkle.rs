//! Benchmarks of the Merkle log at 10^3, 10^5 and 10^6 entries: appending a leaf to the
//! frontier, building an inclusion proof from the stored subtrees, and checking one. Run with
//! `cargo bench -p caravan-sdk --bench merkle`.

use std::hint::black_box;

use caravan_sdk::hash::Digest;
use caravan_sdk::ids::{Height, TxId};
use caravan_sdk::merkle::{Frontier, MemoryLog, inclusion_proof, leaf_hash};
use caravan_sdk::tx::{LogEntry, Outcome, Receipt};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// Log sizes, in entries.
const SIZES: [u64; 3] = [1_000, 100_000, 1_000_000];

/// Leaves appended per measured iteration, so that the frontier's amortised cost is measured
/// and not one lucky or unlucky position.
const APPEND_BATCH: u64 = 1_024;

/// Distinct positions a proof benchmark cycles through (a power of two).
const PROOF_POSITIONS: usize = 1_024;

/// A distinct leaf hash for position `index`.
fn leaf(index: u64) -> Digest {
    leaf_hash(&index.to_le_bytes())
}

/// The sdk's in-memory log of `size` entries, every perfect subtree stored.
fn memory_log(size: u64) -> MemoryLog {
    let mut log = MemoryLog::new();
    for index in 0..size {
        log.append(leaf(index));
    }
    log
}

/// Positions spread over the log, by a multiplicative hash of a counter.
fn positions(size: u64) -> Vec<u64> {
    (0..PROOF_POSITIONS as u64)
        .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15) % size)
        .collect()
}

/// A leaf hash as the node computes it for each committed transaction, and appends to a
/// frontier of 10^3, 10^5 and 10^6 entries (the subtrees it completes are returned for storing).
fn append(c: &mut Criterion) {
    let mut group = c.benchmark_group("merkle_append");
    let entry = LogEntry {
        tx_id: TxId(Digest([7; 32])),
        receipt: Receipt {
            height: Height(1_000),
            index: 17,
            log_index: 999_017,
            outcome: Outcome::Accepted,
        },
    };
    group.throughput(Throughput::Elements(1));
    group.bench_function("log_entry_leaf_hash", |b| {
        b.iter(|| black_box(&entry).leaf_hash())
    });
    let batch: Vec<Digest> = (0..APPEND_BATCH).map(leaf).collect();
    group.throughput(Throughput::Elements(APPEND_BATCH));
    for size in SIZES {
        let mut frontier = Frontier::new();
        for index in 0..size {
            frontier.append(leaf(index));
        }
        group.bench_with_input(
            BenchmarkId::new("frontier", size),
            &frontier,
            |b, frontier| {
                b.iter_batched(
                    || frontier.clone(),
                    |mut frontier| {
                        for leaf in &batch {
                            black_box(frontier.append(*leaf));
                        }
                        frontier
                    },
                    BatchSize::SmallInput,
                )
            },
        );
    }
    group.finish();
}

/// Building an inclusion proof from the stored subtrees, and checking it against the root.
fn inclusion(c: &mut Criterion) {
    let mut build = c.benchmark_group("merkle_inclusion_proof");
    build.throughput(Throughput::Elements(1));
    let mut logs = Vec::new();
    for size in SIZES {
        let log = memory_log(size);
        let positions = positions(size);
        build.bench_with_input(BenchmarkId::from_parameter(size), &log, |b, log| {
            let mut next = 0;
            b.iter(|| {
                next = (next + 1) % PROOF_POSITIONS;
                inclusion_proof(log, black_box(positions[next]), size)
            })
        });
        logs.push((size, log, positions));
    }
    build.finish();

    let mut check = c.benchmark_group("merkle_inclusion_verify");
    check.throughput(Throughput::Elements(1));
    for (size, log, positions) in &logs {
        let root = log.root();
        let proofs: Vec<_> = positions
            .iter()
            .map(|&index| {
                let proof = inclusion_proof(log, index, *size).expect("the log holds the proof");
                (leaf(index), proof)
            })
            .collect();
        check.bench_with_input(BenchmarkId::from_parameter(size), &proofs, |b, proofs| {
            let mut next = 0;
            b.iter(|| {
                next = (next + 1) % PROOF_POSITIONS;
                let (leaf, proof) = &proofs[next];
                black_box(proof).verify(leaf, &root)
            })
        });
    }
    check.finish();
}

criterion_group!(benches, append, inclusion);
criterion_main!(benches);
