//! `caravan-node`: runs one agency's validator.

use std::path::PathBuf;

use clap::Parser;

use caravan_node::node::{NodeOptions, run_process};
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
    run_process(
        NodeOptions {
            home: cli.home,
            genesis: cli.genesis,
            agency: cli.agency,
            keys: cli.keys,
        },
        cli.log_json,
    )
}
