//! The `caravan` command line (feature `client`). Key generation, signing and submitting transactions,
//! transaction status, fetching proof bundles (of transactions and of state keys), exporting
//! credit attestations as Verifiable Credentials, and verifying a bundle or a credential offline
//! against a genesis.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::bundle::{
    BundleVerifier, ProofBundle, Proven, StateFacts, TxFacts, VerifyError, printable_key,
    verify_bundle,
};
use crate::client::Client;
use crate::credential::{Credential, ProvenCredential, verify_credential};
use crate::genesis::Genesis;
use crate::ids::{Nonce, ParticipantId, TxId};
use crate::keys::{Keypair, read_key_file, write_key_file};
use crate::trade::documents::DocumentFields;
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
    /// SCO codes.
    Sco {
        #[command(subcommand)]
        command: ScoCommand,
    },
    /// Consignments.
    Consignment {
        #[command(subcommand)]
        command: ConsignmentCommand,
    },
    /// Trade documents: anchor with field commitments, disclose one field, check a disclosure.
    Doc {
        #[command(subcommand)]
        command: DocCommand,
    },
    /// Run the cross-validation rules locally on documents before submitting them.
    Check {
        /// Document key-field files (JSON, each with its "type"), in any order; transport
        /// documents count in the order given, as legs.
        files: Vec<PathBuf>,
    },
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
    /// Credit attestations as W3C Verifiable Credentials (application/vc).
    Credential {
        #[command(subcommand)]
        command: CredentialCommand,
    },
    /// Follow a node's checkpoints like a transparency-log monitor: check each one from the
    /// genesis (through the certified validator-set changes) and against the last one kept
    /// (Merkle consistency proof); report a fork with both signed checkpoints and exit 3.
    Follow {
        /// Node API URL.
        #[arg(long)]
        node: String,
        /// The genesis file.
        #[arg(long)]
        genesis: PathBuf,
        /// Where the latest verified checkpoint is kept (default: follow-<chain id>.json in
        /// the current folder).
        #[arg(long)]
        state: Option<PathBuf>,
        /// Check once and exit.
        #[arg(long)]
        once: bool,
        /// Seconds between checks.
        #[arg(long, default_value_t = 5)]
        interval: u64,
        /// Also write fork evidence (JSON) to this file.
        #[arg(long)]
        evidence: Option<PathBuf>,
    },
    /// Verify proof bundles, or a credential, offline against a genesis file.
    ///
    /// Several files are verified together, the bundles' signatures checked in batches on all
    /// cores, 4,096 files at a time: one line each (or a JSON array), then how many verified.
    Verify {
        /// The bundle (CBOR or JSON), or a credential (JSON with an "@context"); or several of
        /// either.
        #[arg(required = true)]
        bundles: Vec<PathBuf>,
        /// The genesis file.
        #[arg(long)]
        genesis: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Who signs read requests.
#[derive(clap::Args)]
struct ReadAs {
    /// Node API URL.
    #[arg(long)]
    node: String,
    /// The participant signing the read request.
    #[arg(long = "as")]
    participant: ParticipantId,
    /// Its key file.
    #[arg(long)]
    key: PathBuf,
}

impl ReadAs {
    fn client(&self) -> anyhow::Result<Client> {
        Ok(Client::new(&self.node).signing_as(self.participant.clone(), read_key_file(&self.key)?))
    }
}

#[derive(Subcommand)]
enum ScoCommand {
    /// Show an SCO code's enterprise and credit summary.
    Show {
        /// The SCO code.
        code: String,
        #[command(flatten)]
        read: ReadAs,
    },
}

#[derive(Subcommand)]
enum ConsignmentCommand {
    /// Show a consignment's cross-validation report.
    Validate {
        /// The consignment reference (UCR).
        ucr: String,
        #[command(flatten)]
        read: ReadAs,
    },
}

#[derive(Subcommand)]
enum DocCommand {
    /// Hash a document, commit to its key fields with fresh salts, and anchor it.
    Anchor {
        /// The original document file (only its hash leaves this machine).
        file: PathBuf,
        /// Document type: invoice, declaration, transport, packing_list, certificate_of_origin, interchange_receipt.
        #[arg(long = "type")]
        kind: String,
        /// Its key fields (JSON).
        #[arg(long)]
        fields: PathBuf,
        /// The consignment it belongs to.
        #[arg(long)]
        consignment: Option<String>,
        /// The leg, for a transport document.
        #[arg(long)]
        leg: Option<u16>,
        /// Node API URL.
        #[arg(long)]
        node: String,
        /// The issuer's participant id.
        #[arg(long)]
        signer: ParticipantId,
        /// The issuer's key file.
        #[arg(long)]
        key: PathBuf,
        /// The issuer's nonce for this transaction.
        #[arg(long)]
        nonce: u64,
        /// The genesis file (for the chain id).
        #[arg(long)]
        genesis: PathBuf,
    },
    /// Disclose one field of a document with its proof.
    Disclose {
        /// The key fields (JSON) as anchored.
        #[arg(long)]
        fields: PathBuf,
        /// The salt seed file written by `doc anchor`.
        #[arg(long)]
        seed: PathBuf,
        /// The field's path, e.g. total.minor or lines[0].hs_code.
        #[arg(long)]
        path: String,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Check a disclosure against a document's anchored field-commitment root.
    VerifyDisclosure {
        /// The disclosure file.
        disclosure: PathBuf,
        /// The anchored fields root (hex), as `GET /v1/documents/{id}` shows it.
        #[arg(long)]
        root: String,
    },
}

fn read_fields(path: &std::path::Path) -> anyhow::Result<DocumentFields> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let fields: DocumentFields = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a document's key fields", path.display()))?;
    fields
        .validate()
        .with_context(|| format!("{} is not consistent", path.display()))?;
    Ok(fields)
}

fn print_report(report: &crate::trade::rules::Report) {
    println!("rule set version {}", report.rule_set_version);
    for line in report.lines() {
        println!("{line}");
    }
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
        /// Sign the read as this participant (proofs need a registered reader).
        #[arg(long = "as", requires = "key")]
        participant: Option<ParticipantId>,
        /// Its key file.
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Fetch the proof bundle of a state key's current value, or of its absence.
    State {
        /// The state key as text (`e/SCO-CN-000001-X`), or `hex:` and its hex.
        state_key: String,
        /// Output file (CBOR; JSON if it ends in .json).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        read: ReadAs,
    },
    /// Fetch the proof bundle of an SCO code's enterprise record, or of one of its credit
    /// attestations.
    Sco {
        /// The SCO code.
        code: String,
        /// The credit attestation's id (the id of the transaction that made it).
        #[arg(long)]
        attestation: Option<TxId>,
        /// Output file (CBOR; JSON if it ends in .json).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        read: ReadAs,
    },
}

/// Parses a state key given as text, or as `hex:` and its hex.
fn parse_state_key(text: &str) -> anyhow::Result<Vec<u8>> {
    match text.strip_prefix("hex:") {
        Some(h) => hex::decode(h).context("the key after hex: is not hex"),
        None => Ok(text.as_bytes().to_vec()),
    }
}

/// Writes a bundle as CBOR, or JSON when the file name ends in `.json`.
fn write_bundle(bundle: &ProofBundle, out: &std::path::Path, what: &str) -> anyhow::Result<()> {
    let bytes = if out.extension().is_some_and(|e| e == "json") {
        serde_json::to_vec_pretty(bundle)?
    } else {
        bundle.to_bytes()
    };
    std::fs::write(out, &bytes).with_context(|| format!("writing {}", out.display()))?;
    eprintln!(
        "bundle for {what} written to {} ({} bytes)",
        out.display(),
        bytes.len()
    );
    Ok(())
}

/// A state value for people: the record as JSON when the key's prefix names a record kind of
/// the sdk, an index entry's empty value as such, otherwise the bytes in hex.
pub fn describe_state_value(key: &[u8], value: &[u8]) -> String {
    use crate::trade::model::{Consignment, CreditAttestation, DocumentRecord, Enterprise, Lien};
    fn json<T>(value: &[u8]) -> Option<String>
    where
        T: for<'b> minicbor::Decode<'b, ()> + minicbor::Encode<()> + serde::Serialize,
    {
        let record: T = crate::codec::decode(value, crate::codec::MAX_BLOCK_BYTES).ok()?;
        serde_json::to_string_pretty(&record).ok()
    }
    let prefix = key.split(|b| *b == b'/').next().unwrap_or_default();
    let described = match prefix {
        _ if value.is_empty() => Some("(an index entry: present, with an empty value)".into()),
        b"e" => json::<Enterprise>(value),
        b"c" => json::<CreditAttestation>(value),
        b"d" => json::<DocumentRecord>(value),
        b"k" => json::<Consignment>(value),
        b"l" => json::<Lien>(value),
        b"ep" | b"el" => json::<String>(value),
        b"es" => json::<u64>(value),
        _ => None,
    };
    described.unwrap_or_else(|| format!("hex:{}", hex::encode(value)))
}

fn print_transaction(proven: &TxFacts) {
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
    println!("certified by {}", agencies(&proven.certified_by));
}

fn print_state(proven: &StateFacts) {
    println!("state key    {}", printable_key(&proven.key));
    match &proven.value {
        Some(value) => {
            let text = describe_state_value(&proven.key, value);
            let mut lines = text.lines();
            println!("value        {}", lines.next().unwrap_or_default());
            for line in lines {
                println!("             {line}");
            }
        }
        None => println!("value        absent (no value under this key)"),
    }
    println!(
        "as of        height {}, block {}, state root {}",
        proven.height, proven.block_id, proven.state_root
    );
    println!("certified by {}", agencies(&proven.certified_by));
}

fn agencies(list: &[crate::ids::AgencyId]) -> String {
    list.iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Subcommand)]
enum CredentialCommand {
    /// Export a credit attestation as a Verifiable Credential (application/vc) carrying its
    /// proof bundle; it is verified before it is written.
    Export {
        /// The attestation's proof bundle (CBOR or JSON), as `caravan proof get` writes it.
        #[arg(long, required_unless_present = "tx", conflicts_with_all = ["node", "tx"])]
        bundle: Option<PathBuf>,
        /// Node API URL, to fetch the bundle of --tx.
        #[arg(long, requires = "tx")]
        node: Option<String>,
        /// The attestation's transaction id, fetched from --node.
        #[arg(long, requires = "node")]
        tx: Option<TxId>,
        /// Sign the read as this participant (proofs need a registered reader).
        #[arg(long = "as", requires = "key")]
        participant: Option<ParticipantId>,
        /// Its key file.
        #[arg(long)]
        key: Option<PathBuf>,
        /// The genesis file (chain id, founding agencies' names).
        #[arg(long)]
        genesis: PathBuf,
        /// Output file; standard output if absent.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Where `credential export` takes the bundle from.
enum BundleSource {
    File(PathBuf),
    Node {
        node: String,
        tx: TxId,
        reader: Option<(ParticipantId, PathBuf)>,
    },
}

impl BundleSource {
    fn read(self) -> anyhow::Result<ProofBundle> {
        match self {
            BundleSource::File(path) => {
                let bytes =
                    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                ProofBundle::parse(&bytes)
                    .with_context(|| format!("{} is not a proof bundle", path.display()))
            }
            BundleSource::Node { node, tx, reader } => {
                let mut client = Client::new(&node);
                if let Some((participant, key)) = reader {
                    client = client.signing_as(participant, read_key_file(&key)?);
                }
                Ok(client.proof(&tx)?)
            }
        }
    }
}

/// `caravan credential export`: builds the credential, verifies it, writes it.
fn export_credential(
    source: BundleSource,
    genesis: &std::path::Path,
    out: Option<PathBuf>,
) -> anyhow::Result<()> {
    let genesis = Genesis::read(genesis)?;
    let bundle = source.read()?;
    let credential = Credential::from_bundle(&genesis, &bundle)?;
    let proven = verify_credential(&genesis, &credential)
        .context("the exported credential does not verify")?;
    let text = credential.to_json_pretty();
    match &out {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
            eprintln!(
                "credential {} ({}) written to {}",
                credential.id,
                crate::credential::MEDIA_TYPE,
                path.display()
            );
        }
        None => print!("{text}"),
    }
    eprintln!(
        "{} attests {} about {}; verified against the genesis",
        proven.issuer,
        serde_json::to_string(&proven.record)?,
        proven.sco_code
    );
    Ok(())
}

/// Prints what a verified credential proves.
fn print_credential(proven: &ProvenCredential, genesis: &Genesis) {
    let b = &proven.bundle;
    println!("VERIFIED credential {}", proven.credential_id);
    println!(
        "issuer       {}{} ({})",
        proven.issuer,
        proven
            .issuer_name
            .as_ref()
            .map(|name| format!(" — {name}"))
            .unwrap_or_default(),
        b.signer_key_source
    );
    println!("subject      SCO code {}", proven.sco_code);
    println!(
        "claim        {}",
        serde_json::to_string(&proven.record).unwrap_or_default()
    );
    println!(
        "valid        from {}{}",
        proven.valid_from,
        proven
            .valid_until
            .map(|until| format!(" until {until}"))
            .unwrap_or_else(|| ", no end date".into())
    );
    println!("evidence     {}", proven.evidence_hash);
    println!("attestation  {}", b.tx_id);
    println!("block        {} at height {}", b.block_id, b.height);
    println!("log          position {} of {}", b.log_index, b.log_size);
    println!(
        "certified by {}",
        b.certified_by
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("chain        {}", genesis.chain_id());
    println!(
        "revocation   not shown: the credential proves what was attested at height {}",
        b.height
    );
}

/// `caravan verify` of a credential file.
fn verify_credential_file(bytes: &[u8], genesis: &Genesis, json: bool) -> anyhow::Result<ExitCode> {
    match Credential::parse(bytes).and_then(|c| verify_credential(genesis, &c)) {
        Ok(proven) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&proven)?);
            } else {
                print_credential(&proven, genesis);
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("NOT VERIFIED: link '{}' failed", e.link());
            eprintln!("{e}");
            Ok(ExitCode::from(1))
        }
    }
}

/// Files `caravan verify` reads and verifies at a time when given several: the memory held is
/// bounded, and each group's lines are printed as soon as it is verified.
const FILES_AT_ONCE: usize = 4096;

/// `caravan verify` of several files: bundles, verified together
/// ([`BundleVerifier::verify_many`]), and credentials, verified one by one, read [`FILES_AT_ONCE`]
/// at a time. Prints one line per file on standard output, `VERIFIED` or `NOT VERIFIED` and the
/// error (which names its link), then how many verified; or, with `json`, an array of one object
/// per file. A file that cannot be read is one that did not verify. Succeeds when all verified.
fn verify_files(paths: &[PathBuf], genesis: &Genesis, json: bool) -> anyhow::Result<ExitCode> {
    let verifier = match BundleVerifier::new(genesis) {
        Ok(verifier) => verifier,
        Err(e) => {
            eprintln!("NOT VERIFIED: link '{}' failed", e.link());
            eprintln!("{e}");
            return Ok(ExitCode::from(1));
        }
    };
    let all = verify_files_to(
        &mut std::io::stdout().lock(),
        &verifier,
        paths,
        json,
        FILES_AT_ONCE,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    )?;
    Ok(if all {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// [`BundleVerifier::verify_many`] of `bundles`, split over `cores` threads.
fn verify_on_cores(
    verifier: &BundleVerifier<'_>,
    bundles: &[ProofBundle],
    cores: usize,
) -> Vec<Result<Proven, VerifyError>> {
    // Fewer than this many bundles per core are not worth a thread.
    const AT_LEAST: usize = 64;
    let per_core = bundles.len().div_ceil(cores.max(1)).max(AT_LEAST);
    if bundles.len() <= per_core {
        return verifier.verify_many(bundles);
    }
    std::thread::scope(|scope| {
        let threads: Vec<_> = bundles
            .chunks(per_core)
            .map(|chunk| scope.spawn(|| verifier.verify_many(chunk)))
            .collect();
        threads
            .into_iter()
            .flat_map(|thread| thread.join().expect("a verifying thread does not panic"))
            .collect()
    })
}

/// What one file of several proved, or why not.
enum FileVerdict {
    Bundle(Result<Proven, VerifyError>),
    Credential(Result<ProvenCredential, crate::credential::CredentialError>),
    Unreadable(std::io::Error),
}

/// [`verify_files`], writing to `out`, reading `at_once` files at a time and verifying their
/// bundles on `cores` threads; whether all verified.
fn verify_files_to(
    out: &mut impl std::io::Write,
    verifier: &BundleVerifier<'_>,
    paths: &[PathBuf],
    json: bool,
    at_once: usize,
    cores: usize,
) -> anyhow::Result<bool> {
    let mut verified = 0;
    let mut answered = 0;
    if json {
        write!(out, "[")?;
    }
    for group_paths in paths.chunks(at_once.max(1)) {
        // Per file: its verdict now (a credential, or not a bundle), or its bundle's turn.
        let mut bundles = Vec::new();
        let mut verdicts = Vec::with_capacity(group_paths.len());
        for path in group_paths {
            let bytes = match std::fs::read(path) {
                Ok(bytes) => bytes,
                Err(e) => {
                    verdicts.push(Some(FileVerdict::Unreadable(e)));
                    continue;
                }
            };
            verdicts.push(if Credential::is_credential(&bytes) {
                Some(FileVerdict::Credential(Credential::parse(&bytes).and_then(
                    |credential| {
                        crate::credential::verify_credential_traced(
                            verifier,
                            &credential,
                            &mut Vec::new(),
                        )
                    },
                )))
            } else {
                match ProofBundle::parse(&bytes) {
                    Ok(bundle) => {
                        bundles.push(bundle);
                        None
                    }
                    Err(e) => Some(FileVerdict::Bundle(Err(e))),
                }
            });
        }
        let mut answers = verify_on_cores(verifier, &bundles, cores).into_iter();
        for (path, verdict) in group_paths.iter().zip(verdicts) {
            let verdict = verdict.unwrap_or_else(|| {
                FileVerdict::Bundle(answers.next().expect("verify_many answers every bundle"))
            });
            let file = path.display().to_string();
            // What was proven (its line, and its JSON member), or the failed link and why (the
            // errors' messages name their links).
            let outcome = match verdict {
                FileVerdict::Bundle(Ok(proven)) => {
                    let mut what = Vec::new();
                    if let Some(tx) = &proven.transaction {
                        what.push(format!("transaction {} at height {}", tx.tx_id, tx.height));
                    }
                    if let Some(state) = &proven.state {
                        what.push(format!(
                            "state {} at height {}",
                            printable_key(&state.key),
                            state.height
                        ));
                    }
                    Ok((what.join(", "), "proven", serde_json::to_value(&proven)?))
                }
                FileVerdict::Credential(Ok(proven)) => Ok((
                    format!(
                        "credential {}, SCO code {}, issuer {}",
                        proven.credential_id, proven.sco_code, proven.issuer
                    ),
                    "credential",
                    serde_json::to_value(&proven)?,
                )),
                FileVerdict::Bundle(Err(e)) => Err((Some(e.link()), e.to_string())),
                FileVerdict::Credential(Err(e)) => Err((Some(e.link()), e.to_string())),
                FileVerdict::Unreadable(e) => Err((None, format!("cannot be read: {e}"))),
            };
            if json {
                let value = match &outcome {
                    Ok((_, member, proven)) => {
                        serde_json::json!({"file": file, "verified": true, *member: proven})
                    }
                    Err((link, error)) => serde_json::json!(
                        {"file": file, "verified": false, "link": link, "error": error}
                    ),
                };
                let comma = if answered == 0 { "" } else { "," };
                write!(out, "{comma}\n{}", serde_json::to_string_pretty(&value)?)?;
            } else {
                match &outcome {
                    Ok((line, _, _)) => writeln!(out, "VERIFIED      {file}  {line}")?,
                    Err((_, error)) => writeln!(out, "NOT VERIFIED  {file}  {error}")?,
                }
            }
            answered += 1;
            verified += usize::from(outcome.is_ok());
        }
        out.flush()?;
    }
    if json {
        writeln!(out, "\n]")?;
    } else {
        writeln!(
            out,
            "{verified} of {} verified, chain {}",
            paths.len(),
            verifier.chain_id()
        )?;
    }
    Ok(verified == paths.len())
}

/// How to follow a node.
struct FollowOptions {
    node: String,
    genesis: PathBuf,
    state: Option<PathBuf>,
    once: bool,
    interval: std::time::Duration,
    evidence: Option<PathBuf>,
}

/// Exit code of `caravan follow` when it finds a fork.
const EXIT_FORK: u8 = 3;

/// One round of `caravan follow`: the step, or the evidence of a fork.
type FollowRound =
    Result<(crate::follow::Step, crate::api::Checkpoint), crate::follow::ForkEvidence>;

/// Fetches the node's checkpoint and validator-set changes and checks them against `kept`.
fn follow_round(
    client: &Client,
    genesis: &Genesis,
    chain_id: crate::ids::ChainId,
    kept: Option<&crate::api::Checkpoint>,
) -> anyhow::Result<FollowRound> {
    use crate::bundle::{ValidatorHistory, verify_certified_header};
    use crate::follow::{FollowError, check};

    let shown = client.checkpoint()?;
    let changes = client.validator_changes()?;
    let mut history = ValidatorHistory::from_genesis(genesis, chain_id);
    history
        .follow(&changes)
        .context("the node's validator-set changes do not verify from the genesis")?;
    if let Some(k) = kept
        && let Err(e) = verify_certified_header(&history, &k.header, &k.certificate)
    {
        anyhow::bail!(
            "the kept checkpoint at height {} does not verify under the node's validator-set changes (was the state file altered?): {e}",
            k.header.height
        );
    }
    let proof = match kept {
        Some(k)
            if shown.header.height > k.header.height
                && shown.header.log_size >= k.header.log_size =>
        {
            Some(client.consistency(k.header.log_size, shown.header.log_size)?)
        }
        _ => None,
    };
    match check(&history, kept, &shown, proof.as_ref()) {
        Ok(step) => Ok(Ok((step, shown))),
        Err(FollowError::Fork(evidence)) => Ok(Err(*evidence)),
        Err(e) => Err(e.into()),
    }
}

/// `caravan follow`: checks the node's checkpoints until stopped (or once), keeping the latest
/// verified one in a file.
fn follow_node(options: &FollowOptions) -> anyhow::Result<ExitCode> {
    use crate::follow::Step;

    let genesis = Genesis::read(&options.genesis)?;
    let chain_id = genesis.verify()?;
    let state_path = options
        .state
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("follow-{}.json", &chain_id.to_string()[..16])));
    let mut kept: Option<crate::api::Checkpoint> = match std::fs::read(&state_path) {
        Ok(bytes) => Some(
            serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not a kept checkpoint", state_path.display()))?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", state_path.display())),
    };
    let client = Client::new(&options.node);
    loop {
        match follow_round(&client, &genesis, chain_id, kept.as_ref()) {
            Ok(Ok((step, shown))) => {
                let h = &shown.header;
                let signers = shown.certificate.signatures.len();
                match step {
                    Step::First => println!(
                        "checkpoint   height {} log {} block {} ({signers} precommits): first, kept",
                        h.height,
                        h.log_size,
                        h.id()
                    ),
                    Step::Unchanged => println!("checkpoint   height {}: unchanged", h.height),
                    Step::Extended { from, to } => println!(
                        "checkpoint   height {to} log {} block {} ({signers} precommits): extends height {from} (consistency proof checked), kept",
                        h.log_size,
                        h.id()
                    ),
                    Step::Behind { height } => {
                        println!("checkpoint   height {height}: the node is behind the kept one")
                    }
                }
                if matches!(step, Step::First | Step::Extended { .. }) {
                    let tmp = state_path.with_extension("json.tmp");
                    std::fs::write(&tmp, serde_json::to_string_pretty(&shown)? + "\n")
                        .with_context(|| format!("writing {}", tmp.display()))?;
                    std::fs::rename(&tmp, &state_path)
                        .with_context(|| format!("writing {}", state_path.display()))?;
                    kept = Some(shown);
                }
            }
            Ok(Err(evidence)) => {
                let json = serde_json::to_string_pretty(&evidence)?;
                println!("FORK EVIDENCE: {}", evidence.reason);
                println!("{json}");
                if let Some(path) = &options.evidence {
                    std::fs::write(path, json + "\n")
                        .with_context(|| format!("writing {}", path.display()))?;
                    eprintln!("evidence written to {}", path.display());
                }
                return Ok(ExitCode::from(EXIT_FORK));
            }
            Err(e) if options.once => return Err(e),
            Err(e) => eprintln!("check failed (will retry): {e:#}"),
        }
        if options.once {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(options.interval);
    }
}

fn run() -> anyhow::Result<ExitCode> {
    match Cli::parse().command {
        Command::Sco {
            command: ScoCommand::Show { code, read },
        } => {
            let view = read.client()?.sco(&code)?;
            let s = &view.summary;
            println!("{} — {}", s.sco_code, s.name);
            println!("participant  {}", view.enterprise.participant);
            println!("as of        {} (height {})", s.as_of, view.height);
            for g in &s.customs_grades {
                println!("grade        {:?} by {}", g.grade, g.issuer);
            }
            println!(
                "AEO          {} (recognised by {:?})",
                s.aeo,
                s.aeo_recognised_by
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
            );
            println!(
                "violations   {}; unpaid tax {}; payment defaults {}",
                s.violations, s.unpaid_tax, s.payment_defaults
            );
            println!(
                "history      {} consignments ({} clean), {} open discrepancies, {} active liens",
                s.history.consignments,
                s.history.clean,
                s.history.open_discrepancies,
                s.history.active_liens
            );
            println!("standing     {}", s.standing);
            for a in &view.attestations {
                let state = if a.revoked.is_some() {
                    "revoked"
                } else {
                    "live"
                };
                println!(
                    "attestation  {} {state} by {}: {}",
                    a.id,
                    a.issuer,
                    serde_json::to_string(&a.record)?
                );
            }
        }
        Command::Consignment {
            command: ConsignmentCommand::Validate { ucr, read },
        } => {
            let view = read.client()?.validation(&ucr)?;
            println!("consignment  {}", view.ucr);
            match &view.report {
                Some(report) => {
                    if let Some(hash) = view.report_hash {
                        println!("report       {hash}");
                    }
                    print_report(report);
                    for a in &view.attestations {
                        println!(
                            "attested     by {}: {}",
                            a.agency,
                            serde_json::to_string(&a.decision)?
                        );
                    }
                    if !report.failed().is_empty() {
                        return Ok(ExitCode::from(1));
                    }
                }
                None => println!("no documents yet"),
            }
        }
        Command::Check { files } => {
            use crate::trade::rules::{ConsignmentDocuments, RuleParams, validate};
            let all: Vec<DocumentFields> = files
                .iter()
                .map(|f| read_fields(f))
                .collect::<anyhow::Result<_>>()?;
            let mut docs = ConsignmentDocuments::default();
            for fields in &all {
                match fields {
                    DocumentFields::Invoice(f) => docs.invoice = Some(f),
                    DocumentFields::Declaration(f) => docs.declaration = Some(f),
                    DocumentFields::Transport(f) => docs.transport.push(f),
                    DocumentFields::PackingList(f) => docs.packing_list = Some(f),
                    DocumentFields::CertificateOfOrigin(f) => docs.certificate_of_origin = Some(f),
                    DocumentFields::InterchangeReceipt(f) => docs.interchange_receipts.push(f),
                }
            }
            let report = validate(&docs, &RuleParams::default());
            print_report(&report);
            if !report.failed().is_empty() {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Doc { command } => match command {
            DocCommand::Anchor {
                file,
                kind,
                fields,
                consignment,
                leg,
                node,
                signer,
                key,
                nonce,
                genesis,
            } => {
                let fields = read_fields(&fields)?;
                if fields.kind_name() != kind {
                    anyhow::bail!(
                        "--type {kind} but the fields file holds a {}",
                        fields.kind_name()
                    );
                }
                let (_, chain_id) = Genesis::read_verified(&genesis)?;
                let content =
                    std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
                let content_hash = crate::hash::hash(crate::hash::Domain::Content, &content);
                let seed_key = Keypair::generate()?;
                let seed = seed_key.seed();
                let seed_path = file.with_extension("caravan-seed");
                write_key_file(&seed_path, "field-salt-seed", &seed_key)?;
                let fields_root = crate::trade::commitments::fields_root(&fields, &seed);
                let tx = UnsignedTx {
                    chain_id,
                    signer,
                    nonce: Nonce(nonce),
                    body: Body::AnchorDocument {
                        consignment,
                        leg,
                        content_hash,
                        fields_root,
                        fields: Box::new(fields),
                    },
                }
                .sign(&read_key_file(&key)?);
                eprintln!(
                    "content hash {content_hash}; fields root {fields_root}; salt seed kept in {} (0600)",
                    seed_path.display()
                );
                let status = Client::new(&node).submit(&tx, true)?;
                println!("{}", serde_json::to_string_pretty(&status)?);
            }
            DocCommand::Disclose {
                fields,
                seed,
                path,
                out,
            } => {
                let fields = read_fields(&fields)?;
                let seed = read_key_file(&seed)?.seed();
                let disclosure = crate::trade::commitments::disclose(&fields, &seed, &path)?;
                std::fs::write(&out, serde_json::to_string_pretty(&disclosure)? + "\n")?;
                eprintln!(
                    "disclosed {path} = {} to {}",
                    disclosure.value,
                    out.display()
                );
            }
            DocCommand::VerifyDisclosure { disclosure, root } => {
                let text = std::fs::read_to_string(&disclosure)
                    .with_context(|| format!("reading {}", disclosure.display()))?;
                let d: crate::trade::commitments::Disclosure = serde_json::from_str(&text)?;
                let root = crate::hash::Digest::from_hex(&root)?;
                match d.verify(&root) {
                    Ok(()) => println!("VERIFIED {} = {} under root {root}", d.path, d.value),
                    Err(e) => {
                        eprintln!("NOT VERIFIED: {e}");
                        return Ok(ExitCode::from(1));
                    }
                }
            }
        },
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
            command:
                ProofCommand::Get {
                    node,
                    id,
                    out,
                    participant,
                    key,
                },
        } => {
            let mut client = Client::new(&node);
            if let (Some(participant), Some(key)) = (participant, key) {
                client = client.signing_as(participant, read_key_file(&key)?);
            }
            let bundle = client.proof(&id)?;
            write_bundle(&bundle, &out, &id.to_string())?;
        }
        Command::Proof {
            command:
                ProofCommand::State {
                    state_key,
                    out,
                    read,
                },
        } => {
            let key = parse_state_key(&state_key)?;
            let bundle = read.client()?.state_proof(&key)?;
            write_bundle(&bundle, &out, &format!("state key {state_key}"))?;
        }
        Command::Proof {
            command:
                ProofCommand::Sco {
                    code,
                    attestation,
                    out,
                    read,
                },
        } => {
            let bundle = read.client()?.sco_proof(&code, attestation.as_ref())?;
            write_bundle(&bundle, &out, &format!("SCO code {code}"))?;
        }
        Command::Credential {
            command:
                CredentialCommand::Export {
                    bundle,
                    node,
                    tx,
                    participant,
                    key,
                    genesis,
                    out,
                },
        } => {
            let source = match (bundle, node, tx) {
                (Some(path), _, _) => BundleSource::File(path),
                (None, Some(node), Some(tx)) => BundleSource::Node {
                    node,
                    tx,
                    reader: participant.zip(key),
                },
                _ => anyhow::bail!("give --bundle FILE, or --node URL and --tx ID"),
            };
            export_credential(source, &genesis, out)?;
        }
        Command::Follow {
            node,
            genesis,
            state,
            once,
            interval,
            evidence,
        } => {
            let options = FollowOptions {
                node,
                genesis,
                state,
                once,
                interval: std::time::Duration::from_secs(interval.max(1)),
                evidence,
            };
            return follow_node(&options);
        }
        Command::Verify {
            bundles,
            genesis,
            json,
        } => {
            let genesis = Genesis::read(&genesis)?;
            let [bundle] = bundles.as_slice() else {
                return verify_files(&bundles, &genesis, json);
            };
            let bytes =
                std::fs::read(bundle).with_context(|| format!("reading {}", bundle.display()))?;
            if Credential::is_credential(&bytes) {
                return verify_credential_file(&bytes, &genesis, json);
            }
            let result = ProofBundle::parse(&bytes).and_then(|b| verify_bundle(&genesis, &b));
            return match result {
                Ok(proven) => {
                    if json {
                        println!("{}", serde_json::to_string_pretty(&proven)?);
                    } else {
                        println!("VERIFIED");
                        if let Some(transaction) = &proven.transaction {
                            print_transaction(transaction);
                        }
                        if let Some(state) = &proven.state {
                            print_state(state);
                        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::tests::sample_bundle;

    #[test]
    fn several_files_are_verified_in_groups_each_answered_in_its_place() {
        let (genesis, bundle, _) = sample_bundle();
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).expect("write");
            path
        };
        let good = write("good.cbor", &bundle.to_bytes());
        let good_json = write(
            "good.json",
            &serde_json::to_vec(&bundle).expect("a bundle as JSON"),
        );
        let mut damaged = bundle.clone();
        damaged
            .item
            .as_mut()
            .expect("a transaction bundle")
            .transaction
            .signature
            .0[7] ^= 1;
        let tampered = write("tampered.cbor", &damaged.to_bytes());
        let garbage = write("garbage.cbor", b"not a bundle");
        let paths = [
            good.clone(),
            tampered,
            good_json.clone(),
            garbage,
            good.clone(),
        ];
        let expected = [true, false, true, false, true];
        let verifier = BundleVerifier::new(&genesis).expect("genesis");
        // One group per file, groups of two (a bundle alone in the last), one group.
        for at_once in [1, 2, 5, 100] {
            let mut out = Vec::new();
            let all =
                verify_files_to(&mut out, &verifier, &paths, false, at_once, 1).expect("runs");
            assert!(!all, "groups of {at_once}");
            let text = String::from_utf8(out).expect("utf-8");
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), paths.len() + 1, "{text}");
            for ((line, ok), path) in lines.iter().zip(expected).zip(&paths) {
                let verdict = if ok { "VERIFIED " } else { "NOT VERIFIED " };
                assert!(line.starts_with(verdict), "groups of {at_once}: {text}");
                assert!(line.contains(&path.display().to_string()), "{text}");
            }
            assert!(lines[1].contains("link 'signature' failed"), "{text}");
            assert!(lines[3].contains("link 'encoding' failed"), "{text}");
            assert_eq!(
                lines[5],
                format!("3 of 5 verified, chain {}", genesis.chain_id())
            );

            let mut out = Vec::new();
            verify_files_to(&mut out, &verifier, &paths, true, at_once, 1).expect("runs");
            let report: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
            let report = report.as_array().expect("an array");
            let verdicts: Vec<bool> = report
                .iter()
                .map(|file| file["verified"].as_bool().expect("verified"))
                .collect();
            assert_eq!(verdicts, expected, "groups of {at_once}");
            assert_eq!(report[1]["link"], "signature");
            assert_eq!(report[3]["link"], "encoding");
        }
        // Enough bundles to be split over cores: the same files named many times, in an order
        // without a period, so that every answer's place matters.
        let order: Vec<usize> = (0..1_000usize).map(|i| (i * i / 3 + i / 7) % 5).collect();
        let many: Vec<PathBuf> = order.iter().map(|&i| paths[i].clone()).collect();
        for cores in [2, 3] {
            let mut out = Vec::new();
            verify_files_to(&mut out, &verifier, &many, false, FILES_AT_ONCE, cores).expect("runs");
            let text = String::from_utf8(out).expect("utf-8");
            let verdicts: Vec<bool> = text
                .lines()
                .take(many.len())
                .map(|line| line.starts_with("VERIFIED "))
                .collect();
            let wanted: Vec<bool> = order.iter().map(|&i| expected[i]).collect();
            assert_eq!(verdicts, wanted);
            let good_ones = wanted.iter().filter(|ok| **ok).count();
            let summary = format!(
                "{good_ones} of 1000 verified, chain {}\n",
                genesis.chain_id()
            );
            assert!(text.ends_with(&summary), "{text}");
        }
        let all = verify_files_to(
            &mut Vec::new(),
            &verifier,
            &[good.clone(), good_json],
            true,
            1,
            1,
        );
        assert!(all.expect("runs"));
        // A file that cannot be read is one that did not verify; the others are still answered,
        // and the JSON report stays whole.
        let missing = dir.path().join("missing.cbor");
        let files = [missing.clone(), good];
        let mut out = Vec::new();
        let all = verify_files_to(&mut out, &verifier, &files, false, 1, 1).expect("runs");
        assert!(!all);
        let text = String::from_utf8(out).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("NOT VERIFIED")
                && lines[0].contains("missing.cbor")
                && lines[0].contains("cannot be read"),
            "{text}"
        );
        assert!(lines[1].starts_with("VERIFIED "), "{text}");
        assert!(lines[2].starts_with("1 of 2 verified"), "{text}");
        let mut out = Vec::new();
        verify_files_to(&mut out, &verifier, &files, true, 1, 1).expect("runs");
        let report: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
        assert_eq!(report[0]["verified"], false);
        assert!(report[0]["link"].is_null());
        assert_eq!(report[1]["verified"], true);
    }
}
