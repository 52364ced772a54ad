//! Wiring: loads the genesis and keys, opens the store, starts the consensus engine, the
//! application loop, the transaction relay and the HTTP API.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::Context as _;
use malachite::app::config::{ConsensusConfig, NodeConfig, ValueSyncConfig};
use malachite::app::types::Keypair as NetKeypair;
use malachite::app::types::codec::Codec as _;
use malachite::{
    ConsensusContext, EngineBuilder, NetworkContext, NetworkIdentity, RequestContext, Signer as _,
    SyncContext, WalContext,
};
use tokio::sync::{Notify, watch};
use tracing::{info, warn};

use caravan_sdk::block::{Block, ValidatorSet};
use caravan_sdk::genesis::Genesis;
use caravan_sdk::hash::Digest;
use caravan_sdk::ids::{AgencyId, ChainId, Height, TxId};
use caravan_sdk::keys::{Keypair, read_key_file};
use caravan_sdk::tx::{Rejection, SignedTx};

use crate::consensus::app::App;
use crate::consensus::codec::BorshCodec;
use crate::consensus::signing::{ValidatorSigner, ValidatorVerifier};
use crate::consensus::types::{Address, CaravanContext, PrivateKey};
use crate::execution::BlockEffects;
use crate::execution::{Context, Verified, admit_with_id};
use crate::mempool::Mempool;
use crate::store::Store;

/// Signatures remembered as verified: at most 2^17 and always the last 2^16, several full
/// blocks' worth, longer than a full pool waits for its blocks. Two tables of 2^17 slots of 129
/// bytes, 34 MiB in all, allocated at start and never grown.
const VERIFIED_CAPACITY: usize = 1 << 17;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Counters exported at `/metrics`.
#[derive(Default)]
pub struct Metrics {
    /// Transactions admitted into the mempool.
    pub admitted: AtomicU64,
    /// Transactions refused at admission.
    pub refused: AtomicU64,
    /// Transactions committed (in durable, certified blocks).
    pub committed: AtomicU64,
    /// Blocks committed.
    pub blocks: AtomicU64,
    /// Peers this validator exchanges consensus messages with now.
    pub peers: AtomicU64,
}

/// State shared by the consensus application and the HTTP API.
pub struct Shared {
    /// The federation.
    pub chain_id: ChainId,
    /// The genesis.
    pub genesis: Genesis,
    /// The validators of the current height.
    pub(crate) validators: RwLock<ValidatorSet>,
    /// The validators' nodes in proposing order, where admitted transactions are relayed.
    pub(crate) relay_peers: Arc<RwLock<crate::relay::Proposers>>,
    /// The highest height whose proposal, signed by that round's proposer, this node has seen
    /// from another validator: its proposer has built its block, and the relay no longer sends
    /// it transactions.
    pub(crate) proposed: Arc<AtomicU64>,
    /// This node's agency.
    pub agency: AgencyId,
    /// The database.
    pub store: Store,
    /// Pending transactions.
    pub mempool: Mutex<Mempool>,
    /// Signatures this node has verified.
    pub verified: Verified,
    /// Woken when a transaction is admitted.
    pub mempool_notify: Notify,
    /// The committed height, for waiters.
    pub height: watch::Sender<Height>,
    /// The last committed blocks' transaction outcomes, for waiters.
    pub recent: crate::recent::RecentCommits,
    /// Transactions to relay to the other validators.
    pub relay: std::sync::mpsc::SyncSender<Vec<u8>>,
    /// Counters.
    pub metrics: Metrics,
    /// Whether this node only observes (follows, re-executes, serves reads; accepts no
    /// transactions).
    pub observer: bool,
    /// Limits on each HTTP client.
    pub limits: crate::limits::ApiLimits,
}

impl Shared {
    /// Admission: checks a transaction against the committed state and adds it to the mempool.
    pub fn admit(&self, tx: SignedTx, size: usize) -> Result<TxId, AdmitError> {
        self.admit_many(vec![(tx, size)])
            .pop()
            .unwrap_or_else(|| Err(AdmitError::Internal("admission lost a transaction".into())))
    }

    /// Admits several transactions, their signatures verified together in batches over all
    /// cores; one result per transaction, in order.
    pub fn admit_many(&self, txs: Vec<(SignedTx, usize)>) -> Vec<Result<TxId, AdmitError>> {
        let internal = |e: &dyn std::fmt::Display| AdmitError::Internal(e.to_string());
        let reader = match self.store.reader() {
            Ok(r) => r,
            Err(e) => return txs.iter().map(|_| Err(internal(&e))).collect(),
        };
        let tip = match self.store.tip() {
            Ok(t) => t,
            Err(e) => return txs.iter().map(|_| Err(internal(&e))).collect(),
        };
        // One encoding of each transaction gives its id and its signing digest.
        let (ids, digests): (Vec<TxId>, Vec<Digest>) = txs
            .iter()
            .map(|(tx, _)| tx.tx.id_and_signing_digest())
            .unzip();
        if txs.len() > 1
            && let Err(e) = self.verified.preverify_with(
                &reader,
                txs.iter()
                    .zip(ids.iter().zip(&digests))
                    .map(|((tx, _), (id, digest))| (tx, id, digest)),
            )
        {
            return txs.iter().map(|_| Err(internal(&e))).collect();
        }
        let ctx = Context {
            chain_id: &self.chain_id,
            height: tip.height.next(),
            time_ms: now_ms().max(tip.time_ms),
            verified: &self.verified,
        };
        let mut results = Vec::with_capacity(txs.len());
        let mut admitted = 0;
        for ((tx, size), id) in txs.into_iter().zip(ids) {
            let checked = match admit_with_id(&reader, &ctx, &tx, id) {
                Ok(c) => c,
                Err(e) => {
                    results.push(Err(internal(&e)));
                    continue;
                }
            };
            let inserted = match checked {
                Err(rejection) => Err(rejection),
                Ok(()) => match self.mempool.lock() {
                    Ok(mut pool) => pool.insert(id, tx, size),
                    Err(_) => {
                        results.push(Err(internal(&"mempool lock poisoned")));
                        continue;
                    }
                },
            };
            match inserted {
                Ok(()) => {
                    admitted += 1;
                    results.push(Ok(id));
                }
                Err(rejection) => {
                    self.metrics.refused.fetch_add(1, Ordering::Relaxed);
                    results.push(Err(AdmitError::Rejected(rejection)));
                }
            }
        }
        if admitted > 0 {
            self.metrics.admitted.fetch_add(admitted, Ordering::Relaxed);
            self.mempool_notify.notify_waiters();
        }
        results
    }

    /// The validators of the current height.
    pub fn validators(&self) -> ValidatorSet {
        self.validators
            .read()
            .map(|v| v.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    /// Records the validators of a new height.
    pub fn set_validators(&self, set: ValidatorSet) {
        match self.validators.write() {
            Ok(mut v) => *v = set,
            Err(e) => *e.into_inner() = set,
        }
    }

    /// Replaces the validators' nodes that admitted transactions are relayed to.
    pub fn set_relay_peers(&self, peers: crate::relay::Proposers) {
        match self.relay_peers.write() {
            Ok(mut v) => *v = peers,
            Err(e) => *e.into_inner() = peers,
        }
    }

    /// Records a block just made durable, with its effects' transaction ids and receipts, and
    /// wakes the waiters (after the outcomes are in [`Shared::recent`]).
    pub fn committed(&self, block: &Block, effects: &BlockEffects) {
        self.recent.push(&effects.tx_ids, &effects.receipts);
        self.metrics.blocks.fetch_add(1, Ordering::Relaxed);
        self.metrics
            .committed
            .fetch_add(block.transactions.len() as u64, Ordering::Relaxed);
        self.height.send_replace(block.header.height);
    }
}

/// Why admission failed.
#[derive(Debug)]
pub enum AdmitError {
    /// The transaction is refused.
    Rejected(Rejection),
    /// The node could not check it.
    Internal(String),
}

/// How to run a node; also the node's command-line options.
#[derive(Clone, Debug, clap::Args)]
pub struct NodeOptions {
    /// Data folder: the ledger store and the consensus WAL.
    #[arg(long)]
    pub home: PathBuf,
    /// The signed genesis file.
    #[arg(long)]
    pub genesis: PathBuf,
    /// This node's agency id: a founder in the genesis, or an agency admitted later, whose
    /// member card (`member-card.json`) is then read from the keys folder.
    #[arg(long)]
    pub agency: AgencyId,
    /// Folder with the agency's key files (validator.key, network.key, and member-card.json for
    /// an agency admitted after the genesis).
    #[arg(long)]
    pub keys: PathBuf,
    /// Move a damaged (or any) ledger store aside (`ledger.redb.damaged-<time>`) and sync the
    /// ledger again from the other agencies, re-executing every block. The consensus WAL is
    /// kept.
    #[arg(long)]
    pub resync: bool,
    /// Limits on each HTTP client.
    #[command(flatten)]
    pub limits: crate::limits::ApiLimits,
    /// Listen for peers here instead of at the member card's `p2p_address` (which stays the
    /// address the other agencies dial): behind a NAT, a relay or a proxy.
    #[arg(long, value_name = "HOST:PORT")]
    pub p2p_listen: Option<String>,
    /// Test builds only: make this validator Byzantine, e.g. `{"equivocate_votes": {"mode":
    /// "always"}}` (the engine's ByzantineConfig as JSON). Never in release builds.
    #[cfg(feature = "byzantine")]
    #[arg(long)]
    pub byzantine: Option<String>,
}

#[derive(Clone, Debug)]
struct EngineConfig {
    moniker: String,
    consensus: ConsensusConfig,
    value_sync: ValueSyncConfig,
}

impl NodeConfig for EngineConfig {
    fn moniker(&self) -> &str {
        &self.moniker
    }
    fn consensus(&self) -> &ConsensusConfig {
        &self.consensus
    }
    fn consensus_mut(&mut self) -> &mut ConsensusConfig {
        &mut self.consensus
    }
    fn value_sync(&self) -> &ValueSyncConfig {
        &self.value_sync
    }
    fn value_sync_mut(&mut self) -> &mut ValueSyncConfig {
        &mut self.value_sync
    }
}

/// The libp2p peer id of a network public key from the genesis.
fn peer_id_of(key: &caravan_sdk::keys::PublicKey) -> anyhow::Result<String> {
    let ed = libp2p_identity::ed25519::PublicKey::try_from_bytes(&key.to_bytes())
        .context("network key")?;
    Ok(libp2p_identity::PublicKey::from(ed)
        .to_peer_id()
        .to_string())
}

/// How long a peer may stay connected without exchanging consensus messages before the
/// connection is dropped and dialled again.
const MUTE_PEER_RECONNECT: Duration = Duration::from_secs(10);

/// Once a second: counts the peers this validator exchanges consensus messages with (for
/// `/health` and `/metrics`), and reconnects any of its peers that has stayed connected for
/// [`MUTE_PEER_RECONNECT`] without being in the consensus mesh.
///
/// That happens after a link comes back: if one side still holds its connection from before the
/// outage when the other side's new one arrives, the pub-sub layer counts the new one as a second
/// connection to a known peer and never sends its subscriptions over it. The other side then
/// knows the peer only as connected, subscribed to nothing, and cannot send it a single vote;
/// with one more validator down, the federation stops. Dropping every connection to the peer and
/// dialling it again makes both sides start afresh.
async fn watch_peers(
    requests: tokio::sync::mpsc::Sender<malachite::NetworkRequest>,
    shared: Arc<Shared>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut mute_since: std::collections::HashMap<String, std::time::Instant> =
        std::collections::HashMap::new();
    loop {
        tick.tick().await;
        let dump = match malachite::NetworkRequest::dump_state(&requests).await {
            Ok(Some(dump)) => dump,
            Ok(None) => continue,
            // The network has stopped, and so will the node.
            Err(_) if requests.is_closed() => return,
            // A request lost on a busy network is asked again at the next tick.
            Err(_) => continue,
        };
        let now = std::time::Instant::now();
        let mut meshed = 0u64;
        let mut connected = std::collections::HashSet::new();
        for (peer_id, info) in &dump.peers {
            let id = peer_id.to_string();
            let suffix = format!("/p2p/{id}");
            let Some(addr) = dump
                .persistent_peer_addrs
                .iter()
                .find(|a| a.to_string().ends_with(&suffix))
            else {
                continue;
            };
            connected.insert(id.clone());
            if !info.topics.is_empty() {
                meshed += 1;
                mute_since.remove(&id);
                continue;
            }
            let since = *mute_since.entry(id.clone()).or_insert(now);
            if now.duration_since(since) < MUTE_PEER_RECONNECT {
                continue;
            }
            warn!(peer = %info.moniker, %addr, "peer connected but exchanging no consensus messages; reconnecting");
            mute_since.remove(&id);
            let addr = addr.clone();
            // Dialled again only if it was still a peer: the membership may have dropped it
            // since the table was read.
            match malachite::NetworkRequest::remove_persistent_peer(&requests, addr.clone()).await {
                Ok(Ok(())) => {
                    let added = malachite::NetworkRequest::add_persistent_peer(&requests, addr);
                    if !matches!(added.await, Ok(Ok(()))) {
                        warn!(peer = %info.moniker, "dialling the peer again failed");
                    }
                }
                Ok(Err(e)) => warn!(peer = %info.moniker, error = ?e, "dropping the peer failed"),
                Err(e) => warn!(peer = %info.moniker, error = %e, "dropping the peer failed"),
            }
        }
        mute_since.retain(|id, _| connected.contains(id));
        shared.metrics.peers.store(meshed, Ordering::Relaxed);
    }
}

/// A peer's address pinned to the peer id of its genesis network key, so that only the holder of
/// that key is accepted as that agency (inbound or outbound).
pub(crate) fn peer_multiaddr(
    card: &caravan_sdk::genesis::MemberCard,
) -> anyhow::Result<malachite::app::net::Multiaddr> {
    let base = multiaddr(&card.p2p_address)?;
    let text = format!("{base}/p2p/{}", peer_id_of(&card.network_key)?);
    text.parse()
        .with_context(|| format!("bad multiaddr {text}"))
}

fn multiaddr(host_port: &str) -> anyhow::Result<malachite::app::net::Multiaddr> {
    let addr: SocketAddr = host_port
        .parse()
        .with_context(|| format!("p2p address {host_port:?} is not host:port"))?;
    let text = match addr {
        SocketAddr::V4(a) => format!("/ip4/{}/tcp/{}", a.ip(), a.port()),
        SocketAddr::V6(a) => format!("/ip6/{}/tcp/{}", a.ip(), a.port()),
    };
    text.parse()
        .with_context(|| format!("bad multiaddr {text}"))
}

fn load_key(dir: &Path, name: &str) -> anyhow::Result<Keypair> {
    let path = dir.join(name);
    read_key_file(&path).with_context(|| format!("loading {}", path.display()))
}

/// Sets up logging on stderr (`RUST_LOG` filters; JSON lines with `log_json`), starts a runtime
/// and runs the node until it fails or the process is stopped. The entry point of every node
/// process.
pub fn run_process(options: NodeOptions, log_json: bool) -> anyhow::Result<()> {
    init_logging(log_json);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run(options))
}

/// Logging on stderr: `RUST_LOG` filters; JSON lines with `log_json`.
pub fn init_logging(log_json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(
            "info,libp2p=warn,malachitebft=warn,arc_malachitebft=warn,ractor=warn",
        )
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if log_json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Runs a validator node until it fails or the process is stopped.
pub async fn run(options: NodeOptions) -> anyhow::Result<()> {
    let (genesis, chain_id) =
        Genesis::read_verified(&options.genesis).context("the genesis is refused")?;
    let card = match genesis.content.agency(&options.agency) {
        Some(card) => card.clone(),
        None => read_card(&options)?,
    };
    let validator_key = load_key(&options.keys, "validator.key")?;
    let network_key = load_key(&options.keys, "network.key")?;
    std::fs::create_dir_all(&options.home)
        .with_context(|| format!("creating {}", options.home.display()))?;
    let store_path = options.home.join("ledger.redb");
    if options.resync && store_path.exists() {
        let aside = options
            .home
            .join(format!("ledger.redb.damaged-{}", now_ms()));
        std::fs::rename(&store_path, &aside)
            .with_context(|| format!("moving {} aside", store_path.display()))?;
        warn!(moved_to = %aside.display(), "store moved aside; syncing the ledger again from the other agencies");
    }
    let store = Store::open(&store_path, &genesis, &chain_id).context(
        "opening the ledger store (refusing to serve from a damaged or foreign store; a damaged \
         store is synced again from the other agencies with --resync)",
    )?;
    let tip = store.tip()?;
    // The committed membership knows a rotated validator key; the genesis or the agency's own
    // card is what a node that has not caught up yet goes by.
    let committed_card = store
        .reader()?
        .members()?
        .into_iter()
        .find(|c| c.agency == options.agency);
    let expected_validator = committed_card
        .as_ref()
        .map_or(card.validator_key, |c| c.validator_key);
    anyhow::ensure!(
        validator_key.public() == expected_validator,
        "validator.key ({}) is not the validator key {} that the {} names for {}",
        validator_key.public(),
        expected_validator,
        if committed_card.is_some() {
            "committed membership (as of height {})"
        } else {
            "member card"
        }
        .replace("{}", &tip.height.to_string()),
        options.agency
    );
    anyhow::ensure!(
        network_key.public() == card.network_key,
        "network.key is not the network key the member card names for {}",
        options.agency
    );
    // The peers: every current agency's node, and the founders' until this node has caught up
    // far enough to know better (a joining agency starts from the genesis).
    let (peers, validators) = {
        let reader = store.reader()?;
        let validators = reader.validators()?;
        let mut peers: Vec<caravan_sdk::genesis::MemberCard> = reader.members()?;
        for founder in &genesis.content.agencies {
            let validates = validators
                .validators
                .iter()
                .any(|v| v.agency == founder.agency);
            if validates && !peers.iter().any(|c| c.agency == founder.agency) {
                peers.push(founder.clone());
            }
        }
        peers.retain(|c| c.agency != options.agency);
        peers.sort_by(|a, b| a.agency.cmp(&b.agency));
        (peers, validators)
    };
    let relay_peers = Arc::new(RwLock::new(crate::relay::Proposers::new(
        &validators,
        &peers,
        &options.agency,
    )));
    info!(agency = %options.agency, chain = %chain_id, height = %tip.height, "store open");

    let (relay_tx, relay_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(100_000);
    let (height_tx, committed) = watch::channel(tip.height);
    let proposed = Arc::new(AtomicU64::new(tip.height.0));
    let shared = Arc::new(Shared {
        chain_id,
        validators: RwLock::new(validators),
        relay_peers: relay_peers.clone(),
        proposed: proposed.clone(),
        agency: options.agency.clone(),
        store,
        mempool: Mutex::new(Mempool::new(
            genesis.content.params.mempool_max_transactions as usize,
        )),
        mempool_notify: Notify::new(),
        verified: Verified::new(VERIFIED_CAPACITY),
        height: height_tx,
        recent: Default::default(),
        relay: relay_tx,
        metrics: Metrics::default(),
        genesis: genesis.clone(),
        observer: false,
        limits: options.limits,
    });

    let pool = Arc::downgrade(&shared);
    let busy = move || {
        pool.upgrade().is_some_and(|shared| {
            shared
                .mempool
                .lock()
                .is_ok_and(|p| p.len() >= crate::consensus::app::LINGER_ENOUGH)
        })
    };
    std::thread::Builder::new()
        .name("relay".into())
        .spawn(move || crate::relay::run(relay_rx, relay_peers, committed, proposed, busy))
        .context("starting the relay thread")?;

    // Consensus engine.
    let ctx = CaravanContext { chain_id };
    let address = Address(validator_key.public());
    let signer = ValidatorSigner::new(chain_id, PrivateKey(Arc::new(validator_key.clone())));
    let mut consensus = ConsensusConfig::default();
    consensus.p2p.listen_addr =
        multiaddr(options.p2p_listen.as_deref().unwrap_or(&card.p2p_address))
            .context("--p2p-listen")?;
    consensus.p2p.persistent_peers = peers
        .iter()
        .map(peer_multiaddr)
        .collect::<anyhow::Result<_>>()?;
    consensus.p2p.persistent_peers_only = true;
    consensus.p2p.discovery.enabled = false;
    // A proposal carries its whole block in one message, and value sync serves whole blocks.
    let block_limit = u64::from(caravan_sdk::genesis::BLOCK_MAX_BYTES_LIMIT);
    consensus.p2p.pubsub_max_size.0 = 2 * block_limit;
    consensus.p2p.rpc_max_size.0 = 4 * block_limit;
    let value_sync = ValueSyncConfig {
        enabled: true,
        ..Default::default()
    };
    let config = EngineConfig {
        moniker: options.agency.to_string(),
        consensus,
        value_sync,
    };
    let mut seed = *network_key.seed();
    let net_keypair = NetKeypair::ed25519_from_bytes(&mut seed).context("network key")?;
    let peer_id = net_keypair.public().to_peer_id();
    let proof = signer
        .sign_validator_proof(
            validator_key.public().to_bytes().to_vec(),
            peer_id.to_bytes(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("signing the validator proof: {e:?}"))?;
    let proof_bytes = BorshCodec
        .encode(&proof)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let identity = NetworkIdentity::new_validator(
        options.agency.to_string(),
        net_keypair,
        address.to_string(),
        proof_bytes,
    );
    let wal_dir = options.home.join("wal");
    std::fs::create_dir_all(&wal_dir)?;
    // The rest of the engine is the same whichever network carries it.
    macro_rules! finish_engine {
        ($with_network:expr) => {
            $with_network
                .with_default_consensus(ConsensusContext::new_validator(
                    address,
                    Box::new(ValidatorVerifier::new(chain_id)),
                    Box::new(signer.clone()),
                ))
                .with_default_sync(SyncContext::new(BorshCodec))
                .with_default_request(RequestContext::new(100))
                .build()
                .await
                .map_err(|e| anyhow::anyhow!("starting the consensus engine: {e:#}"))?
        };
    }
    let builder = EngineBuilder::new(ctx.clone(), config)
        .with_default_wal(WalContext::new(wal_dir.join("consensus.wal"), BorshCodec));
    #[cfg(feature = "byzantine")]
    let (channels, _engine) = match &options.byzantine {
        Some(json) => {
            let byzantine: malachite_engine_byzantine::ByzantineConfig =
                serde_json::from_str(json).context("--byzantine is not a ByzantineConfig")?;
            byzantine
                .validate()
                .map_err(|e| anyhow::anyhow!("--byzantine: {e}"))?;
            warn!(config = %json, "this validator is BYZANTINE (test build)");
            let byzantine_network = builder
                .with_byzantine_network(malachite::ByzantineContext {
                    identity,
                    codec: BorshCodec,
                    config: byzantine,
                    signer: Box::new(signer.clone()),
                    address,
                    conflicting_value_fn: Some(Box::new(|value| {
                        let mut header = (*value.header).clone();
                        header.time_ms += 1;
                        crate::consensus::types::Value::new(header)
                    })),
                    conflicting_vote_value_fn: Some(Box::new(|_| {
                        crate::consensus::types::ValueId(caravan_sdk::ids::BlockId(
                            caravan_sdk::hash::hash(
                                caravan_sdk::hash::Domain::Content,
                                b"a block no honest validator proposed",
                            ),
                        ))
                    })),
                })
                .await
                .map_err(|e| anyhow::anyhow!("starting the Byzantine network: {e:#}"))?;
            finish_engine!(byzantine_network)
        }
        None => {
            finish_engine!(builder.with_default_network(NetworkContext::new(identity, BorshCodec)))
        }
    };
    #[cfg(not(feature = "byzantine"))]
    let (channels, _engine) =
        finish_engine!(builder.with_default_network(NetworkContext::new(identity, BorshCodec)));

    // The consensus connections: counted for `/health` and `/metrics`, and mended when one
    // carries nothing.
    tokio::spawn(watch_peers(channels.net_requests.clone(), shared.clone()));

    // HTTP API.
    let api_addr = api_listen_address(&card.api_url)?;
    let listener = tokio::net::TcpListener::bind(api_addr)
        .await
        .with_context(|| format!("binding the API to {api_addr}"))?;
    info!(%api_addr, "API listening");
    let router = crate::api::router(shared.clone());
    let api = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });

    // The agency's admin key signs its reports of equivocation; a node without it still
    // validates, and says that it cannot report.
    let reporter = match load_key(&options.keys, "admin.key") {
        Ok(key) => Some(crate::consensus::app::Reporter {
            agency: caravan_sdk::ids::ParticipantId::from(&options.agency),
            key,
        }),
        Err(e) => {
            warn!(error = %format!("{e:#}"), "no admin key: equivocations this node observes will be logged, not reported to the ledger");
            None
        }
    };
    let app = App::new(shared.clone(), Some(signer), address, peers)?.with_reporter(reporter);
    tokio::select! {
        result = app.run(channels) => {
            result.context("consensus application stopped")?;
        }
        result = api => {
            match result {
                Ok(Ok(())) => warn!("API stopped"),
                Ok(Err(e)) => anyhow::bail!("API failed: {e}"),
                Err(e) => anyhow::bail!("API task failed: {e}"),
            }
        }
        _ = tokio::signal::ctrl_c() => {
            info!("interrupted; stopping");
        }
        _ = terminated() => {
            info!("terminated; stopping");
        }
    }
    // Give the WAL and store a moment to settle their last writes before exit.
    tokio::time::sleep(Duration::from_millis(50)).await;
    Ok(())
}

/// The member card of an agency admitted after the genesis, from its keys folder.
fn read_card(options: &NodeOptions) -> anyhow::Result<caravan_sdk::genesis::MemberCard> {
    let path = options.keys.join("member-card.json");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "agency {} is not a founder in the genesis, and its member card {} cannot be read",
            options.agency,
            path.display()
        )
    })?;
    let card: caravan_sdk::genesis::MemberCard = serde_json::from_str(&text)
        .with_context(|| format!("member card {} is not valid", path.display()))?;
    anyhow::ensure!(
        card.agency == options.agency,
        "member card {} is for {}, not {}",
        path.display(),
        card.agency,
        options.agency
    );
    Ok(card)
}

/// Resolves when the process receives SIGTERM (never on platforms without it).
async fn terminated() {
    #[cfg(unix)]
    {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
            return;
        }
    }
    std::future::pending::<()>().await
}

/// The socket address to bind for `api_url` (`http://host:port`).
pub fn api_listen_address(api_url: &str) -> anyhow::Result<SocketAddr> {
    let rest = api_url
        .strip_prefix("http://")
        .with_context(|| format!("api_url {api_url:?} must start with http://"))?;
    let host_port = rest.trim_end_matches('/');
    host_port
        .parse()
        .with_context(|| format!("api_url {api_url:?} must be http://IP:PORT"))
}
