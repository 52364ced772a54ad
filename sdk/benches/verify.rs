//! Benchmarks of offline verification: proof bundles of a four-agency federation over a log of a
//! million entries, the parts a bundle verification is made of, and the single-signature
//! operations that bound it. Run with `cargo bench -p caravan-sdk --bench verify`.

mod common;

use std::hint::black_box;

use caravan_sdk::bundle::{
    BundleVerifier, ProofBundle, ValidatorHistory, verify_bundle, verify_certified_header,
};
use caravan_sdk::keys::Keypair;
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

use common::{Federation, Placement, Signer};

/// The log the bundles prove inclusion in: the size the bundle-size target names.
const LOG_ENTRIES: u64 = 1_000_000;

/// `verify_bundle` on real bundles, each signer in each placement.
fn bundle_verify(c: &mut Criterion) {
    let federation = Federation::new();
    let mut group = c.benchmark_group(format!(
        "bundle_verify_{}_validators",
        federation.validator_count()
    ));
    group.throughput(Throughput::Elements(1));
    // A registration just before its record verifies as one long before it does.
    for case in federation
        .cases(LOG_ENTRIES)
        .into_iter()
        .filter(|case| case.signer != Signer::RegisteredJustBefore)
    {
        group.bench_with_input(
            BenchmarkId::new(case.signer.name(), case.placement.name()),
            &case.bundle,
            |b, bundle| b.iter(|| verify_bundle(&federation.genesis, black_box(bundle))),
        );
    }
    group.finish();
}

/// A bank verifying many bundles with one `BundleVerifier`: the genesis is checked once and each
/// certified header once, so a bundle from a block already seen costs its own signature checks.
fn bundle_verify_shared(c: &mut Criterion) {
    let federation = Federation::new();
    let verifier = BundleVerifier::new(&federation.genesis).expect("genesis");
    let mut group = c.benchmark_group(format!(
        "bundle_verify_shared_{}_validators",
        federation.validator_count()
    ));
    group.throughput(Throughput::Elements(1));
    // A registration just before its record verifies as one long before it does.
    for case in federation
        .cases(LOG_ENTRIES)
        .into_iter()
        .filter(|case| case.signer != Signer::RegisteredJustBefore)
    {
        verifier.verify(&case.bundle).expect("verifies");
        group.bench_with_input(
            BenchmarkId::new(case.signer.name(), case.placement.name()),
            &case.bundle,
            |b, bundle| b.iter(|| verifier.verify(black_box(bundle))),
        );
    }
    group.finish();
}

/// Bundles verified together by [`bundle_verify_many`]: a block's worth of enterprises' records.
const MANY: u64 = 256;

/// A bank verifying the records of many enterprises at once, with one `BundleVerifier` that has
/// seen their block before: each bundle a distinct participant's record with its registration
/// (two signatures), checked one by one with `verify` and all together with `verify_many`.
fn bundle_verify_many(c: &mut Criterion) {
    let federation = Federation::new();
    let bundles = federation.many(MANY, LOG_ENTRIES);
    let verifier = BundleVerifier::new(&federation.genesis).expect("genesis");
    assert!(verifier.verify_many(&bundles).iter().all(Result::is_ok));
    let mut group = c.benchmark_group(format!(
        "bundle_verify_many_{}_validators",
        federation.validator_count()
    ));
    group.throughput(Throughput::Elements(MANY));
    group.bench_function(BenchmarkId::new("one_by_one", MANY), |b| {
        b.iter(|| {
            bundles
                .iter()
                .map(|bundle| verifier.verify(black_box(bundle)))
                .collect::<Vec<_>>()
        })
    });
    group.bench_function(BenchmarkId::new("verify_many", MANY), |b| {
        b.iter(|| verifier.verify_many(black_box(&bundles)))
    });
    group.finish();
}

/// The parts of a bundle verification, measured alone: the genesis check that starts every
/// verification, one certified header, and decoding the bundle's bytes.
fn bundle_parts(c: &mut Criterion) {
    let federation = Federation::new();
    let bundle = federation
        .cases(LOG_ENTRIES)
        .into_iter()
        .find(|case| {
            case.signer == Signer::RegisteredParticipant && case.placement == Placement::LongestPath
        })
        .map(|case| case.bundle)
        .expect("the registered participant's bundle");
    let genesis = &federation.genesis;
    let history = ValidatorHistory::from_genesis(genesis, genesis.chain_id());
    let bytes = bundle.to_bytes();
    let mut group = c.benchmark_group("bundle_parts");
    group.throughput(Throughput::Elements(1));
    group.bench_function(
        format!("genesis_verify_{}_founders", federation.validator_count()),
        |b| b.iter(|| black_box(genesis).verify()),
    );
    let item = bundle.item.as_ref().expect("a transaction bundle");
    group.bench_function(
        format!("certified_header_verify_{}_precommits", federation.quorum()),
        |b| {
            b.iter(|| {
                verify_certified_header(
                    &history,
                    black_box(&item.header),
                    black_box(&item.certificate),
                )
            })
        },
    );
    group.bench_function(
        BenchmarkId::new("decode", format!("{}_bytes", bytes.len())),
        |b| b.iter(|| ProofBundle::from_bytes(black_box(&bytes))),
    );
    group.finish();
}

/// One Ed25519 signature, alone and as a transaction signs and checks it (canonical encoding,
/// hashing, then the signature).
fn signature(c: &mut Criterion) {
    let federation = Federation::new();
    let case = federation
        .cases(16)
        .into_iter()
        .find(|case| case.signer == Signer::Founder)
        .expect("a founder-signed bundle");
    let unsigned = case
        .bundle
        .item
        .expect("a transaction bundle")
        .transaction
        .tx;
    let key = Keypair::from_seed(&[42; 32]);
    let public = key.public();
    let signed = unsigned.clone().sign(&key);
    let digest = unsigned.signing_digest();
    let signature = key.sign(&digest);
    let mut group = c.benchmark_group("signature");
    group.throughput(Throughput::Elements(1));
    group.bench_function("ed25519_verify", |b| {
        b.iter(|| black_box(&public).verify(black_box(&digest), black_box(&signature)))
    });
    group.bench_function("ed25519_sign", |b| {
        b.iter(|| black_box(&key).sign(black_box(&digest)))
    });
    group.bench_function("tx_verify_signature", |b| {
        b.iter(|| black_box(&signed).verify_signature(black_box(&public)))
    });
    group.bench_function("tx_sign", |b| {
        b.iter_batched(
            || unsigned.clone(),
            |unsigned| unsigned.sign(&key),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(
    benches,
    bundle_verify,
    bundle_verify_shared,
    bundle_verify_many,
    bundle_parts,
    signature
);
criterion_main!(benches);
