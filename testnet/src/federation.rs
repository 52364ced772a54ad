//! A local federation of real node processes on loopback: keys and a signed genesis made by the
//! real ceremony, one OS process per agency, health checks, kill and restart. Used by
//! `caravan-testnet up`, the demo and the end-to-end tests.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};

use caravan_genesis::{AgencyInfo, assemble, keygen};
use caravan_sdk::client::Client;
use caravan_sdk::genesis::{Genesis, Params};
use caravan_sdk::ids::{AgencyId, ChainId, Height};
use caravan_sdk::keys::{Keypair, read_key_file};
use caravan_sdk::tx::Role;

use crate::netfault::Network;

/// The agencies of a federation, in order: the demo's four, then generic ones.
pub const AGENCIES: [(&str, &str, &str); 4] = [
    ("CN-QDG-CUSTOMS", "Qingdao Customs", "CN"),
    (
        "KZ-KGS-CUSTOMS",
        "State Revenue Committee of Kazakhstan, Khorgos customs",
        "KZ",
    ),
    (
        "UZ-TAS-CUSTOMS",
        "Customs Committee of Uzbekistan, Tashkent",
        "UZ",
    ),
    ("RU-FBS-BORDER", "Russian border agency, Zabaikalsk", "RU"),
];

/// How to start a node process.
#[derive(Clone, Debug)]
pub struct Launcher {
    /// The program.
    pub program: PathBuf,
    /// Arguments before the node's own (e.g. `node` for the testnet binary).
    pub prefix: Vec<String>,
}

impl Launcher {
    /// This executable, re-run with the hidden `node` subcommand.
    pub fn current_exe() -> anyhow::Result<Self> {
        Ok(Launcher {
            program: std::env::current_exe().context("locating this executable")?,
            prefix: vec!["node".into()],
        })
    }
}

/// One node of the federation.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Its agency.
    pub agency: AgencyId,
    /// Its API URL.
    pub api_url: String,
    /// Its data folder.
    pub home: PathBuf,
    /// Its key folder.
    pub keys: PathBuf,
    /// Its log file.
    pub log: PathBuf,
    /// The process id while it runs.
    pub pid: Option<u32>,
    /// For an observer, the validators' API URLs it follows (it reads as the participant named
    /// `agency`, with `keys/observer.key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follows: Option<Vec<String>>,
    /// The network namespace the node runs in (`ip netns exec`), for partition tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
}

/// What `up` writes to `DIR/testnet.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TestnetFile {
    /// The chain.
    pub chain_id: ChainId,
    /// The genesis file.
    pub genesis: PathBuf,
    /// The nodes.
    pub nodes: Vec<NodeInfo>,
    /// The network namespaces the nodes run in (`up --netns`), removed by `down`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
}

/// A running (or stopped) local federation.
pub struct Federation {
    /// Its folder.
    pub dir: PathBuf,
    /// The genesis file.
    pub genesis_path: PathBuf,
    /// The genesis.
    pub genesis: Genesis,
    /// The nodes.
    pub nodes: Vec<NodeInfo>,
    /// The network namespaces the nodes run in, when they do (partitions and loss apply there).
    pub network: Option<Network>,
    children: Vec<Option<Child>>,
    launcher: Launcher,
}

/// The ports handed to nodes: below the kernel's ephemeral range (32768 and up by default on
/// Linux). A port found free there stays free until the node binds it; a free ephemeral port,
/// which is what binding port 0 gives, can meanwhile become the local end of any outgoing
/// connection (a peer dialling, an HTTP client), and the node then fails to start.
const NODE_PORTS: std::ops::Range<u32> = 12_000..32_000;

/// A loopback port that is free now, from 12000 to 32000 (below the kernel's ephemeral range),
/// never the same twice in one process; each process starts at its own place in the range, so
/// that two rarely walk the same ports.
pub fn free_port() -> anyhow::Result<u16> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    static START: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let span = NODE_PORTS.end - NODE_PORTS.start;
    let start = *START.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        (std::process::id().wrapping_mul(7_919) ^ nanos) % span
    });
    for _ in 0..span {
        let port = NODE_PORTS.start + (start + NEXT.fetch_add(1, Ordering::Relaxed)) % span;
        let port = u16::try_from(port).context("port range")?;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    bail!(
        "no free loopback port between {} and {}",
        NODE_PORTS.start,
        NODE_PORTS.end
    )
}

impl Federation {
    /// Creates keys and a signed genesis for `validators` agencies in `dir` (which must not hold
    /// a federation already), running each agency's ceremony steps separately.
    pub fn create(dir: &Path, validators: usize, launcher: Launcher) -> anyhow::Result<Self> {
        Self::create_with(dir, validators, Params::default(), launcher)
    }

    /// A federation of one validator per namespace of `network`: node `i` runs in namespace
    /// `i` and listens on its address there. The federation owns the network from then on.
    pub fn create_in_network(
        dir: &Path,
        network: Network,
        launcher: Launcher,
    ) -> anyhow::Result<Self> {
        let places = network.places();
        let hosts: Vec<std::net::IpAddr> = places.iter().map(|(_, ip)| *ip).collect();
        let mut fed = Self::create_on(dir, places.len(), Params::default(), launcher, &hosts)?;
        for (node, (ns, _)) in fed.nodes.iter_mut().zip(places) {
            node.netns = Some(ns);
        }
        fed.network = Some(network);
        Ok(fed)
    }

    /// The federation's network, or an error saying that its nodes share loopback.
    pub fn network(&self) -> anyhow::Result<&Network> {
        self.network.as_ref().context(
            "this federation's nodes share loopback, where no network fault applies: start one \
             with `caravan-testnet up --netns` (needs root) for partitions and loss",
        )
    }

    /// [`Federation::create`] with other federation parameters.
    pub fn create_with(
        dir: &Path,
        validators: usize,
        params: Params,
        launcher: Launcher,
    ) -> anyhow::Result<Self> {
        let hosts = vec![std::net::IpAddr::from([127, 0, 0, 1]); validators];
        Self::create_on(dir, validators, params, launcher, &hosts)
    }

    /// [`Federation::create_with`], node `i` listening on `hosts[i]`.
    fn create_on(
        dir: &Path,
        validators: usize,
        params: Params,
        launcher: Launcher,
        hosts: &[std::net::IpAddr],
    ) -> anyhow::Result<Self> {
        if validators == 0 {
            bail!("a federation needs at least one validator");
        }
        if dir.join("genesis.json").exists() {
            bail!(
                "{} already holds a federation; use another --dir or run `down` and remove it",
                dir.display()
            );
        }
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut cards = Vec::new();
        let mut nodes = Vec::new();
        for (i, &host) in hosts.iter().enumerate().take(validators) {
            let (id, name, country) = match AGENCIES.get(i) {
                Some(&(id, name, country)) => {
                    (id.to_string(), name.to_string(), country.to_string())
                }
                None => (
                    format!("XX-AGENCY-{i}"),
                    format!("Agency {i}"),
                    "KG".to_string(),
                ),
            };
            let agency = AgencyId::new(id)?;
            let node_dir = dir.join(format!("node{i}"));
            let keys = node_dir.join("keys");
            let api_url = format!("http://{host}:{}", free_port()?);
            let info = AgencyInfo {
                agency: agency.clone(),
                name,
                country,
                roles: vec![
                    Role::Registry,
                    Role::Credit,
                    if i == 3 { Role::Border } else { Role::Customs },
                ],
                p2p_address: format!("{host}:{}", free_port()?),
                api_url: api_url.clone(),
            };
            let out = keygen(&info, &keys).with_context(|| format!("keygen for {agency}"))?;
            cards.push(out.card);
            nodes.push(NodeInfo {
                agency,
                api_url,
                home: node_dir.join("data"),
                keys,
                log: node_dir.join("node.log"),
                pid: None,
                follows: None,
                netns: None,
            });
        }
        let mut genesis = assemble("caravan-local", "2026-11-26T00:00:00Z", cards, params)?;
        let genesis_path = dir.join("genesis.json");
        genesis.write(&genesis_path)?;
        for node in &nodes {
            genesis = caravan_genesis::sign_file(
                &genesis_path,
                &node.agency,
                &node.keys.join("admin.key"),
            )?;
        }
        genesis.verify()?;
        let children = nodes.iter().map(|_| None).collect();
        Ok(Federation {
            dir: dir.to_path_buf(),
            genesis_path,
            genesis,
            nodes,
            network: None,
            children,
            launcher,
        })
    }

    /// Creates the keys and member card of an agency that is not in the genesis, to be admitted
    /// by governance; returns its node's index. Its node starts like the others once the
    /// federation has admitted it (it reads `member-card.json` from its keys folder).
    pub fn prepare_agency(
        &mut self,
        agency: &AgencyId,
        name: &str,
        country: &str,
        roles: Vec<Role>,
    ) -> anyhow::Result<usize> {
        let i = self.nodes.len();
        let node_dir = self.dir.join(format!("node{i}"));
        let keys = node_dir.join("keys");
        let api_url = format!("http://127.0.0.1:{}", free_port()?);
        let info = AgencyInfo {
            agency: agency.clone(),
            name: name.into(),
            country: country.into(),
            roles,
            p2p_address: format!("127.0.0.1:{}", free_port()?),
            api_url: api_url.clone(),
        };
        keygen(&info, &keys).with_context(|| format!("keygen for {agency}"))?;
        self.nodes.push(NodeInfo {
            agency: agency.clone(),
            api_url,
            home: node_dir.join("data"),
            keys,
            log: node_dir.join("node.log"),
            pid: None,
            follows: None,
            netns: None,
        });
        self.children.push(None);
        Ok(i)
    }

    /// Registers an observer identity through agency `registrar` (a participant with the
    /// observer role, whose key signs the observer's reads) and adds an observer node that
    /// follows every validator; returns its index. Start it with [`Federation::start`].
    pub fn add_observer(&mut self, registrar: usize) -> anyhow::Result<usize> {
        let i = self.nodes.len();
        let id = format!("OBSERVER-{i}");
        let node_dir = self.dir.join(format!("node{i}"));
        let keys = node_dir.join("keys");
        std::fs::create_dir_all(&keys).with_context(|| format!("creating {}", keys.display()))?;
        let key = Keypair::generate()?;
        caravan_sdk::keys::write_key_file(&keys.join("observer.key"), "observer", &key)?;
        let admin = self.admin_key(registrar)?;
        let tx = caravan_sdk::tx::UnsignedTx {
            chain_id: self.chain_id(),
            signer: caravan_sdk::ids::ParticipantId::from(&self.nodes[registrar].agency),
            // Any nonce not used before by the registrar: the clock's milliseconds are.
            nonce: caravan_sdk::ids::Nonce(now_ms() * 1000 + i as u64),
            body: caravan_sdk::tx::Body::RegisterParticipant {
                id: caravan_sdk::ids::ParticipantId::new(id.clone())?,
                name: format!("Observer {i}"),
                roles: vec![Role::Observer],
                public_key: key.public(),
            },
        }
        .sign(&admin);
        match self.client(registrar).submit(&tx, true)? {
            caravan_sdk::api::TxStatus::Committed { .. } => {}
            other => bail!("registering observer {id}: {other:?}"),
        }
        let follows = self
            .nodes
            .iter()
            .filter(|n| n.follows.is_none())
            .map(|n| n.api_url.clone())
            .collect();
        self.nodes.push(NodeInfo {
            agency: AgencyId::new(id)?,
            api_url: format!("http://127.0.0.1:{}", free_port()?),
            home: node_dir.join("data"),
            keys,
            log: node_dir.join("node.log"),
            pid: None,
            follows: Some(follows),
            netns: None,
        });
        self.children.push(None);
        Ok(i)
    }

    /// The member card of node `i`'s agency, from its keys folder.
    pub fn member_card(&self, i: usize) -> anyhow::Result<caravan_sdk::genesis::MemberCard> {
        let path = self.nodes[i].keys.join("member-card.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// A federation started earlier (by `up`), from its `DIR/testnet.json`. Its running nodes
    /// are not children of this process: signals go to their recorded process ids.
    pub fn open(dir: &Path, launcher: Launcher) -> anyhow::Result<Self> {
        let path = dir.join("testnet.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let file: TestnetFile = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a testnet file", path.display()))?;
        let genesis = Genesis::read(&file.genesis)?;
        let children = file.nodes.iter().map(|_| None).collect();
        Ok(Federation {
            dir: dir.to_path_buf(),
            genesis_path: file.genesis,
            genesis,
            nodes: file.nodes,
            network: file.network,
            children,
            launcher,
        })
    }

    /// The index of the node named `name` (an agency or observer id, or an index).
    pub fn node_index(&self, name: &str) -> anyhow::Result<usize> {
        if let Ok(i) = name.parse::<usize>()
            && i < self.nodes.len()
        {
            return Ok(i);
        }
        self.nodes
            .iter()
            .position(|n| n.agency.as_str() == name)
            .with_context(|| {
                format!(
                    "no node {name:?} in this federation; its nodes are {}",
                    self.nodes
                        .iter()
                        .map(|n| n.agency.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
    }

    /// Sends a signal (`-KILL`, `-TERM`, `-STOP`, `-CONT`) to node `i`'s recorded process.
    pub fn signal_pid(&self, i: usize, signal: &str) -> anyhow::Result<u32> {
        let node = &self.nodes[i];
        let pid = node
            .pid
            .filter(|&p| alive(p))
            .with_context(|| format!("node {} is not running", node.agency))?;
        let status = Command::new("kill")
            .arg(signal)
            .arg(pid.to_string())
            .status()
            .context("running kill")?;
        if !status.success() {
            bail!("kill {signal} {pid} failed");
        }
        Ok(pid)
    }

    /// The chain id.
    pub fn chain_id(&self) -> ChainId {
        self.genesis.chain_id()
    }

    /// A client for node `i`.
    pub fn client(&self, i: usize) -> Client {
        Client::with_timeout(&self.nodes[i].api_url, Duration::from_secs(60))
    }

    /// The admin key of agency `i` (it signs registrations).
    pub fn admin_key(&self, i: usize) -> anyhow::Result<Keypair> {
        Ok(read_key_file(&self.nodes[i].keys.join("admin.key"))?)
    }

    /// Starts node `i` as a separate process (logs to its `node.log`).
    pub fn start(&mut self, i: usize) -> anyhow::Result<()> {
        self.start_with(i, &[])
    }

    /// Pauses node `i` (SIGSTOP): it neither runs nor answers until [`Federation::resume`].
    pub fn pause(&mut self, i: usize) -> anyhow::Result<()> {
        self.signal_pid(i, "-STOP").map(|_| ())
    }

    /// Resumes a paused node (SIGCONT).
    pub fn resume(&mut self, i: usize) -> anyhow::Result<()> {
        self.signal_pid(i, "-CONT").map(|_| ())
    }

    /// Starts node `i` with extra command-line arguments (a validator's, e.g. `--resync`).
    pub fn start_with(&mut self, i: usize, extra: &[&str]) -> anyhow::Result<()> {
        // A node that exited by itself (a full disk, a refused store) is started again; one
        // that still runs is left alone.
        if let Some(child) = self.children[i].as_mut() {
            if child.try_wait()?.is_none() {
                return Ok(());
            }
            self.children[i] = None;
        }
        let node = &mut self.nodes[i];
        let log = File::options()
            .create(true)
            .append(true)
            .open(&node.log)
            .with_context(|| format!("opening {}", node.log.display()))?;
        let mut command = match &node.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(&self.launcher.program);
                c
            }
            None => Command::new(&self.launcher.program),
        };
        match &node.follows {
            None => command
                .args(&self.launcher.prefix)
                .arg("--home")
                .arg(&node.home)
                .arg("--genesis")
                .arg(&self.genesis_path)
                .arg("--agency")
                .arg(node.agency.as_str())
                .arg("--keys")
                .arg(&node.keys)
                .args(extra),
            Some(follows) => {
                command
                    .arg("observe")
                    .arg("--home")
                    .arg(&node.home)
                    .arg("--genesis")
                    .arg(&self.genesis_path)
                    .arg("--as")
                    .arg(node.agency.as_str())
                    .arg("--key")
                    .arg(node.keys.join("observer.key"))
                    .arg("--api")
                    .arg(node.api_url.trim_start_matches("http://"));
                for url in follows {
                    command.arg("--follow").arg(url);
                }
                &mut command
            }
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting node {}", node.agency))?;
        node.pid = Some(child.id());
        self.children[i] = Some(child);
        Ok(())
    }

    /// Starts every node.
    pub fn start_all(&mut self) -> anyhow::Result<()> {
        for i in 0..self.nodes.len() {
            self.start(i)?;
        }
        Ok(())
    }

    /// Kills node `i` with SIGKILL (no chance to flush anything) and reaps it.
    pub fn kill(&mut self, i: usize) -> anyhow::Result<()> {
        if let Some(mut child) = self.children[i].take() {
            child.kill().ok();
            child.wait().ok();
        }
        self.nodes[i].pid = None;
        Ok(())
    }

    /// Stops node `i` gracefully (SIGTERM), killing it if it does not exit in 10 s.
    pub fn stop(&mut self, i: usize) -> anyhow::Result<()> {
        if let Some(mut child) = self.children[i].take() {
            terminate(child.id());
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if child.try_wait()?.is_some() {
                    self.nodes[i].pid = None;
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            child.kill().ok();
            child.wait().ok();
        }
        self.nodes[i].pid = None;
        Ok(())
    }

    /// Stops every node.
    pub fn stop_all(&mut self) -> anyhow::Result<()> {
        for i in 0..self.nodes.len() {
            self.stop(i)?;
        }
        Ok(())
    }

    /// Whether node `i`'s process has exited, and how.
    pub fn exited(&mut self, i: usize) -> Option<std::process::ExitStatus> {
        self.children[i]
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Leaves the node processes running when this value is dropped (for `up`).
    pub fn detach(&mut self) {
        if let Some(network) = &mut self.network {
            network.detach();
        }
        for child in &mut self.children {
            child.take();
        }
    }

    /// Waits until node `i` answers `/health`.
    pub fn wait_healthy(&mut self, i: usize, timeout: Duration) -> anyhow::Result<Height> {
        let deadline = Instant::now() + timeout;
        let client = Client::with_timeout(&self.nodes[i].api_url, Duration::from_secs(2));
        loop {
            if let Some(status) = self.exited(i) {
                bail!(
                    "node {} exited ({status}) while starting; see {}:\n{}",
                    self.nodes[i].agency,
                    self.nodes[i].log.display(),
                    exit_error(&self.nodes[i].log)
                );
            }
            match client.health() {
                Ok(h) => return Ok(h.height),
                Err(e) if Instant::now() > deadline => bail!(
                    "node {} not healthy after {timeout:?}: {e}",
                    self.nodes[i].agency
                ),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Waits until every running node answers `/health`.
    pub fn wait_all_healthy(&mut self, timeout: Duration) -> anyhow::Result<()> {
        for i in 0..self.nodes.len() {
            if self.children[i].is_some() {
                self.wait_healthy(i, timeout)?;
            }
        }
        Ok(())
    }

    /// Waits until node `i` has committed at least `height`.
    pub fn wait_height(
        &mut self,
        i: usize,
        height: Height,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        let client = Client::with_timeout(&self.nodes[i].api_url, Duration::from_secs(2));
        loop {
            if let Ok(h) = client.health()
                && h.height >= height
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "node {} did not reach height {height} within {timeout:?}",
                    self.nodes[i].agency
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Writes `DIR/testnet.json`.
    pub fn write_file(&self) -> anyhow::Result<PathBuf> {
        let path = self.dir.join("testnet.json");
        let file = TestnetFile {
            chain_id: self.chain_id(),
            genesis: self.genesis_path.clone(),
            nodes: self.nodes.clone(),
            network: self.network.clone(),
        };
        std::fs::write(&path, serde_json::to_string_pretty(&file)? + "\n")?;
        Ok(path)
    }
}

impl Drop for Federation {
    fn drop(&mut self) {
        for child in self.children.iter_mut().flatten() {
            child.kill().ok();
            child.wait().ok();
        }
    }
}

/// Sends SIGTERM to a process.
pub fn terminate(pid: u32) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Whether a process is alive (a zombie, killed but not yet reaped, is not).
pub fn alive(pid: u32) -> bool {
    if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        && let Some(state) = stat
            .rsplit(") ")
            .next()
            .and_then(|rest| rest.chars().next())
    {
        return state != 'Z' && state != 'X';
    }
    Command::new("kill")
        .arg("-0")
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The last `lines` lines of a file.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Why a node exited, from its log: the error it printed (`Error: ...` and its causes, without
/// the backtrace that may follow), else the log's last lines.
pub fn exit_error(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    match lines.iter().rposition(|l| l.starts_with("Error: ")) {
        Some(start) => lines[start..]
            .iter()
            .take_while(|l| !l.starts_with("Stack backtrace:"))
            .copied()
            .collect::<Vec<_>>()
            .join("\n"),
        None => tail(path, 15),
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exit_error_is_the_printed_error_without_its_backtrace() {
        let dir = tempfile::tempdir().expect("tmp");
        let log = dir.path().join("node.log");
        std::fs::write(
            &log,
            "INFO started\nError: opening the ledger store\n\nCaused by:\n    bad\n\
             Stack backtrace:\n   0: frame\n",
        )
        .expect("write");
        assert_eq!(
            exit_error(&log),
            "Error: opening the ledger store\n\nCaused by:\n    bad"
        );
        std::fs::write(&log, "a\nb\n").expect("write");
        assert_eq!(exit_error(&log), "a\nb");
    }
}
