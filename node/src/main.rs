//! `caravan-node`: runs one agency's validator.

use clap::Parser;

use caravan_node::node::{NodeOptions, run_process};

/// Runs a Caravan validator node.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(flatten)]
    options: NodeOptions,
    /// Log as JSON lines.
    #[arg(long)]
    log_json: bool,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    run_process(cli.options, cli.log_json)
}
