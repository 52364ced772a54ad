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
