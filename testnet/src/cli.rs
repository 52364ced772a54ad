//! The `caravan-testnet` command line: `up`, `down`, `demo`, and the hidden `node` subcommand
//! through which the same executable runs each validator process.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::federation::{Federation, Launcher, TestnetFile, alive, terminate};

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
    /// store file of a stopped node).
    Fault {
        /// The folder given to `up`.
        #[arg(long)]
        dir: PathBuf,
        /// The node: its agency (or observer) id, or its index in testnet.json.
        #[arg(long)]
        node: String,
        /// What to do.
        #[arg(value_enum)]
        action: FaultAction,
        /// With `start`: move the node's store aside and sync the ledger again.
        #[arg(long)]
        resync: bool,
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
}

/// Runs one fault action on the federation in `dir`.
fn fault(
    dir: &std::path::Path,
    node: &str,
    action: FaultAction,
    resync: bool,
) -> anyhow::Result<()> {
    let mut fed = Federation::open(dir, Launcher::current_exe()?)?;
    let i = fed.node_index(node)?;
    let name = fed.nodes[i].agency.clone();
    match action {
        FaultAction::Kill => println!("killed {name} (pid {})", fed.signal_pid(i, "-KILL")?),
        FaultAction::Pause => println!("paused {name} (pid {})", fed.signal_pid(i, "-STOP")?),
        FaultAction::Resume => println!("resumed {name} (pid {})", fed.signal_pid(i, "-CONT")?),
        FaultAction::Stop => {
            let pid = fed.signal_pid(i, "-TERM")?;
            let deadline = std::time::Instant::now() + Duration::from_secs(15);
            while alive(pid) {
                anyhow::ensure!(
                    std::time::Instant::now() < deadline,
                    "{name} (pid {pid}) did not stop within 15 s"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
            println!("stopped {name} (pid {pid})");
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

/// Entry point of the `caravan-testnet` executable.
pub fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Up {
            validators,
            observers,
            dir,
        } => {
            let mut fed = Federation::create(&dir, validators, Launcher::current_exe()?)?;
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
            println!("federation down");
            Ok(())
        }
        Command::Fault {
            dir,
            node,
            action,
            resync,
        } => fault(&dir, &node, action, resync),
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
