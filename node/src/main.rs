//! `caravan-node`: runs one agency's validator.

use std::path::PathBuf;

use clap::Parser;

use caravan_node::node::{NodeOptions, run};
use caravan_sdk::ids::AgencyId;

/// Runs a Caravan validator node.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Data folder: the ledger store and the consensus WAL.
    #[arg(long)]
    home: PathBuf,
    /// The signed genesis file.
    #[arg(long)]
    genesis: PathBuf,
    /// This node's agency id, as in the genesis.
    #[arg(long)]
    agency: AgencyId,
    /// Folder with the agency's key files (validator.key, network.key).
    #[arg(long)]
    keys: PathBuf,
    /// Log as JSON lines.
    #[arg(long)]
    log_json: bool,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(
            "info,libp2p=warn,malachitebft=warn,arc_malachitebft=warn,ractor=warn",
        )
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if cli.log_json {
        builder.json().init();
    } else {
        builder.init();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run(NodeOptions {
        home: cli.home,
        genesis: cli.genesis,
        agency: cli.agency,
        keys: cli.keys,
    }))
}
