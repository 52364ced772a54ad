//! `caravan-genesis`: the genesis ceremony from the command line.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use caravan_genesis::{AgencyInfo, assemble, keygen, read_card, sign_file};
use caravan_sdk::genesis::{Genesis, Params};
use caravan_sdk::ids::AgencyId;
use caravan_sdk::tx::Role;

/// The Caravan genesis ceremony.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate an agency's validator, network and admin keys and its public member card.
    Keygen {
        /// Agency id, e.g. CN-QDG-CUSTOMS.
        #[arg(long)]
        agency: AgencyId,
        /// Agency name.
        #[arg(long)]
        name: String,
        /// ISO 3166-1 alpha-2 country code.
        #[arg(long)]
        country: String,
        /// Comma-separated roles (registry, credit, customs, border, rail, ...).
        #[arg(long, value_delimiter = ',', value_parser = parse_role)]
        roles: Vec<Role>,
        /// host:port the node listens on for peers.
        #[arg(long)]
        p2p: String,
        /// http://host:port of the node's API.
        #[arg(long)]
        api: String,
        /// Output folder (key files 0600 and member-card.json).
        #[arg(long)]
        out: PathBuf,
    },
    /// Assemble member cards into an unsigned genesis.
    Assemble {
        /// Federation name.
        #[arg(long)]
        chain_name: String,
        /// Member card files.
        #[arg(long, num_args = 1.., required = true)]
        cards: Vec<PathBuf>,
        /// Output genesis file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign the genesis as one agency.
    Sign {
        /// Genesis file (updated in place).
        #[arg(long)]
        genesis: PathBuf,
        /// The signing agency.
        #[arg(long)]
        agency: AgencyId,
        /// Its admin key file.
        #[arg(long)]
        key: PathBuf,
    },
    /// Check that every founder signed the genesis.
    Verify {
        /// Genesis file.
        #[arg(long)]
        genesis: PathBuf,
    },
}

fn parse_role(text: &str) -> Result<Role, String> {
    serde_json::from_value(serde_json::Value::String(text.trim().to_string()))
        .map_err(|_| format!("unknown role {text:?}; roles are registry, credit, customs, border, rail, bank, carrier, forwarder, declarant, enterprise"))
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Keygen {
            agency,
            name,
            country,
            roles,
            p2p,
            api,
            out,
        } => {
            let result = keygen(
                &AgencyInfo {
                    agency,
                    name,
                    country,
                    roles,
                    p2p_address: p2p,
                    api_url: api,
                },
                &out,
            )?;
            println!("keys written to {} (mode 0600)", out.display());
            println!(
                "member card: {} — share this file with the other agencies",
                result.card_path.display()
            );
        }
        Command::Assemble {
            chain_name,
            cards,
            out,
        } => {
            let cards = cards
                .iter()
                .map(|p| read_card(p))
                .collect::<Result<Vec<_>, _>>()?;
            let created = format!(
                "{}",
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)?
                    .as_secs()
            );
            let genesis = assemble(&chain_name, &created, cards, Params::default())?;
            genesis.write(&out)?;
            println!("unsigned genesis written to {}", out.display());
            println!("chain id {}", genesis.chain_id());
            println!(
                "every founding agency now signs it: caravan-genesis sign --genesis {} --agency ID --key admin.key",
                out.display()
            );
        }
        Command::Sign {
            genesis,
            agency,
            key,
        } => {
            let signed = sign_file(&genesis, &agency, &key)?;
            let missing: Vec<String> = signed
                .content
                .agencies
                .iter()
                .filter(|c| !signed.signatures.iter().any(|s| s.agency == c.agency))
                .map(|c| c.agency.to_string())
                .collect();
            println!("{agency} signed chain {}", signed.chain_id());
            if missing.is_empty() {
                println!("all founders have signed");
            } else {
                println!("still to sign: {}", missing.join(", "));
            }
        }
        Command::Verify { genesis } => {
            let (g, chain_id) = Genesis::read_verified(&genesis)
                .with_context(|| format!("genesis {} is refused", genesis.display()))?;
            println!(
                "genesis is valid: chain {chain_id}, {} founding agencies, all signed",
                g.content.agencies.len()
            );
        }
    }
    Ok(())
}
