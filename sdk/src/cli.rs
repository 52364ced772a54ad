//! The `caravan` command line (feature `client`). Key generation, signing and submitting transactions,
//! transaction status, fetching proof bundles, and verifying a bundle offline against a genesis.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::bundle::{ProofBundle, verify_bundle};
use crate::client::Client;
use crate::genesis::Genesis;
use crate::ids::{Nonce, ParticipantId, TxId};
use crate::keys::{Keypair, read_key_file, write_key_file};
use crate::tx::{Body, SignedTx, UnsignedTx};

/// Caravan: verify trade records offline, submit signed records to a node.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Key management.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Sign and submit a transaction.
    Submit {
        /// Node API URL.
        #[arg(long)]
        node: String,
        /// The signer's participant id.
        #[arg(long)]
        signer: ParticipantId,
        /// The signer's key file.
        #[arg(long)]
        key: PathBuf,
        /// The signer's nonce for this transaction (each usable once).
        #[arg(long)]
        nonce: u64,
        /// The transaction body as JSON, e.g. {"type":"anchor_record","kind":"commercial_invoice","document_hash":"...","metadata":[["number","INV-1"]]}
        #[arg(long)]
        body: String,
        /// The chain id (from `caravan-genesis verify`, or read from --genesis).
        #[arg(long, conflicts_with = "genesis")]
        chain_id: Option<String>,
        /// A genesis file to take the chain id from.
        #[arg(long)]
        genesis: Option<PathBuf>,
        /// Return at once instead of waiting until the transaction is committed.
        #[arg(long)]
        no_wait: bool,
    },
    /// Transactions.
    Tx {
        #[command(subcommand)]
        command: TxCommand,
    },
    /// Proof bundles.
    Proof {
        #[command(subcommand)]
        command: ProofCommand,
    },
    /// Verify a proof bundle offline against a genesis file.
    Verify {
        /// The bundle (CBOR or JSON).
        bundle: PathBuf,
        /// The genesis file.
        #[arg(long)]
        genesis: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Generate a key file (mode 0600) and print its public key.
    New {
        /// Where to write it (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum TxCommand {
    /// Where a transaction stands.
    Status {
        /// Node API URL.
        #[arg(long)]
        node: String,
        /// Transaction id.
        id: TxId,
    },
}

#[derive(Subcommand)]
enum ProofCommand {
    /// Fetch a committed transaction's proof bundle.
    Get {
        /// Node API URL.
        #[arg(long)]
        node: String,
        /// Transaction id.
        id: TxId,
        /// Output file (CBOR; JSON if it ends in .json).
        #[arg(long)]
        out: PathBuf,
    },
}

fn run() -> anyhow::Result<ExitCode> {
    match Cli::parse().command {
        Command::Keys {
            command: KeysCommand::New { out },
        } => {
            let key = Keypair::generate()?;
            write_key_file(&out, "participant", &key)?;
            println!("{}", key.public());
            eprintln!(
                "key written to {} (mode 0600); the line above is its public key",
                out.display()
            );
        }
        Command::Submit {
            node,
            signer,
            key,
            nonce,
            body,
            chain_id,
            genesis,
            no_wait,
        } => {
            let chain_id = match (chain_id, genesis) {
                (Some(text), _) => text.parse().context("--chain-id")?,
                (None, Some(path)) => Genesis::read_verified(&path)?.1,
                (None, None) => anyhow::bail!("give --genesis FILE or --chain-id ID"),
            };
            let body: Body =
                serde_json::from_str(&body).context("--body is not a transaction body")?;
            body.validate()?;
            let key = read_key_file(&key)?;
            let tx: SignedTx = UnsignedTx {
                chain_id,
                signer,
                nonce: Nonce(nonce),
                body,
            }
            .sign(&key);
            eprintln!("submitting {}", tx.id());
            let status = Client::new(&node).submit(&tx, !no_wait)?;
            println!("{}", serde_json::to_string_pretty(&status)?);
        }
        Command::Tx {
            command: TxCommand::Status { node, id },
        } => {
            let status = Client::new(&node).tx_status(&id)?;
            println!("{}", serde_json::to_string_pretty(&status)?);
        }
        Command::Proof {
            command: ProofCommand::Get { node, id, out },
        } => {
            let bundle = Client::new(&node).proof(&id)?;
            let bytes = if out.extension().is_some_and(|e| e == "json") {
                serde_json::to_vec_pretty(&bundle)?
            } else {
                bundle.to_bytes()
            };
            std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
            eprintln!(
                "bundle for {id} written to {} ({} bytes)",
                out.display(),
                bytes.len()
            );
        }
        Command::Verify {
            bundle,
            genesis,
            json,
        } => {
            let genesis = Genesis::read(&genesis)?;
            let bytes =
                std::fs::read(&bundle).with_context(|| format!("reading {}", bundle.display()))?;
            let result = ProofBundle::parse(&bytes).and_then(|b| verify_bundle(&genesis, &b));
            return match result {
                Ok(proven) => {
                    if json {
                        println!("{}", serde_json::to_string_pretty(&proven)?);
                    } else {
                        println!("VERIFIED");
                        println!("transaction  {}", proven.tx_id);
                        println!(
                            "signer       {} ({})",
                            proven.signer, proven.signer_key_source
                        );
                        println!("outcome      {:?}", proven.outcome);
                        match &proven.body {
                            Body::AnchorRecord {
                                kind,
                                document_hash,
                                metadata,
                            } => {
                                println!("record       {kind}, document hash {document_hash}");
                                for (k, v) in metadata {
                                    println!("             {k} = {v}");
                                }
                            }
                            Body::RegisterParticipant {
                                id, name, roles, ..
                            } => {
                                println!("registers    {id} ({name}), roles {roles:?}");
                            }
                            other => {
                                println!(
                                    "body         {}",
                                    serde_json::to_string(other).unwrap_or_default()
                                );
                            }
                        }
                        println!(
                            "block        {} at height {}",
                            proven.block_id, proven.height
                        );
                        println!(
                            "log          position {} of {}",
                            proven.log_index, proven.log_size
                        );
                        println!(
                            "certified by {}",
                            proven
                                .certified_by
                                .iter()
                                .map(|a| a.to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        );
                        println!("chain        {}", genesis.chain_id());
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("NOT VERIFIED: link '{}' failed", e.link());
                    eprintln!("{e}");
                    Ok(ExitCode::from(1))
                }
            };
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Entry point of the `caravan` executable.
pub fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
