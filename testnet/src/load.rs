//! `caravan-testnet load`: the throughput and finality benchmark. It starts a real federation of
//! node processes on loopback (or uses one started with `up`), registers rail operators that
//! anchor train documents, signs their transactions ahead of time, submits them in batches from
//! several client threads spread over the nodes, and reports committed transactions per second,
//! finality latency and losses, next to two figures measured in the same run on the same
//! machine: the signature-verification ceiling and a central PostgreSQL database doing the same
//! work (see `baseline.rs`).
//!
//! What the figures mean:
//! - `committed_tx_s`: valid transactions committed, divided by the time from the first
//!   submission to the last commit answer.
//! - latency: from a batch's submission (its scheduled time when a rate is set, so that a slow
//!   federation cannot hide its queueing) to the node's answer that every transaction of the
//!   batch is in a durable, certified block. A transaction committed in an earlier block than the
//!   last of its batch is counted with the batch's latency, so the figures are upper bounds.
//! - `rejected`: valid transactions refused at admission or rejected in a block (expected 0).
//!   Deliberately invalid ones (`--invalid`) are counted separately.
//! - `lost`: valid transactions admitted but not committed by the end of the run and a drain of
//!   up to 30 s (expected 0).
//! - `verify_ceiling_tx_s`: the rate at which this machine batch-verifies the run's own
//!   transaction signatures on all cores, divided by the number of validators (each validator
//!   verifies every transaction once).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde::Serialize;

use caravan_sdk::api::{BatchItem, TxStatus, encode_batch};
use caravan_sdk::client::Client;
use caravan_sdk::hash::{Digest, Domain, hash};
use caravan_sdk::ids::{ChainId, Nonce, ParticipantId, TxId};
use caravan_sdk::keys::{self, Keypair, PublicKey};
use caravan_sdk::tx::{Body, Role, SignedTx, UnsignedTx};

use crate::federation::{Federation, Launcher, TestnetFile};

/// The most transactions a run signs in advance (about 350 bytes each in memory, 2.8 GB in all):
/// a 10-minute run at 13,000 tx/s, half the maximum rate of a quiet 2-core machine.
const MAX_SIGNED: u64 = 8_000_000;

/// How fast to submit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rate {
    /// As fast as the federation answers (each client keeps one batch in flight).
    Max,
    /// This many transactions per second in all, paced.
    PerSecond(u64),
}

impl std::str::FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "max" {
            return Ok(Rate::Max);
        }
        match s.parse::<u64>() {
            Ok(0) | Err(_) => Err(format!(
                "rate must be \"max\" or a positive number of transactions per second, found {s:?}"
            )),
            Ok(n) => Ok(Rate::PerSecond(n)),
        }
    }
}

/// The load benchmark's options (also its command line).
#[derive(clap::Args, Clone, Debug)]
pub struct LoadOptions {
    /// Validators of the federation to start (ignored with --testnet).
    #[arg(long, default_value_t = 4)]
    pub validators: usize,
    /// Measure against a federation started with `up --dir DIR` instead of starting one.
    #[arg(long, value_name = "DIR")]
    pub testnet: Option<PathBuf>,
    /// How long to submit, e.g. 30s, 2m.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Transactions per second in all, or `max`.
    #[arg(long, default_value = "max")]
    pub rate: Rate,
    /// What to submit: `anchor` (rail operators anchor train consignment notes as records) or
    /// `domain` (they anchor commercial invoices as trade documents: key fields checked,
    /// canonicalised and indexed by content and business key).
    #[arg(long, default_value = "anchor", value_parser = ["anchor", "domain"])]
    pub mix: String,
    /// Client threads submitting concurrently.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// Rail operators signing (each with its own key), shared out among the clients. Many
    /// signers make the batch verification as hard as for independent enterprises.
    #[arg(long, default_value_t = 1024)]
    pub signers: usize,
    /// Batches each client keeps in flight at most.
    #[arg(long, default_value_t = 4)]
    pub inflight: usize,
    /// Transactions per submitted batch.
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// Share of deliberately invalid transactions (bad signature, replay, oversized), 0 to 0.5.
    #[arg(long, default_value_t = 0.0)]
    pub invalid: f64,
    /// After the load, start this many observers from zero and measure how fast they catch up
    /// (transactions verified, re-executed and stored per second). Needs a federation this
    /// command starts (not `--testnet`).
    #[arg(long, default_value_t = 0)]
    pub observers: usize,
    /// Skip the central-database baseline (it is run by default; the report then says so).
    #[arg(long)]
    pub no_baseline: bool,
    /// Write the report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Working folder for a started federation (default: a new temporary folder).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (number, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map(|i| s.split_at(i))
        .unwrap_or((s, "s"));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("duration must look like 30s or 2m, found {s:?}"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        _ => return Err(format!("duration unit must be s or m, found {s:?}")),
    };
    if secs == 0 {
        return Err("duration must be at least 1s".into());
    }
    Ok(Duration::from_secs(secs))
}

/// The report (`--json`).
#[derive(Clone, Debug, Serialize)]
pub struct LoadReport {
    /// Valid transactions committed per second.
    pub committed_tx_s: f64,
    /// Median finality latency, milliseconds.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Valid transactions refused or rejected.
    pub rejected: u64,
    /// Valid transactions admitted and never committed.
    pub lost: u64,
    /// Batch signature verification rate on all cores, divided by the validators.
    pub verify_ceiling_tx_s: f64,
    /// `committed_tx_s / verify_ceiling_tx_s`.
    pub ratio_to_ceiling: f64,
    /// Validators.
    pub validators: usize,
    /// Seconds of submission.
    pub duration_s: f64,
    /// The central database's rate for the same records (null when skipped).
    pub baseline_tx_s: Option<f64>,
    /// `committed_tx_s / baseline_tx_s` (null when skipped).
    pub ratio_to_baseline: Option<f64>,
    /// Observers started from zero after the load (`--observers`).
    pub observers: usize,
    /// The slowest observer's catch-up: the log's transactions over the seconds from its start
    /// until it held the tip (null without observers).
    pub observer_catchup_tx_s: Option<f64>,
}

/// What else a run saw, printed with the report.
#[derive(Default, Debug)]
pub struct RunDetail {
    /// Valid transactions submitted.
    pub submitted: u64,
    /// Valid transactions committed.
    pub committed: u64,
    /// Invalid transactions submitted.
    pub invalid_submitted: u64,
    /// Invalid transactions refused or rejected (expected: all of them).
    pub invalid_rejected: u64,
    /// Invalid transactions that were committed (expected 0).
    pub invalid_committed: u64,
    /// Resident memory of each validator at the start and end of the run, KiB.
    pub rss_kib: Vec<(u64, u64)>,
    /// CPU time (user and system) all validators spent from the start to the end of the run,
    /// per transaction committed in that time, microseconds: a figure that depends far less on
    /// what else the machine is running than throughput does. None when it cannot be read.
    pub validator_cpu_us_per_tx: Option<f64>,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Valid,
    BadSignature,
    Replay,
    Oversized,
}

struct Batch {
    body: Vec<u8>,
    kinds: Vec<Kind>,
}

struct ClientPlan {
    node: usize,
    batches: Vec<Batch>,
}

#[derive(Default)]
struct ClientResult {
    latencies_ms: Vec<f64>,
    submitted: u64,
    committed: u64,
    rejected: u64,
    pending: Vec<(usize, TxId, Instant)>,
    invalid_submitted: u64,
    invalid_rejected: u64,
    invalid_committed: u64,
    last_answer: Option<Instant>,
    errors: Vec<String>,
}

impl ClientResult {
    /// The results of several clients (or client threads) as one.
    fn merge(results: impl IntoIterator<Item = ClientResult>) -> ClientResult {
        let mut all = ClientResult::default();
        for r in results {
            all.latencies_ms.extend(r.latencies_ms);
            all.submitted += r.submitted;
            all.committed += r.committed;
            all.rejected += r.rejected;
            all.pending.extend(r.pending);
            all.invalid_submitted += r.invalid_submitted;
            all.invalid_rejected += r.invalid_rejected;
            all.invalid_committed += r.invalid_committed;
            all.last_answer = all.last_answer.max(r.last_answer);
            all.errors.extend(r.errors);
        }
        all
    }
}

/// Where the load goes.
struct Target {
    urls: Vec<String>,
    chain_id: ChainId,
    registrar: (ParticipantId, Keypair),
    pids: Vec<u32>,
}

/// Runs the benchmark and prints the report; returns it with the details.
pub fn run(options: &LoadOptions, launcher: Launcher) -> anyhow::Result<(LoadReport, RunDetail)> {
    if options.clients == 0 || options.batch == 0 || options.inflight == 0 {
        bail!("--clients, --batch and --inflight must be at least 1");
    }
    if options.signers < options.clients || options.signers > 4096 {
        bail!(
            "--signers must be between --clients ({}) and 4096, found {}",
            options.clients,
            options.signers
        );
    }
    if !(0.0..=0.5).contains(&options.invalid) {
        bail!(
            "--invalid must be between 0 and 0.5, found {}",
            options.invalid
        );
    }
    if options.batch > caravan_sdk::api::MAX_BATCH_TRANSACTIONS {
        bail!(
            "--batch must be at most {}",
            caravan_sdk::api::MAX_BATCH_TRANSACTIONS
        );
    }
    if options.observers > 0 && options.testnet.is_some() {
        bail!("--observers needs a federation this command starts; drop --testnet");
    }
    if let Rate::PerSecond(rate) = options.rate {
        let wanted = rate.saturating_mul(options.duration.as_secs());
        if wanted > MAX_SIGNED {
            bail!(
                "--rate {rate} for {} s needs {wanted} transactions; the tool signs at most \
                 {MAX_SIGNED} in advance: lower the rate or the duration",
                options.duration.as_secs()
            );
        }
    }
    let mut federation = None;
    let target = match &options.testnet {
        Some(dir) => existing(dir)?,
        None => {
            let dir = match &options.dir {
                Some(d) => d.clone(),
                None => std::env::temp_dir().join(format!("caravan-load-{}", std::process::id())),
            };
            eprintln!(
                "starting {} validators in {}",
                options.validators,
                dir.display()
            );
            let mut fed = Federation::create(&dir, options.validators, launcher)?;
            fed.start_all()?;
            fed.wait_all_healthy(Duration::from_secs(60))?;
            let t = Target {
                urls: fed.nodes.iter().map(|n| n.api_url.clone()).collect(),
                chain_id: fed.chain_id(),
                registrar: (
                    ParticipantId::new(fed.nodes[0].agency.as_str())?,
                    fed.admin_key(0)?,
                ),
                pids: fed.nodes.iter().filter_map(|n| n.pid).collect(),
            };
            federation = Some(fed);
            t
        }
    };
    let validators = target.urls.len();
    let result = measure(options, &target);
    let catchup = match (&mut federation, &result) {
        (Some(fed), Ok(_)) if options.observers > 0 => {
            Some(observer_catchup(fed, options.observers))
        }
        _ => None,
    };
    if let Some(mut fed) = federation {
        fed.stop_all()?;
    }
    let (mut report, detail, records, keys) = result?;
    report.validators = validators;
    if let Some(catchup) = catchup {
        report.observers = options.observers;
        report.observer_catchup_tx_s = Some(catchup?);
    }
    if options.no_baseline {
        eprintln!("central-database baseline skipped (--no-baseline)");
    } else {
        eprintln!(
            "central-database baseline: {} records into PostgreSQL",
            records.len()
        );
        let baseline = crate::baseline::run(
            &records,
            &keys,
            crate::baseline::BATCH_RECORDS_DEFAULT,
            |_| {},
        )?;
        report.baseline_tx_s = Some(baseline.tx_s);
        report.ratio_to_baseline = Some(report.committed_tx_s / baseline.tx_s);
    }
    print_report(&report, &detail);
    if let Some(path) = &options.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("report written to {}", path.display());
    }
    Ok((report, detail))
}

/// Starts `count` observers from zero on `fed` and returns the slowest one's catch-up rate: the
/// transactions in the log at the tip when they started, over the seconds until it held that tip.
fn observer_catchup(fed: &mut Federation, count: usize) -> anyhow::Result<f64> {
    let tip = fed.client(0).checkpoint()?.header;
    eprintln!(
        "starting {count} observer(s) from zero: {} transactions in {} blocks to catch up",
        tip.log_size, tip.height
    );
    let mut observers = Vec::new();
    for _ in 0..count {
        observers.push(fed.add_observer(0)?);
    }
    let started = std::time::Instant::now();
    for &i in &observers {
        fed.start(i)?;
    }
    let mut slowest = f64::INFINITY;
    for &i in &observers {
        fed.wait_height(i, tip.height, Duration::from_secs(3600))?;
        let rate = tip.log_size as f64 / started.elapsed().as_secs_f64();
        eprintln!(
            "observer {} caught up in {:.1} s: {rate:.0} tx/s",
            fed.nodes[i].agency,
            started.elapsed().as_secs_f64()
        );
        slowest = slowest.min(rate);
    }
    Ok(slowest)
}

fn existing(dir: &Path) -> anyhow::Result<Target> {
    let path = dir.join("testnet.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let file: TestnetFile = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a testnet file", path.display()))?;
    let first = file
        .nodes
        .first()
        .context("the testnet file lists no nodes")?;
    Ok(Target {
        urls: file.nodes.iter().map(|n| n.api_url.clone()).collect(),
        chain_id: file.chain_id,
        registrar: (
            ParticipantId::new(first.agency.as_str())?,
            keys::read_key_file(&first.keys.join("admin.key"))?,
        ),
        pids: file.nodes.iter().filter_map(|n| n.pid).collect(),
    })
}

/// Canonical bytes of the valid transactions, with their signer's key.
type Records = Vec<(Vec<u8>, PublicKey)>;

type Measured = (
    LoadReport,
    RunDetail,
    Vec<Vec<u8>>,
    HashMap<ParticipantId, PublicKey>,
);

fn measure(options: &LoadOptions, target: &Target) -> anyhow::Result<Measured> {
    let validators = target.urls.len();
    let run_id = hash(Domain::Content, &crate::federation::now_ms().to_be_bytes());
    let operators: Vec<(ParticipantId, Keypair)> = (0..options.signers)
        .map(|i| {
            let id = ParticipantId::new(format!(
                "RAIL-LOAD-{}-{i}",
                run_id.to_string()[..8].to_uppercase()
            ))?;
            Ok((id, Keypair::generate()?))
        })
        .collect::<anyhow::Result<_>>()?;
    register(target, &operators)?;

    // Sign everything before the clock starts, so that the clients' signing does not take CPU
    // from the validators during the measurement.
    let total = match options.rate {
        Rate::PerSecond(r) => r.saturating_mul(options.duration.as_secs()),
        // Enough for well above the machine's ceiling (one validator commits about 60,000 tx/s
        // on a 2-core machine).
        Rate::Max => (120_000 / validators as u64).max(8_000) * options.duration.as_secs(),
    }
    .clamp(options.batch as u64, MAX_SIGNED);
    let per_client = (total as usize).div_ceil(options.clients);
    let (plans, records) = sign_all(options, target, &operators, per_client, run_id)?;

    let ceiling = verify_ceiling(&records) / validators as f64;
    eprintln!(
        "signature verification ceiling: {:.0} tx/s per validator set of {validators}",
        ceiling
    );

    let rss_start: Vec<u64> = target.pids.iter().map(|p| rss_kib(*p)).collect();
    let cpu_start = cpu_ticks(&target.pids);
    let stop = Arc::new(AtomicBool::new(false));
    let committed = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let end = start + options.duration;
    let progress = {
        let committed = Arc::clone(&committed);
        let stop = Arc::clone(&stop);
        let duration = options.duration;
        std::thread::spawn(move || show_progress(start, duration, &committed, &stop))
    };
    let interval = match options.rate {
        Rate::Max => None,
        Rate::PerSecond(r) => Some(Duration::from_secs_f64(
            (options.batch * options.clients) as f64 / r as f64,
        )),
    };
    let handles: Vec<_> = plans
        .into_iter()
        .enumerate()
        .map(|(i, plan)| {
            let url = target.urls[plan.node].clone();
            let committed = Arc::clone(&committed);
            // Clients start spread over one interval so that paced batches do not arrive
            // together.
            let offset = interval
                .map(|d| d.mul_f64(i as f64 / options.clients as f64))
                .unwrap_or_default();
            let inflight = options.inflight;
            std::thread::spawn(move || {
                client_loop(
                    plan,
                    &url,
                    start + offset,
                    end,
                    interval,
                    inflight,
                    &committed,
                )
            })
        })
        .collect();
    let mut results = Vec::new();
    for h in handles {
        results.push(
            h.join()
                .map_err(|_| anyhow::anyhow!("a load client panicked"))?,
        );
    }
    stop.store(true, Ordering::Relaxed);
    let _ = progress.join();
    let rss_end: Vec<u64> = target.pids.iter().map(|p| rss_kib(*p)).collect();
    let cpu_end = cpu_ticks(&target.pids);

    // Drain: whatever was admitted but not committed when its batch's wait ended.
    let all = ClientResult::merge(results);
    let ran_out = start.elapsed() + Duration::from_secs(1) < options.duration;
    if ran_out {
        eprintln!(
            "note: the {total} signed transactions ran out after {:.1} s of the {} s; the rate \
             is what the federation committed while it was supplied",
            start.elapsed().as_secs_f64(),
            options.duration.as_secs()
        );
    }
    for e in all.errors.iter().take(3) {
        eprintln!("client error: {e}");
    }
    let mut detail = RunDetail {
        submitted: all.submitted,
        committed: all.committed,
        invalid_submitted: all.invalid_submitted,
        invalid_rejected: all.invalid_rejected,
        invalid_committed: all.invalid_committed,
        rss_kib: Vec::new(),
        validator_cpu_us_per_tx: match (cpu_start, cpu_end) {
            (Some(a), Some(b)) if all.committed > 0 && b >= a => {
                Some((b - a) as f64 * 1e6 / USER_HZ / all.committed as f64)
            }
            _ => None,
        },
    };
    let mut latencies = all.latencies_ms;
    let mut rejected = all.rejected;
    let pending = all.pending;
    let mut last_answer = all.last_answer.unwrap_or(start).max(start);
    let mut lost = 0;
    if !pending.is_empty() {
        eprintln!("draining {} transactions still pending", pending.len());
        let deadline = Instant::now() + Duration::from_secs(30);
        for (node, id, sent) in pending {
            let client = Client::with_timeout(&target.urls[node], Duration::from_secs(5));
            loop {
                match client.tx_status(&id) {
                    Ok(TxStatus::Committed { .. }) => {
                        detail.committed += 1;
                        latencies.push(ms(sent.elapsed()));
                        last_answer = Instant::now();
                        break;
                    }
                    Ok(TxStatus::Rejected { .. }) => {
                        rejected += 1;
                        break;
                    }
                    _ if Instant::now() > deadline => {
                        lost += 1;
                        break;
                    }
                    _ => std::thread::sleep(Duration::from_millis(200)),
                }
            }
        }
    }
    detail.rss_kib = rss_start.into_iter().zip(rss_end).collect();
    latencies.sort_by(f64::total_cmp);
    let seconds = (last_answer - start).as_secs_f64().max(1e-3);
    let committed_tx_s = detail.committed as f64 / seconds;
    let report = LoadReport {
        committed_tx_s,
        p50_ms: percentile(&latencies, 0.50),
        p95_ms: percentile(&latencies, 0.95),
        p99_ms: percentile(&latencies, 0.99),
        rejected,
        lost,
        verify_ceiling_tx_s: ceiling,
        ratio_to_ceiling: committed_tx_s / ceiling,
        validators,
        duration_s: options.duration.as_secs_f64(),
        baseline_tx_s: None,
        ratio_to_baseline: None,
        observers: 0,
        observer_catchup_tx_s: None,
    };
    // The baseline gets the valid records that the federation committed, as many of them.
    let records = records
        .into_iter()
        .take(detail.committed as usize)
        .map(|(bytes, _)| bytes)
        .collect();
    let keys = operators
        .iter()
        .map(|(id, key)| (id.clone(), key.public()))
        .collect();
    Ok((report, detail, records, keys))
}

/// Registers the rail operators through the first node and waits until every node has them.
fn register(target: &Target, operators: &[(ParticipantId, Keypair)]) -> anyhow::Result<()> {
    let (registrar, key) = &target.registrar;
    let client = Client::with_timeout(&target.urls[0], Duration::from_secs(60));
    // Registration nonces only need to be fresh for this registrar: use the clock.
    let base = crate::federation::now_ms() * 1_000;
    let txs: Vec<SignedTx> = operators
        .iter()
        .enumerate()
        .map(|(i, (id, op))| {
            UnsignedTx {
                chain_id: target.chain_id,
                signer: registrar.clone(),
                nonce: Nonce(base + i as u64),
                body: Body::RegisterParticipant {
                    id: id.clone(),
                    name: format!("Load rail operator {i}"),
                    roles: vec![Role::Rail],
                    public_key: op.public(),
                },
            }
            .sign(key)
        })
        .collect();
    let answer = client
        .submit_batch(&txs, true)
        .context("registering the load's rail operators")?;
    let mut height = caravan_sdk::ids::Height(0);
    for item in &answer.results {
        match item {
            BatchItem::Committed { height: h, .. } => height = height.max(*h),
            other => bail!("registering a rail operator: {other:?}"),
        }
    }
    for url in &target.urls {
        let c = Client::with_timeout(url, Duration::from_secs(2));
        let deadline = Instant::now() + Duration::from_secs(60);
        while c.health().map(|h| h.height < height).unwrap_or(true) {
            if Instant::now() > deadline {
                bail!("{url} did not reach height {height} within 60 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Ok(())
}

fn sign_all(
    options: &LoadOptions,
    target: &Target,
    operators: &[(ParticipantId, Keypair)],
    per_client: usize,
    run_id: Digest,
) -> anyhow::Result<(Vec<ClientPlan>, Records)> {
    let total = per_client * options.clients;
    eprintln!(
        "signing {total} transactions from {} rail operators for {} clients",
        operators.len(),
        options.clients
    );
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let every = if options.invalid > 0.0 {
        (1.0 / options.invalid).round().max(2.0) as usize
    } else {
        usize::MAX
    };
    let validators = target.urls.len();
    let per_signer_group = operators.len() / options.clients;
    let groups: Vec<(usize, &[(ParticipantId, Keypair)])> = (0..options.clients)
        .map(|c| {
            let end = if c + 1 == options.clients {
                operators.len()
            } else {
                (c + 1) * per_signer_group
            };
            (c, &operators[c * per_signer_group..end])
        })
        .collect();
    let made: Vec<(ClientPlan, Records)> = std::thread::scope(|s| {
        let handles: Vec<_> = groups
            .chunks(options.clients.div_ceil(threads))
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|(c, signers)| {
                            let made = client_plan(
                                options, target, *c, signers, per_client, every, run_id,
                            );
                            (
                                ClientPlan {
                                    node: c % validators,
                                    ..made.0
                                },
                                made.1,
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    if made.len() != options.clients {
        bail!("signing the load's transactions failed");
    }
    let mut plans = Vec::new();
    let mut records = Vec::new();
    for (plan, recs) in made {
        plans.push(plan);
        records.extend(recs);
    }
    Ok((plans, records))
}

#[allow(clippy::too_many_arguments)]
fn client_plan(
    options: &LoadOptions,
    target: &Target,
    c: usize,
    signers: &[(ParticipantId, Keypair)],
    count: usize,
    every: usize,
    run_id: Digest,
) -> (ClientPlan, Records) {
    let mut records = Vec::with_capacity(count);
    let mut batches = Vec::new();
    let mut items: Vec<Vec<u8>> = Vec::with_capacity(options.batch);
    let mut kinds = Vec::with_capacity(options.batch);
    let mut previous_valid: Option<Vec<u8>> = None;
    let mut nonces = vec![0u64; signers.len()];
    for i in 0..count {
        let who = i % signers.len();
        let (id, key) = &signers[who];
        let position = c * count + i;
        let kind = if position % every == every - 1 {
            match position / every % 3 {
                0 => Kind::BadSignature,
                1 if previous_valid.is_some() => Kind::Replay,
                1 => Kind::BadSignature,
                _ => Kind::Oversized,
            }
        } else {
            Kind::Valid
        };
        let bytes = match kind {
            Kind::Valid | Kind::BadSignature => {
                nonces[who] += 1;
                let nonce = nonces[who];
                let mut tx = UnsignedTx {
                    chain_id: target.chain_id,
                    signer: id.clone(),
                    nonce: Nonce(nonce),
                    body: body(&options.mix, run_id, c, i),
                }
                .sign(key);
                if kind == Kind::BadSignature {
                    tx.signature.0[10] ^= 0x20;
                }
                let bytes = tx.to_bytes();
                if kind == Kind::Valid {
                    records.push((bytes.clone(), key.public()));
                    previous_valid = Some(bytes.clone());
                }
                bytes
            }
            Kind::Replay => previous_valid.clone().unwrap_or_default(),
            Kind::Oversized => vec![0x5a; caravan_sdk::codec::MAX_TRANSACTION_BYTES + 1],
        };
        items.push(bytes);
        kinds.push(kind);
        if items.len() == options.batch || i + 1 == count {
            batches.push(Batch {
                body: encode_batch(items.iter().map(|b| &b[..])),
                kinds: std::mem::take(&mut kinds),
            });
            items.clear();
            // A replay copies an earlier transaction of its own batch: batches of one client
            // travel concurrently, so an earlier batch may not have arrived yet.
            previous_valid = None;
        }
    }
    (ClientPlan { node: 0, batches }, records)
}

/// The `i`-th transaction body of client `c`.
fn body(mix: &str, run_id: Digest, c: usize, i: usize) -> Body {
    let content_hash = hash(Domain::Content, format!("{run_id} {c} {i}").as_bytes());
    if mix == "domain" {
        let mut invoice = caravan_sdk::trade::sample::invoice();
        invoice.number = format!("INV-{c}-{i}");
        Body::AnchorDocument {
            consignment: None,
            leg: None,
            content_hash,
            fields_root: hash(Domain::Content, content_hash.as_bytes()),
            fields: Box::new(caravan_sdk::trade::documents::DocumentFields::Invoice(
                invoice,
            )),
        }
    } else {
        Body::AnchorRecord {
            kind: "rail_consignment_note".into(),
            document_hash: content_hash,
            metadata: vec![("train".into(), format!("X8{:03}", i % 1000))],
        }
    }
}

fn client_loop(
    plan: ClientPlan,
    url: &str,
    first: Instant,
    end: Instant,
    interval: Option<Duration>,
    inflight: usize,
    committed: &AtomicU64,
) -> ClientResult {
    let node = plan.node;
    let queue = std::sync::Mutex::new(plan.batches.into_iter().enumerate());
    let results: Vec<ClientResult> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..inflight.max(1))
            .map(|_| {
                let queue = &queue;
                s.spawn(move || {
                    let client = Client::with_timeout(url, Duration::from_secs(60));
                    let mut out = ClientResult::default();
                    loop {
                        let next = match queue.lock() {
                            Ok(mut q) => q.next(),
                            Err(_) => None,
                        };
                        let Some((k, batch)) = next else {
                            break;
                        };
                        let scheduled = match interval {
                            Some(d) => first + d.mul_f64(k as f64),
                            None => Instant::now(),
                        };
                        if scheduled >= end || Instant::now() >= end {
                            break;
                        }
                        if let Some(wait) = scheduled.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                        submit_one(&client, url, node, batch, scheduled, committed, &mut out);
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    ClientResult::merge(results)
}

fn submit_one(
    client: &Client,
    url: &str,
    node: usize,
    batch: Batch,
    scheduled: Instant,
    committed: &AtomicU64,
    out: &mut ClientResult,
) {
    let answer = client.submit_batch_encoded(&batch.body, true);
    let now = Instant::now();
    out.last_answer = Some(now);
    let valid = batch.kinds.iter().filter(|k| **k == Kind::Valid).count() as u64;
    let answer = match answer {
        Ok(a) if a.results.len() == batch.kinds.len() => a,
        Ok(a) => {
            out.errors.push(format!(
                "{url}: {} answers for {} transactions",
                a.results.len(),
                batch.kinds.len()
            ));
            out.submitted += valid;
            out.rejected += valid;
            return;
        }
        Err(e) => {
            out.errors.push(format!("{url}: {e}"));
            out.submitted += valid;
            out.rejected += valid;
            return;
        }
    };
    let latency = ms(now - scheduled);
    for (item, kind) in answer.results.into_iter().zip(batch.kinds) {
        if kind != Kind::Valid {
            out.invalid_submitted += 1;
            match item {
                BatchItem::Committed { .. } => out.invalid_committed += 1,
                BatchItem::Pending { .. } => {}
                _ => out.invalid_rejected += 1,
            }
            continue;
        }
        out.submitted += 1;
        match item {
            BatchItem::Committed { .. } => {
                out.committed += 1;
                committed.fetch_add(1, Ordering::Relaxed);
                out.latencies_ms.push(latency);
            }
            BatchItem::Pending { tx_id } => out.pending.push((node, tx_id, scheduled)),
            BatchItem::Rejected { .. } | BatchItem::Refused { .. } => out.rejected += 1,
        }
    }
}

/// Batch-verifies the run's own signatures on all cores for about two seconds, three times;
/// the median rate, signatures per second.
fn verify_ceiling(records: &Records) -> f64 {
    let sample: Vec<(PublicKey, Digest, keys::Signature)> = records
        .iter()
        .take(16_384)
        .filter_map(|(bytes, key)| {
            let tx = SignedTx::from_bytes(bytes).ok()?;
            Some((*key, tx.tx.signing_digest(), tx.signature))
        })
        .collect();
    if sample.is_empty() {
        return f64::NAN;
    }
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut rates: Vec<f64> = (0..3)
        .map(|_| {
            let start = Instant::now();
            let done = AtomicU64::new(0);
            std::thread::scope(|s| {
                for t in 0..threads {
                    let (sample, done) = (&sample, &done);
                    s.spawn(move || {
                        let mut offset = t * keys::BATCH;
                        while start.elapsed() < Duration::from_secs(2) {
                            let from = offset % sample.len();
                            let to = (from + keys::BATCH).min(sample.len());
                            let ok = keys::verify_many(&sample[from..to]);
                            done.fetch_add(ok.len() as u64, Ordering::Relaxed);
                            offset += threads * keys::BATCH;
                        }
                    });
                }
            });
            done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    rates[1]
}

fn show_progress(start: Instant, duration: Duration, committed: &AtomicU64, stop: &AtomicBool) {
    let width = 30;
    let mut last = (start, 0u64);
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(500));
        let elapsed = start.elapsed().min(duration);
        let done = committed.load(Ordering::Relaxed);
        let now = Instant::now();
        let rate = (done - last.1) as f64 / (now - last.0).as_secs_f64().max(1e-3);
        last = (now, done);
        let filled = (elapsed.as_secs_f64() / duration.as_secs_f64() * width as f64) as usize;
        eprint!(
            "\r[{}{}] {:>4.0}s/{}s  committed {:>9}  {:>7.0} tx/s ",
            "#".repeat(filled),
            ".".repeat(width - filled.min(width)),
            elapsed.as_secs_f64(),
            duration.as_secs(),
            done,
            rate
        );
    }
    eprintln!();
}

fn print_report(r: &LoadReport, d: &RunDetail) {
    println!("\nCaravan load report");
    println!("  validators             {}", r.validators);
    println!("  duration               {:.0} s", r.duration_s);
    println!(
        "  committed              {} of {} valid transactions",
        d.committed, d.submitted
    );
    println!("  committed tx/s         {:.0}", r.committed_tx_s);
    println!(
        "  finality p50/p95/p99   {:.0} / {:.0} / {:.0} ms",
        r.p50_ms, r.p95_ms, r.p99_ms
    );
    println!("  rejected (valid)       {}", r.rejected);
    println!("  lost                   {}", r.lost);
    if d.invalid_submitted > 0 {
        println!(
            "  invalid                {} submitted, {} refused, {} committed",
            d.invalid_submitted, d.invalid_rejected, d.invalid_committed
        );
    }
    println!(
        "  verify ceiling         {:.0} tx/s  (ratio {:.2})",
        r.verify_ceiling_tx_s, r.ratio_to_ceiling
    );
    match (r.baseline_tx_s, r.ratio_to_baseline) {
        (Some(b), Some(ratio)) => {
            println!("  PostgreSQL baseline    {b:.0} tx/s  (ratio {ratio:.2})")
        }
        _ => println!("  PostgreSQL baseline    skipped"),
    }
    if let Some(rate) = r.observer_catchup_tx_s {
        println!(
            "  observer catch-up      {rate:.0} tx/s  (slowest of {}, from zero)",
            r.observers
        );
    }
    if let Some(us) = d.validator_cpu_us_per_tx {
        println!(
            "  validator CPU          {:.1} us per committed transaction each ({us:.1} us all {})",
            us / r.validators as f64,
            r.validators
        );
    }
    for (i, (a, b)) in d.rss_kib.iter().enumerate() {
        println!(
            "  validator {i} memory     {:.0} MiB -> {:.0} MiB",
            *a as f64 / 1024.0,
            *b as f64 / 1024.0
        );
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Linux reports process CPU time in ticks of 1/100 s (USER_HZ, fixed by its ABI).
const USER_HZ: f64 = 100.0;

/// CPU time, user and system, of all threads of `pids` together, in ticks; None when any cannot
/// be read (a process gone, or no /proc).
fn cpu_ticks(pids: &[u32]) -> Option<u64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter()
        .map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // The command name (field 2) may hold spaces; the fields after its closing
            // parenthesis start with field 3, so utime and stime (14 and 15) are 11th and 12th.
            let rest = &stat[stat.rfind(')')? + 1..];
            let mut fields = rest.split_whitespace().skip(11);
            let utime: u64 = fields.next()?.parse().ok()?;
            let stime: u64 = fields.next()?.parse().ok()?;
            Some(utime + stime)
        })
        .sum()
}

/// Resident memory of a process, KiB (0 when unknown).
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod cpu_tests {
    use super::cpu_ticks;

    #[test]
    fn cpu_time_of_running_processes_and_none_for_others() {
        let own = std::process::id();
        let before = cpu_ticks(&[own]).expect("this process's CPU time");
        // Spend a little CPU time (more than one 10 ms tick).
        let spin = std::time::Instant::now();
        let mut x = 0u64;
        while spin.elapsed() < std::time::Duration::from_millis(60) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let after = cpu_ticks(&[own]).expect("this process's CPU time");
        assert!(
            after > before,
            "{before} -> {after} ticks after 60 ms of work"
        );
        assert_eq!(cpu_ticks(&[]), None);
        assert_eq!(cpu_ticks(&[own, u32::MAX]), None);
    }
}
