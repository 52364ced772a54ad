//! `caravan-node`: runs one agency's validator, or an observer that follows the federation.

use clap::{Parser, Subcommand};

use caravan_node::node::{NodeOptions, run_process};
use caravan_node::observer::ObserverOptions;

/// Runs a Caravan validator node (or, with `observe`, an observer node).
#[derive(Parser)]
#[command(
    version,
    about,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(flatten)]
    options: NodeOptions,
    /// Log as JSON lines.
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Follow the federation without voting: fetch certified blocks from the agencies' nodes,
    /// re-execute them, and serve the read API.
    Observe {
        #[command(flatten)]
        options: ObserverOptions,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Observe { options }) => {
            caravan_node::observer::run_process(options, cli.log_json)
        }
        None => run_process(cli.options, cli.log_json),
    }
}
