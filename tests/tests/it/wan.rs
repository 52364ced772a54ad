//! WAN latency between all agencies, as between Qingdao, Khorgos, Tashkent and Moscow: every
//! peer-to-peer connection runs through a relay that holds each chunk of bytes for 75 ms (±15 ms
//! of jitter, order kept) in each direction, so each pair of agencies is 150 ms apart. These
//! machines' kernels lack the `netem` queueing discipline, so the delay is applied in user space
//! on the TCP streams; one-way packet loss cannot be shown this way (TCP retransmits) and is not
//! claimed. Under load the ledger keeps committing, finality reflects the distance, nothing
//! acknowledged is lost and every node holds the same blocks.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use caravan_testnet::federation::{Federation, free_port};

use crate::history::History;
use crate::support::{TestNet, launcher, one_at_a_time, record, register_exporter};

/// One way.
const DELAY: Duration = Duration::from_millis(75);
/// Each chunk's delay varies by up to this much either way.
const JITTER_MS: u64 = 15;

/// A relay in front of one node's peer port that delays every byte in both directions.
struct DelayRelay {
    stop: Arc<AtomicBool>,
}

impl Drop for DelayRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl DelayRelay {
    fn start(listen: &str, target: SocketAddr, seed: u64) -> DelayRelay {
        let listener = TcpListener::bind(listen).expect("bind the relay");
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            let mut n = seed;
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((inbound, _)) => {
                        let Ok(outbound) = TcpStream::connect(target) else {
                            continue;
                        };
                        let _ = inbound.set_nonblocking(false);
                        n = n.wrapping_mul(6364136223846793005).wrapping_add(1);
                        pipe(&inbound, &outbound, n, stopped.clone());
                        pipe(&outbound, &inbound, n ^ 0x5555, stopped.clone());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        DelayRelay { stop }
    }
}

/// Copies `from` to `to`, each chunk released `DELAY` ± jitter after it arrived, in order.
fn pipe(from: &TcpStream, to: &TcpStream, seed: u64, stop: Arc<AtomicBool>) {
    let (mut from, mut to) = (
        from.try_clone().expect("clone"),
        to.try_clone().expect("clone"),
    );
    let (sender, receiver) = mpsc::channel::<(Instant, Vec<u8>)>();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        let mut rng = seed | 1;
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let jitter = Duration::from_millis(rng % (2 * JITTER_MS + 1));
            let due = Instant::now() + DELAY + jitter - Duration::from_millis(JITTER_MS);
            if sender.send((due, buf[..n].to_vec())).is_err() {
                break;
            }
        }
        let _ = from.shutdown(std::net::Shutdown::Both);
    });
    std::thread::spawn(move || {
        let mut last = Instant::now();
        while let Ok((due, bytes)) = receiver.recv() {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            // Order is kept: a chunk never overtakes the one before it.
            let due = due.max(last);
            last = due;
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            if to.write_all(&bytes).is_err() {
                break;
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Both);
    });
}

#[test]
fn n4_wan_latency_between_all_agencies_commits_and_loses_nothing() {
    let guard = one_at_a_time();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut fed = Federation::create(dir.path(), 4, launcher()).expect("federation");
    let genesis = caravan_sdk::genesis::Genesis::read_verified(&fed.genesis_path)
        .expect("genesis")
        .0;
    // Each node listens on a port of its own; the address the others dial (its member card's)
    // is its relay's.
    let mut relays = Vec::new();
    for i in 0..4 {
        let card = genesis
            .content
            .agencies
            .iter()
            .find(|c| c.agency == fed.nodes[i].agency)
            .expect("card")
            .clone();
        let real: SocketAddr = format!("127.0.0.1:{}", free_port().expect("a free port"))
            .parse()
            .expect("addr");
        relays.push(DelayRelay::start(&card.p2p_address, real, i as u64 + 1));
        fed.start_with(i, &["--p2p-listen", &real.to_string()])
            .expect("start");
    }
    for i in 0..4 {
        fed.wait_healthy(i, Duration::from_secs(90))
            .expect("healthy");
    }
    let mut net = TestNet::new(fed, dir, guard);
    let exporter = register_exporter(&net, 0, "CN-EXPORTER-WAN");

    // Clients at every agency submit and wait for each commit.
    let history = History::default();
    let mut finality = Vec::new();
    let started = Instant::now();
    let mut nonce = 0;
    while started.elapsed() < Duration::from_secs(12) {
        for i in 0..4 {
            nonce += 1;
            let tx = record(&net, &exporter, nonce);
            let sent = Instant::now();
            if history.submit(&net.fed.client(i), &tx) {
                finality.push(sent.elapsed());
            }
        }
    }
    finality.sort();
    let (submitted, acknowledged) = history.counts();
    let p50 = finality[finality.len() / 2];
    let p95 = finality[finality.len() * 95 / 100];
    eprintln!(
        "WAN 150 ms between agencies: {acknowledged} of {submitted} acknowledged in 12 s; \
         finality p50 {p50:?}, p95 {p95:?}"
    );
    assert!(acknowledged >= 10, "only {acknowledged} acknowledged");
    // Three message delays at least separate a submission from its commit: the relays are
    // really in the path.
    assert!(
        p50 >= Duration::from_millis(150),
        "finality p50 {p50:?} is shorter than the relays allow"
    );
    assert!(p50 <= Duration::from_secs(5), "finality p50 {p50:?}");
    history.check(&mut net, &[0, 1, 2, 3]);
    net.fed.stop_all().expect("stop");
    drop(relays);
}
