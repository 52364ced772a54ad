//! The `caravan-testnet` command line: `up`, `down`, `fault`, `demo`, `load`, and the hidden
//! `node` subcommand through which the same executable runs each validator process.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::federation::{Federation, Launcher, TestnetFile, alive, terminate};
use crate::netfault::{Network, SmallDisk, copy_tree, is_small_disk, parse_groups};

/// Local Caravan federations.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create keys and a signed genesis, start N validators, wait until healthy, write
    /// DIR/testnet.json and return while they run.
    Up {
        /// Number of validators.
        #[arg(long, default_value_t = 4)]
        validators: usize,
        /// Number of observer nodes (they follow the validators, re-execute every block and
        /// serve reads; each reads as a participant registered with the observer role).
        #[arg(long, default_value_t = 0)]
        observers: usize,
        /// Folder for keys, genesis, data and logs.
        #[arg(long)]
        dir: PathBuf,
        /// Run each validator in its own network namespace, joined by a bridge, so that
        /// `fault partition` and `fault loss` apply (needs root; no observers).
        #[arg(long)]
        netns: bool,
    },
    /// Stop the federation described by DIR/testnet.json.
    Down {
        /// The folder given to `up`.
        #[arg(long)]
        dir: PathBuf,
    },
    /// Inject a fault into a federation started with `up`, for drills and tests: kill (SIGKILL,
    /// no chance to flush), stop (SIGTERM), pause (SIGSTOP), resume (SIGCONT), start (again,
    /// from its files; with --resync a damaged store is synced again), corrupt (damage the
    /// store file of a stopped node), disk-full and disk-space (a small disk under a node's
    /// data), and, on a federation started with `up --netns`, partition, loss and heal.
    Fault {
        /// The folder given to `up`.
        #[arg(long)]
        dir: PathBuf,
        /// The node: its agency (or observer) id, or its index in testnet.json. For `loss`, the
        /// node whose packets are lost.
        #[arg(long)]
        node: Option<String>,
        /// What to do.
        #[arg(value_enum)]
        action: FaultAction,
        /// With `start`: move the node's store aside and sync the ledger again.
        #[arg(long)]
        resync: bool,
        /// With `partition`: the split, groups of nodes separated by '/', e.g.
        /// `CN-QD-CUSTOMS,KZ-KGD/RU-FBS-BORDER,UZ-CUSTOMS` or `0,1/2,3`.
        #[arg(long)]
        groups: Option<String>,
        /// With `loss`: the nodes that lose packets from --node, comma-separated (default every
        /// other node).
        #[arg(long)]
        to: Option<String>,
        /// With `loss`: the share of packets dropped, 1 to 100 percent.
        #[arg(long, default_value_t = 10)]
        percent: u8,
        /// With `disk-full`: the free space left on the node's new disk (`mount`'s sizes: 256k,
        /// 1m); with `disk-space`: the disk's new size.
        #[arg(long)]
        size: Option<String>,
    },
    /// Run the demo federation and scenario.
    Demo {
        /// Stop and exit 0 once every step has succeeded (non-zero on any failure).
        #[arg(long)]
        exit: bool,
        /// Working folder (default: a new folder under the system's temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Measure throughput and finality under load, against the machine's signature-verification
    /// ceiling and a central PostgreSQL baseline measured in the same run.
    Load {
        #[command(flatten)]
        options: crate::load::LoadOptions,
    },
    /// Run one validator (used by the federation; same options as caravan-node).
    #[command(hide = true)]
    Node {
        #[command(flatten)]
        options: caravan_node::node::NodeOptions,
    },
    /// Run one observer (used by the federation; same options as `caravan-node observe`).
    #[command(hide = true)]
    Observe {
        #[command(flatten)]
        options: caravan_node::observer::ObserverOptions,
    },
}

/// A fault `caravan-testnet fault` injects.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum FaultAction {
    /// SIGKILL.
    Kill,
    /// SIGTERM, then wait for the exit.
    Stop,
    /// SIGSTOP.
    Pause,
    /// SIGCONT.
    Resume,
    /// Start a stopped node again.
    Start,
    /// Flip bytes all over a stopped node's store file (a damaged disk).
    Corrupt,
    /// Move the node onto a disk with only --size (default 256k) free: restarts it there; it
    /// stops with "No space left on device" once it has written that much.
    DiskFull,
    /// Resize the node's small disk to --size (default 512m); then `start` it again.
    DiskSpace,
    /// Split the nodes into the --groups: nothing passes between groups (clients still reach
    /// every node).
    Partition,
    /// Drop --percent of the packets --node sends to the --to nodes, one way only.
    Loss,
    /// Remove every split and loss.
    Heal,
}

/// Options of `caravan-testnet fault` beyond the action.
struct FaultOptions {
    node: Option<String>,
    resync: bool,
    groups: Option<String>,
    to: Option<String>,
    percent: u8,
    size: Option<String>,
}

/// Runs one fault action on the federation in `dir`.
fn fault(dir: &std::path::Path, action: FaultAction, o: FaultOptions) -> anyhow::Result<()> {
    let mut fed = Federation::open(dir, Launcher::current_exe()?)?;
    match action {
        FaultAction::Partition => {
            let text = o
                .groups
                .as_deref()
                .context("partition needs --groups, e.g. --groups 0,1/2,3")?;
            let groups = parse_groups(text, |n| fed.node_index(n))?;
            fed.network()?.partition(&groups)?;
            let names: Vec<String> = groups
                .iter()
                .map(|g| {
                    let members: Vec<&str> =
                        g.iter().map(|&i| fed.nodes[i].agency.as_str()).collect();
                    members.join(", ")
                })
                .collect();
            println!("partitioned: {}", names.join("  |  "));
            return Ok(());
        }
        FaultAction::Heal => {
            fed.network()?.heal()?;
            println!("healed: every split and loss removed");
            return Ok(());
        }
        _ => {}
    }
    let node = o.node.as_deref().with_context(|| {
        let name = clap::ValueEnum::to_possible_value(&action)
            .map(|v| v.get_name().to_string())
            .unwrap_or_default();
        format!("`fault {name}` needs --node (an agency id or an index)")
    })?;
    let i = fed.node_index(node)?;
    let name = fed.nodes[i].agency.clone();
    let resync = o.resync;
    match action {
        FaultAction::Partition | FaultAction::Heal => unreachable!("handled above"),
        FaultAction::Loss => {
            let to: Vec<usize> = match &o.to {
                Some(list) => list
                    .split(',')
                    .map(|n| fed.node_index(n.trim()))
                    .collect::<anyhow::Result<_>>()?,
                None => (0..fed.nodes.len()).filter(|&j| j != i).collect(),
            };
            let network = fed.network()?;
            for &j in &to {
                network.loss(i, j, o.percent)?;
            }
            let names: Vec<&str> = to.iter().map(|&j| fed.nodes[j].agency.as_str()).collect();
            println!(
                "{}% of the packets from {name} to {} are dropped (one way)",
                o.percent,
                names.join(", ")
            );
        }
        FaultAction::DiskFull => disk_full(&mut fed, i, o.size.as_deref().unwrap_or("256k"))?,
        FaultAction::DiskSpace => {
            let size = o.size.as_deref().unwrap_or("512m");
            SmallDisk::resize(&fed.nodes[i].home, size)?;
            println!(
                "{name}'s disk is now {size}; start it again with `fault --node {name} start`"
            );
        }
        FaultAction::Kill => println!("killed {name} (pid {})", fed.signal_pid(i, "-KILL")?),
        FaultAction::Pause => println!("paused {name} (pid {})", fed.signal_pid(i, "-STOP")?),
        FaultAction::Resume => println!("resumed {name} (pid {})", fed.signal_pid(i, "-CONT")?),
        FaultAction::Stop => {
            let pid = fed.signal_pid(i, "-TERM")?;
            await_exit(name.as_str(), pid)?;
        }
        FaultAction::Start => {
            if let Some(pid) = fed.nodes[i].pid
                && alive(pid)
            {
                anyhow::bail!("{name} is already running (pid {pid})");
            }
            fed.start_with(i, if resync { &["--resync"] } else { &[] })?;
            fed.wait_healthy(i, Duration::from_secs(60))?;
            fed.write_file()?;
            println!("started {name} (pid {})", fed.nodes[i].pid.unwrap_or(0));
            fed.detach();
        }
        FaultAction::Corrupt => {
            if let Some(pid) = fed.nodes[i].pid
                && alive(pid)
            {
                anyhow::bail!("stop {name} first: a running node's store is not damaged in place");
            }
            let path = fed.nodes[i].home.join("ledger.redb");
            let mut bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            // One byte in every 4 KiB page after the first: headers, tree pages, values.
            let mut flipped = 0;
            for offset in (4096 + 100..bytes.len()).step_by(4096) {
                bytes[offset] ^= 0xff;
                flipped += 1;
            }
            std::fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
            println!("damaged {} ({flipped} bytes flipped)", path.display());
        }
    }
    Ok(())
}

/// Waits up to 15 s for process `pid` (node `name`) to exit, and says so.
fn await_exit(name: &str, pid: u32) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while alive(pid) {
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "{name} (pid {pid}) did not stop within 15 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("stopped {name} (pid {pid})");
    Ok(())
}

/// Moves node `i` onto a small disk with `free` left: stops it, copies its data folder onto a
/// tmpfs sized to what it holds plus `free`, and starts it there.
fn disk_full(fed: &mut Federation, i: usize, free: &str) -> anyhow::Result<()> {
    let name = fed.nodes[i].agency.clone();
    let home = fed.nodes[i].home.clone();
    anyhow::ensure!(
        !is_small_disk(&home)?,
        "{name} is on a small disk already; `disk-space` resizes it"
    );
    let free_kib = parse_size_kib(free)?;
    if let Some(pid) = fed.nodes[i].pid
        && alive(pid)
    {
        terminate(pid);
        await_exit(name.as_str(), pid)?;
    }
    let aside = home.with_extension("before-disk-full");
    anyhow::ensure!(
        !aside.exists(),
        "{} exists from an earlier drill; remove it first",
        aside.display()
    );
    std::fs::rename(&home, &aside).with_context(|| format!("moving {} aside", home.display()))?;
    let used_kib = tree_size(&aside)?.div_ceil(1024);
    let size = format!("{}k", used_kib + free_kib);
    let mut disk = SmallDisk::mount(&home, &size)?;
    copy_tree(&aside, &home)?;
    std::fs::remove_dir_all(&aside).with_context(|| format!("removing {}", aside.display()))?;
    disk.detach();
    fed.start(i)?;
    fed.wait_healthy(i, Duration::from_secs(60))?;
    fed.write_file()?;
    println!(
        "{name} runs on a {size} disk holding its {used_kib} KiB of data: {free_kib} KiB free; \
         it stops with \"No space left on device\" when that is written"
    );
    fed.detach();
    Ok(())
}

/// The bytes of the files under `path`.
fn tree_size(path: &std::path::Path) -> anyhow::Result<u64> {
    let mut bytes = 0;
    for entry in std::fs::read_dir(path).with_context(|| format!("reading {}", path.display()))? {
        let entry = entry?;
        let meta = entry.metadata()?;
        bytes += if meta.is_dir() {
            tree_size(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(bytes)
}

/// Parses a size in `mount`'s syntax (`256k`, `1m`, `2g`, or bytes) into KiB, rounded up.
fn parse_size_kib(text: &str) -> anyhow::Result<u64> {
    let t = text.trim().to_ascii_lowercase();
    let (digits, unit) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((k, _)) => t.split_at(k),
        None => (t.as_str(), ""),
    };
    let n: u64 = digits
        .parse()
        .with_context(|| format!("{text:?} is not a size such as 256k, 1m or 2g"))?;
    let bytes = match unit {
        "" => n,
        "k" => n * 1024,
        "m" => n * 1024 * 1024,
        "g" => n * 1024 * 1024 * 1024,
        _ => anyhow::bail!("{text:?} is not a size such as 256k, 1m or 2g"),
    };
    anyhow::ensure!(bytes > 0, "a disk of {text:?} holds nothing");
    Ok(bytes.div_ceil(1024))
}

/// Entry point of the `caravan-testnet` executable.
pub fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Up {
            validators,
            observers,
            dir,
            netns,
        } => {
            let mut fed = if netns {
                anyhow::ensure!(
                    observers == 0,
                    "--netns runs validators only: leave out --observers"
                );
                let network = Network::build(validators)?;
                Federation::create_in_network(&dir, network, Launcher::current_exe()?)?
            } else {
                Federation::create(&dir, validators, Launcher::current_exe()?)?
            };
            fed.start_all()?;
            fed.wait_all_healthy(Duration::from_secs(60))?;
            for _ in 0..observers {
                let i = fed.add_observer(0)?;
                fed.start(i)?;
                fed.wait_healthy(i, Duration::from_secs(60))?;
            }
            let file = fed.write_file()?;
            for node in &fed.nodes {
                println!(
                    "{:<16} {}  pid {}{}",
                    node.agency,
                    node.api_url,
                    node.pid.unwrap_or(0),
                    if node.follows.is_some() {
                        "  (observer)"
                    } else {
                        ""
                    }
                );
            }
            println!("federation up: {}", file.display());
            fed.detach();
            Ok(())
        }
        Command::Down { dir } => {
            let path = dir.join("testnet.json");
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let file: TestnetFile = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a testnet file", path.display()))?;
            for node in &file.nodes {
                if let Some(pid) = node.pid
                    && alive(pid)
                {
                    terminate(pid);
                    println!("stopping {} (pid {pid})", node.agency);
                }
            }
            let deadline = std::time::Instant::now() + Duration::from_secs(15);
            while file.nodes.iter().filter_map(|n| n.pid).any(alive) {
                if std::time::Instant::now() > deadline {
                    anyhow::bail!("some nodes did not stop within 15 s");
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            for node in &file.nodes {
                if node.home.exists() && is_small_disk(&node.home)? {
                    SmallDisk::unmount(&node.home)?;
                    println!("unmounted {}'s small disk", node.agency);
                }
            }
            if let Some(network) = &file.network {
                network.remove();
                println!(
                    "removed the network namespaces of 10.78.{}.0/24",
                    network.subnet
                );
            }
            println!("federation down");
            Ok(())
        }
        Command::Fault {
            dir,
            node,
            action,
            resync,
            groups,
            to,
            percent,
            size,
        } => fault(
            &dir,
            action,
            FaultOptions {
                node,
                resync,
                groups,
                to,
                percent,
                size,
            },
        ),
        Command::Demo { exit, dir } => {
            let dir = match dir {
                Some(d) => d,
                None => std::env::temp_dir().join(format!("caravan-demo-{}", std::process::id())),
            };
            crate::demo::run(&dir, exit, Launcher::current_exe()?).map_err(|e| {
                eprintln!("\ndemo FAILED: {e:#}");
                e
            })
        }
        Command::Load { options } => {
            let (report, _) = crate::load::run(&options, Launcher::current_exe()?)?;
            if report.lost > 0 || report.rejected > 0 {
                anyhow::bail!(
                    "{} transactions lost and {} valid ones rejected",
                    report.lost,
                    report.rejected
                );
            }
            Ok(())
        }
        Command::Node { options } => caravan_node::node::run_process(options, false),
        Command::Observe { options } => caravan_node::observer::run_process(options, false),
    }
}
