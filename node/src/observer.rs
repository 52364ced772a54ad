//! Observer nodes: a bank or a rail operator follows the federation without voting. The observer
//! trusts nothing but the genesis: it fetches certified blocks from the agencies' nodes, checks
//! each certificate against the validator set its own state gives for that height, re-executes
//! every block (every header field, state root included, must come out the same), commits it to
//! its own store, and serves the same read API. It accepts no transactions.
//!
//! Observers follow over the agencies' HTTP API rather than the consensus network, which admits
//! agencies only; the read is signed by a participant that an agency registered with the
//! observer role, which is the federation's decision to share whole blocks with it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::{Notify, watch};
use tracing::{info, warn};

use caravan_sdk::block::{Block, CommitCertificate};
use caravan_sdk::client::Client;
use caravan_sdk::codec::{self, MAX_BLOCK_BYTES};
use caravan_sdk::genesis::Genesis;
use caravan_sdk::ids::{AgencyId, Height, ParticipantId};
use caravan_sdk::keys::read_key_file;

use crate::execution::{Verified, verify_block};
use crate::mempool::Mempool;
use crate::node::{Metrics, Shared};
use crate::store::Store;

/// How to run an observer.
#[derive(Clone, Debug, clap::Args)]
pub struct ObserverOptions {
    /// Data folder: the observer's own ledger store.
    #[arg(long)]
    pub home: PathBuf,
    /// The signed genesis file: the only thing the observer trusts.
    #[arg(long)]
    pub genesis: PathBuf,
    /// API URL of an agency's node to follow; give several, they are tried in turn.
    #[arg(long = "follow", required = true)]
    pub follow: Vec<String>,
    /// The participant the observer reads as (registered with the observer role, or an agency).
    #[arg(long = "as")]
    pub participant: ParticipantId,
    /// Its key file.
    #[arg(long)]
    pub key: PathBuf,
    /// Where to serve the read API.
    #[arg(long, default_value = "127.0.0.1:8700")]
    pub api: SocketAddr,
    /// Limits on each HTTP client.
    #[command(flatten)]
    pub limits: crate::limits::ApiLimits,
}

/// Blocks asked for in one request.
const BATCH: u64 = caravan_sdk::api::MAX_SYNC_BLOCKS;
/// Signatures remembered as verified.
const VERIFIED_CAPACITY: usize = 1 << 16;

/// Sets up logging and a runtime and runs an observer until it fails or the process is stopped.
pub fn run_process(options: ObserverOptions, log_json: bool) -> anyhow::Result<()> {
    crate::node::init_logging(log_json);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run(options))
}

/// Runs an observer until it fails or the process is stopped.
pub async fn run(options: ObserverOptions) -> anyhow::Result<()> {
    let (genesis, chain_id) =
        Genesis::read_verified(&options.genesis).context("the genesis is refused")?;
    let key = read_key_file(&options.key)
        .with_context(|| format!("loading {}", options.key.display()))?;
    std::fs::create_dir_all(&options.home)
        .with_context(|| format!("creating {}", options.home.display()))?;
    let store = Store::open(&options.home.join("ledger.redb"), &genesis, &chain_id)
        .context("opening the ledger store (refusing to serve from a damaged or foreign store)")?;
    let tip = store.tip()?;
    let validators = store.reader()?.validators()?;
    info!(observer = %options.participant, chain = %chain_id, height = %tip.height, "observer store open");
    let (relay, _) = std::sync::mpsc::sync_channel(1);
    let (height, _) = watch::channel(tip.height);
    let shared = Arc::new(Shared {
        chain_id,
        validators: RwLock::new(validators),
        relay_peers: Arc::new(RwLock::new(Default::default())),
        proposed: Default::default(),
        agency: AgencyId::new(options.participant.as_str())
            .context("the observer's participant id")?,
        store,
        mempool: Mutex::new(Mempool::new(1)),
        verified: Verified::new(VERIFIED_CAPACITY),
        mempool_notify: Notify::new(),
        height,
        recent: Default::default(),
        relay,
        metrics: Metrics::default(),
        genesis,
        observer: true,
        limits: options.limits,
    });
    let listener = tokio::net::TcpListener::bind(options.api)
        .await
        .with_context(|| format!("binding the API to {}", options.api))?;
    info!(api = %options.api, "API listening");
    let router = crate::api::router(shared.clone());
    let api = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    let clients: Vec<Client> = options
        .follow
        .iter()
        .map(|url| {
            Client::with_timeout(url, Duration::from_secs(30))
                .signing_as(options.participant.clone(), key.clone())
        })
        .collect();
    let follower = {
        let shared = shared.clone();
        tokio::task::spawn_blocking(move || follow(&shared, &clients))
    };
    tokio::select! {
        result = follower => {
            result.context("follower task")?.context("following the federation")?;
        }
        result = api => {
            match result {
                Ok(Ok(())) => warn!("API stopped"),
                Ok(Err(e)) => anyhow::bail!("API failed: {e}"),
                Err(e) => anyhow::bail!("API task failed: {e}"),
            }
        }
        _ = tokio::signal::ctrl_c() => info!("interrupted; stopping"),
    }
    Ok(())
}

/// Fetches, checks and commits blocks forever, moving to the next node when one fails.
fn follow(shared: &Shared, clients: &[Client]) -> anyhow::Result<()> {
    let mut source = 0;
    loop {
        let client = &clients[source % clients.len()];
        let next = shared.store.tip()?.height.next();
        let blocks = match client.sync_blocks(next, BATCH) {
            Ok(b) => b,
            Err(e) => {
                warn!(node = client.base_url(), error = %e, "cannot fetch blocks; trying the next node");
                source += 1;
                std::thread::sleep(Duration::from_millis(500));
                continue;
            }
        };
        if blocks.is_empty() {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        }
        let mut applied = 0;
        let last = blocks.len() - 1;
        for (i, (block, certificate)) in blocks.iter().enumerate() {
            // One durable write per batch: the batch's last block makes the others durable.
            match apply(shared, block, certificate, i == last) {
                Ok(()) => applied += 1,
                Err(Refused(reason)) => {
                    warn!(node = client.base_url(), %reason, "block refused; trying the next node");
                    // What was applied of this batch is made durable before moving on.
                    shared.store.flush()?;
                    source += 1;
                    break;
                }
            }
        }
        if applied > 0 {
            info!(
                height = %shared.store.tip()?.height,
                blocks = applied,
                node = client.base_url(),
                "followed"
            );
        }
    }
}

/// Why a served block was not committed.
struct Refused(String);

impl<E: std::fmt::Display> From<E> for Refused {
    fn from(e: E) -> Self {
        Refused(e.to_string())
    }
}

/// Checks one served block against the observer's own state and commits it, durably or not.
fn apply(
    shared: &Shared,
    encoded: &[u8],
    certificate: &[u8],
    durable: bool,
) -> Result<(), Refused> {
    // Decoding is canonical: `encoded` is exactly the block's encoding, and is stored as such.
    let block: Block = codec::decode(encoded, MAX_BLOCK_BYTES)?;
    let certificate: CommitCertificate = codec::decode(certificate, MAX_BLOCK_BYTES)?;
    let tip = shared.store.tip()?;
    let height = tip.height.next();
    if block.header.height != height || certificate.height != height {
        return Err(Refused(format!(
            "asked for height {height}, got block {} with a certificate for {}",
            block.header.height, certificate.height
        )));
    }
    let reader = shared.store.reader()?;
    let validators = reader.validators()?;
    let id = block.id();
    certificate
        .verify(&shared.chain_id, Height(height.0), &id, &validators)
        .map_err(|e| Refused(format!("certificate of height {height}: {e}")))?;
    let effects = verify_block(
        &reader,
        &shared.chain_id,
        &tip,
        &block,
        u64::MAX / 2,
        &shared.verified,
    )
    .map_err(|e| Refused(format!("re-execution of height {height}: {e}")))?;
    drop(reader);
    shared
        .store
        .commit_block_with(&block, encoded, &certificate, &effects, durable)?;
    if let Some(set) = &effects.new_validators {
        shared.set_validators(set.clone());
    }
    shared.committed(&block, &effects);
    Ok(())
}
