//! Starting federations for tests: one at a time (a federation is four processes on a 2-core
//! machine), in a temporary folder, with the node logs printed when a test fails.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use caravan_sdk::api::TxStatus;
use caravan_sdk::client::Client;
use caravan_sdk::hash::{Domain, hash};
use caravan_sdk::ids::{Height, Nonce, ParticipantId, TxId};
use caravan_sdk::keys::Keypair;
use caravan_sdk::tx::{Body, Role, SignedTx, UnsignedTx};
use caravan_testnet::federation::{Federation, Launcher, tail};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A federation for one test.
pub struct TestNet {
    pub fed: Federation,
    _dir: tempfile::TempDir,
    _guard: MutexGuard<'static, ()>,
}

impl Drop for TestNet {
    fn drop(&mut self) {
        if std::env::var_os("CARAVAN_KEEP_TEST_DIRS").is_some() {
            eprintln!("keeping federation folder {}", self.fed.dir.display());
            std::mem::forget(std::mem::replace(
                &mut self._dir,
                tempfile::tempdir().expect("tempdir"),
            ));
        }
        if std::thread::panicking() {
            for node in &self.fed.nodes {
                eprintln!(
                    "---- last log lines of {} ----\n{}",
                    node.agency,
                    tail(&node.log, 30)
                );
            }
        }
    }
}

/// Holds the one-federation-at-a-time lock.
pub fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl TestNet {
    /// A test federation built by the caller, in `dir`, under the lock.
    pub fn new(fed: Federation, dir: tempfile::TempDir, guard: MutexGuard<'static, ()>) -> Self {
        TestNet {
            fed,
            _dir: dir,
            _guard: guard,
        }
    }
}

pub fn launcher() -> Launcher {
    Launcher {
        program: env!("CARGO_BIN_EXE_caravan-testnet-it").into(),
        prefix: vec!["node".into()],
    }
}

/// Creates a federation of `n` validators; starts those in `running`.
pub fn testnet(n: usize, running: &[usize]) -> TestNet {
    let guard = one_at_a_time();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut fed = Federation::create(dir.path(), n, launcher()).expect("create federation");
    for &i in running {
        fed.start(i).expect("start node");
    }
    for &i in running {
        if let Err(e) = fed.wait_healthy(i, Duration::from_secs(60)) {
            panic!(
                "node {i} not healthy: {e:#}\n---- last log lines ----\n{}",
                tail(&fed.nodes[i].log, 40)
            );
        }
    }
    TestNet {
        fed,
        _dir: dir,
        _guard: guard,
    }
}

/// A participant registered by agency 0.
pub struct Exporter {
    pub id: ParticipantId,
    pub key: Keypair,
    pub registration: TxId,
}

pub fn register_exporter(net: &TestNet, via: usize, name: &str) -> Exporter {
    register_with_nonce(net, via, name, 1)
}

/// Registers `name` through node `via`, signed by agency 0 with `nonce`.
pub fn register_with_nonce(net: &TestNet, via: usize, name: &str, nonce: u64) -> Exporter {
    let key = Keypair::generate().expect("key");
    let id = ParticipantId::new(name).expect("id");
    let admin = net.fed.admin_key(0).expect("admin key");
    let tx = UnsignedTx {
        chain_id: net.fed.chain_id(),
        signer: ParticipantId::from(&net.fed.nodes[0].agency),
        nonce: Nonce(nonce),
        body: Body::RegisterParticipant {
            id: id.clone(),
            name: format!("{name} Ltd."),
            roles: vec![Role::Enterprise],
            public_key: key.public(),
        },
    }
    .sign(&admin);
    let status = net.fed.client(via).submit(&tx, true).expect("registration");
    assert!(
        matches!(status, TxStatus::Committed { .. }),
        "registration not committed: {status:?}"
    );
    Exporter {
        id,
        key,
        registration: tx.id(),
    }
}

pub fn record(net: &TestNet, exporter: &Exporter, nonce: u64) -> SignedTx {
    UnsignedTx {
        chain_id: net.fed.chain_id(),
        signer: exporter.id.clone(),
        nonce: Nonce(nonce),
        body: Body::AnchorRecord {
            kind: "commercial_invoice".into(),
            document_hash: hash(Domain::Content, format!("invoice {nonce}").as_bytes()),
            metadata: vec![("number".into(), format!("INV-{nonce:06}"))],
        },
    }
    .sign(&exporter.key)
}

/// Polls until every id is committed (accepted) on `client`, or panics at the deadline.
pub fn wait_committed(client: &Client, ids: &[TxId], timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let mut remaining: Vec<TxId> = ids.to_vec();
    while !remaining.is_empty() {
        remaining.retain(|id| match client.tx_status(id) {
            Ok(TxStatus::Committed { .. }) => false,
            Ok(TxStatus::Rejected { receipt, .. }) => {
                panic!("transaction {id} rejected: {:?}", receipt.outcome)
            }
            _ => true,
        });
        if remaining.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} transactions not committed on {} after {timeout:?}",
            remaining.len(),
            ids.len(),
            client.base_url()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A client of node `i` that signs its reads as agency 0 (which may read everything).
pub fn agency_client(net: &TestNet, i: usize) -> Client {
    let admin = net.fed.admin_key(0).expect("admin key");
    net.fed
        .client(i)
        .signing_as(ParticipantId::from(&net.fed.nodes[0].agency), admin)
}

/// Asserts that the nodes in `nodes` hold identical block ids at every height up to the lowest tip.
pub fn assert_same_chain(net: &TestNet, nodes: &[usize]) -> Height {
    let tips: Vec<Height> = nodes
        .iter()
        .map(|&i| net.fed.client(i).health().expect("health").height)
        .collect();
    let low = tips.iter().min().copied().unwrap_or_default();
    assert!(low.0 > 0, "no blocks committed");
    for h in 1..=low.0 {
        let first = agency_client(net, nodes[0])
            .block(Height(h))
            .expect("block")
            .block_id;
        for &i in &nodes[1..] {
            let other = agency_client(net, i)
                .block(Height(h))
                .expect("block")
                .block_id;
            assert_eq!(
                other, first,
                "nodes {} and {} disagree at height {h}",
                nodes[0], i
            );
        }
    }
    low
}

/// Client threads submitting `txs` in turn through `nodes` (waiting for each commit) until
/// `stop` or the transactions run out.
pub struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Load {
    pub fn start(
        net: &TestNet,
        history: &crate::history::History,
        nodes: &[usize],
        txs: Vec<SignedTx>,
    ) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let txs = Arc::new(txs);
        let next = Arc::new(AtomicUsize::new(0));
        let threads = nodes
            .iter()
            .map(|&i| {
                let client = net.fed.client(i);
                let (stop, txs, next, history) =
                    (stop.clone(), txs.clone(), next.clone(), history.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        let Some(tx) = txs.get(n) else { break };
                        if !history.submit(&client, tx) {
                            // A node down or paused: do not spin on it.
                            std::thread::sleep(Duration::from_millis(200));
                        }
                    }
                })
            })
            .collect();
        Load { stop, threads }
    }

    pub fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().expect("client thread");
        }
    }
}
