//! The central-database baseline of the load benchmark: what a user would otherwise pick. The
//! same signed records the federation receives are decoded, each signature checked, and the
//! accepted records inserted into one PostgreSQL table on the same machine, one durable commit
//! per batch; the load report gives the federation's throughput as a ratio to this one.
//!
//! How it runs, and why:
//! - The server is a cluster of its own, made and started by `scripts/postgres` (which installs
//!   Debian's `postgresql` package when PostgreSQL is missing, and says so), listening on
//!   loopback, with `fsync` and `synchronous_commit` on: as durable as the ledger. The baseline
//!   refuses to run against a server where either is off.
//! - The application verifies each signature on its own (`SignedTx::verify_signature`), as a
//!   central service checking one record at a time would. A record that does not decode, whose
//!   signer has no key, whose signature does not verify, or whose nonce does not fit the
//!   table's `bigint`, is counted as rejected and not inserted.
//! - Verification runs on one thread per core, sharing the cores with psql and the PostgreSQL
//!   backend: inserting takes a small part of a core at these rates (about 20 us a record,
//!   much of it waiting on fsync), so keeping a whole core away from verification would make
//!   the baseline weaker than a sensible application. Verifier threads take `batch`
//!   consecutive records at a time and turn the accepted ones into `COPY` text; a bounded
//!   channel hands the batches to one writer thread, so verification and insertion overlap
//!   and verification never runs more than two batches per thread ahead of the database.
//! - The writer feeds one long-lived `psql` session (no database driver in the build):
//!   `BEGIN; COPY records FROM STDIN; ... COMMIT;` per batch, then an `\echo` marker. psql
//!   prints the marker only once the `COMMIT` has returned, so only durable commits count.
//! - The time runs from the first record handed to verification to the last commit
//!   acknowledged; starting the server and creating the table are not counted. Afterwards the
//!   table's row count is checked against the acknowledged commits.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, BufWriter, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::Instant;

use anyhow::{Context as _, anyhow, bail, ensure};
use serde::Serialize;

use caravan_sdk::codec;
use caravan_sdk::hash::Digest;
use caravan_sdk::ids::{ChainId, Nonce, ParticipantId};
use caravan_sdk::keys::{Keypair, PublicKey};
use caravan_sdk::tx::{Body, SignedTx, UnsignedTx};

/// Records per transaction (one durable commit each) unless the caller says otherwise.
pub const BATCH_RECORDS_DEFAULT: usize = 1_000;

/// The table the baseline fills; replaced at every run.
const CREATE_TABLE: &str = "SET client_min_messages = warning; \
     DROP TABLE IF EXISTS records; \
     CREATE TABLE records (tx_id bytea PRIMARY KEY, signer text NOT NULL, \
     nonce bigint NOT NULL, body bytea NOT NULL, signature bytea NOT NULL);";

/// What psql prints once the server has answered the connection.
const MARKER_READY: &str = "caravan-baseline-ready";
/// What psql prints after each batch's `COMMIT` returned, followed by the batch's row count.
const MARKER_COMMITTED: &str = "caravan-baseline-committed ";

/// What one baseline run achieved.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BaselineReport {
    /// Records verified, inserted and durably committed.
    pub records: u64,
    /// Records refused (undecodable, unknown signer, bad signature, nonce out of range).
    pub rejected: u64,
    /// Seconds from the first record verified to the last commit acknowledged.
    pub seconds: f64,
    /// `records / seconds`.
    pub tx_s: f64,
    /// Records per transaction.
    pub batch_records: usize,
    /// Transactions committed.
    pub batches: u64,
    /// Threads verifying signatures.
    pub verify_threads: usize,
    /// The server's `server_version`.
    pub server_version: String,
}

/// The script that installs, starts and stops the baseline's PostgreSQL server.
pub fn script_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/postgres")
}

/// Starts a PostgreSQL cluster of its own in a temporary folder, runs [`insert`], checks and
/// stops. `progress` receives the number of records durably committed so far.
pub fn run(
    records: &[Vec<u8>],
    keys: &HashMap<ParticipantId, PublicKey>,
    batch: usize,
    progress: impl FnMut(u64),
) -> anyhow::Result<BaselineReport> {
    let dir = tempfile::Builder::new()
        .prefix("caravan-baseline-")
        .tempdir()
        .context("creating a folder for the baseline's PostgreSQL cluster")?;
    let server = Postgres::start(dir.path())?;
    let report = insert(&server, records, keys, batch, progress)?;
    server.stop()?;
    Ok(report)
}

/// A PostgreSQL server started by `scripts/postgres`; stopped when dropped.
#[derive(Debug)]
pub struct Postgres {
    dir: PathBuf,
    script: PathBuf,
    uri: String,
    running: bool,
}

impl Postgres {
    /// Makes (the first time) and starts a cluster in `dir`, installing PostgreSQL if it is
    /// missing. The script's messages are passed on to stderr as they come.
    pub fn start(dir: &Path) -> anyhow::Result<Self> {
        let script = script_path();
        ensure!(
            script.is_file(),
            "expected the PostgreSQL script at {}, found nothing",
            script.display()
        );
        let mut child = Command::new(&script)
            .arg("start")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("running {} start", script.display()))?;
        // The script writes one line on stdout and everything else on stderr: pass stderr on
        // live (an installation takes a while and must be seen), keeping it for the error.
        let mut messages = Vec::new();
        if let Some(stderr) = child.stderr.take() {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("{line}");
                messages.push(line);
            }
        }
        let mut uri = String::new();
        if let Some(mut stdout) = child.stdout.take() {
            stdout.read_to_string(&mut uri).ok();
        }
        let status = child.wait().context("waiting for scripts/postgres start")?;
        if !status.success() {
            bail!(
                "could not start PostgreSQL for the baseline ({} start {} exited with {status}):\n{}",
                script.display(),
                dir.display(),
                tail(&messages, 20)
            );
        }
        let uri = uri.trim().to_string();
        ensure!(
            uri.starts_with("postgresql://"),
            "expected a postgresql:// URI from scripts/postgres start, found {uri:?}"
        );
        Ok(Postgres {
            dir: dir.to_path_buf(),
            script,
            uri,
            running: true,
        })
    }

    /// The connection URI (the password stays in a file the URI names).
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The cluster's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A `psql` command connected to the baseline's database; add psql's arguments.
    pub fn psql(&self) -> Command {
        let mut command = Command::new(&self.script);
        command.arg("psql").arg(&self.dir);
        command
    }

    /// Runs `sql` and returns its rows, unaligned, fields separated by `|`.
    pub fn query(&self, sql: &str) -> anyhow::Result<String> {
        let output = self
            .psql()
            .args([
                "-q",
                "-A",
                "-t",
                "-F",
                "|",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ])
            .stdin(Stdio::null())
            .output()
            .context("running psql")?;
        if !output.status.success() {
            bail!(
                "psql -c {sql:?} failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    }

    /// Stops the server.
    pub fn stop(mut self) -> anyhow::Result<()> {
        self.running = false;
        stop_server(&self.script, &self.dir)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.running
            && let Err(error) = stop_server(&self.script, &self.dir)
        {
            eprintln!("{error:#}");
        }
    }
}

fn stop_server(script: &Path, dir: &Path) -> anyhow::Result<()> {
    let output = Command::new(script)
        .arg("stop")
        .arg(dir)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {} stop", script.display()))?;
    if !output.status.success() {
        bail!(
            "could not stop the baseline's PostgreSQL server in {} ({}): {}",
            dir.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// Verifies `records` (canonical [`SignedTx`] bytes) against `keys` and inserts the accepted
/// ones into `server`'s `records` table (replaced first), `batch` records per transaction.
/// `progress` receives the number of records durably committed so far.
pub fn insert(
    server: &Postgres,
    records: &[Vec<u8>],
    keys: &HashMap<ParticipantId, PublicKey>,
    batch: usize,
    mut progress: impl FnMut(u64),
) -> anyhow::Result<BaselineReport> {
    ensure!(
        batch > 0,
        "expected a batch of at least one record, found 0"
    );
    let batch = batch.min(records.len().max(1));
    let settings = server.query(
        "select current_setting('fsync'), current_setting('synchronous_commit'), \
         current_setting('server_version')",
    )?;
    let fields: Vec<&str> = settings.splitn(3, '|').collect();
    let [fsync, synchronous_commit, server_version] = fields[..] else {
        bail!(
            "expected fsync|synchronous_commit|server_version from the server, found {settings:?}"
        );
    };
    ensure!(
        fsync == "on" && synchronous_commit == "on",
        "expected a durable server (fsync and synchronous_commit on), found fsync {fsync}, \
         synchronous_commit {synchronous_commit}"
    );
    let server_version = server_version.to_string();
    server.query(CREATE_TABLE)?;

    let mut psql = ChildGuard(
        server
            .psql()
            .args(["-q", "-v", "ON_ERROR_STOP=1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting psql")?,
    );
    let (Some(mut stdin), Some(stdout), Some(mut stderr)) = (
        psql.0.stdin.take(),
        psql.0.stdout.take(),
        psql.0.stderr.take(),
    ) else {
        bail!("psql was started without its pipes");
    };
    let mut stdout = BufReader::new(stdout);

    // Connected and answering before the clock starts.
    writeln!(stdin, "\\echo {MARKER_READY}")
        .and_then(|()| stdin.flush())
        .context("writing to psql")?;
    let mut line = String::new();
    loop {
        line.clear();
        if stdout.read_line(&mut line).context("reading psql")? == 0 {
            let mut messages = String::new();
            stderr.read_to_string(&mut messages).ok();
            bail!("psql could not connect: {}", messages.trim());
        }
        if line.trim_end() == MARKER_READY {
            break;
        }
    }

    let verify_threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let next = AtomicUsize::new(0);
    let (batches_tx, batches_rx) = sync_channel::<Batch>(2 * verify_threads);
    let started = Instant::now();
    let (committed, finished, written, messages) = std::thread::scope(|scope| {
        let next = &next;
        let verifiers: Vec<_> = (0..verify_threads)
            .map(|_| {
                let out = batches_tx.clone();
                scope.spawn(move || verify_batches(records, keys, batch, next, out))
            })
            .collect();
        drop(batches_tx);
        let writer = scope.spawn(move || write_batches(stdin, batches_rx));
        let errors = scope.spawn(move || {
            let mut text = String::new();
            stderr.read_to_string(&mut text).ok();
            text
        });

        // psql answers each batch once its COMMIT has returned.
        let mut committed = 0u64;
        let mut finished = started;
        for line in stdout.lines().map_while(Result::ok) {
            if let Some(rows) = line.strip_prefix(MARKER_COMMITTED)
                && let Ok(rows) = rows.trim().parse::<u64>()
            {
                committed += rows;
                finished = Instant::now();
                progress(committed);
            }
        }
        let panicked = verifiers
            .into_iter()
            .map(|verifier| verifier.join())
            .filter(Result::is_err)
            .count();
        let written = match writer.join() {
            Ok(written) if panicked == 0 => written.context("writing batches to psql"),
            Ok(_) | Err(_) => Err(anyhow!("a baseline thread panicked")),
        };
        let messages = errors.join().unwrap_or_default();
        (committed, finished, written, messages)
    });
    let status = psql.0.wait().context("waiting for psql")?;
    if !status.success() {
        bail!(
            "psql failed ({status}) after {committed} records committed: {}",
            messages.trim()
        );
    }
    let written = written?;
    ensure!(
        committed == written.records,
        "psql acknowledged {committed} of the {} records sent",
        written.records
    );
    let rows: u64 = server
        .query("select count(*) from records")?
        .parse()
        .context("reading the row count")?;
    ensure!(
        rows == committed,
        "expected {committed} rows in the records table, found {rows}"
    );
    let seconds = finished.duration_since(started).as_secs_f64();
    Ok(BaselineReport {
        records: committed,
        rejected: written.rejected,
        seconds,
        tx_s: if seconds > 0.0 {
            committed as f64 / seconds
        } else {
            0.0
        },
        batch_records: batch,
        batches: written.batches,
        verify_threads,
        server_version,
    })
}

/// Signed records with the keys that check them.
#[derive(Clone, Debug)]
pub struct SampleRecords {
    /// Canonical [`SignedTx`] bytes.
    pub records: Vec<Vec<u8>>,
    /// Each signer's public key.
    pub keys: HashMap<ParticipantId, PublicKey>,
}

/// `count` signed `AnchorRecord` transactions from `signers` seed-derived keys, in turn:
/// records for the baseline when no load run supplies them.
pub fn sample_records(count: usize, signers: usize) -> anyhow::Result<SampleRecords> {
    ensure!(signers > 0, "expected at least one signer, found 0");
    let mut ids = Vec::with_capacity(signers);
    let mut keypairs = Vec::with_capacity(signers);
    let mut keys = HashMap::with_capacity(signers);
    for i in 0..signers {
        let id = ParticipantId::new(format!("EXPORTER-{i}"))?;
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
        seed[8] = 0xba;
        let keypair = Keypair::from_seed(&seed);
        keys.insert(id.clone(), keypair.public());
        ids.push(id);
        keypairs.push(keypair);
    }
    let records = (0..count)
        .map(|n| {
            let signer = n % signers;
            let mut document = [0u8; 32];
            document[..8].copy_from_slice(&(n as u64).to_le_bytes());
            UnsignedTx {
                chain_id: ChainId(Digest::ZERO),
                signer: ids[signer].clone(),
                nonce: Nonce((n / signers) as u64 + 1),
                body: Body::AnchorRecord {
                    kind: "generic".into(),
                    document_hash: Digest(document),
                    metadata: vec![],
                },
            }
            .sign(&keypairs[signer])
            .to_bytes()
        })
        .collect();
    Ok(SampleRecords { records, keys })
}

/// Accepted records of one batch as `COPY` text.
struct Batch {
    copy: String,
    records: u64,
    rejected: u64,
}

/// What the writer sent.
struct Written {
    records: u64,
    rejected: u64,
    batches: u64,
}

/// Kills psql if the run ends early.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            self.0.kill().ok();
            self.0.wait().ok();
        }
    }
}

/// Takes `batch` records at a time until none are left; stops when the writer has gone.
fn verify_batches(
    records: &[Vec<u8>],
    keys: &HashMap<ParticipantId, PublicKey>,
    batch: usize,
    next: &AtomicUsize,
    out: SyncSender<Batch>,
) {
    loop {
        let start = next.fetch_add(batch, Ordering::Relaxed);
        if start >= records.len() {
            return;
        }
        let end = start.saturating_add(batch).min(records.len());
        let mut copy = String::with_capacity((end - start) * 512);
        let (mut accepted, mut rejected) = (0, 0);
        for record in &records[start..end] {
            if push_row(&mut copy, record, keys) {
                accepted += 1;
            } else {
                rejected += 1;
            }
        }
        let batch = Batch {
            copy,
            records: accepted,
            rejected,
        };
        if out.send(batch).is_err() {
            return;
        }
    }
}

/// Decodes and verifies one record and appends it to `copy` as a line of `COPY` text; false
/// when it is refused.
fn push_row(copy: &mut String, record: &[u8], keys: &HashMap<ParticipantId, PublicKey>) -> bool {
    let Ok(signed) = SignedTx::from_bytes(record) else {
        return false;
    };
    let Some(key) = keys.get(&signed.tx.signer) else {
        return false;
    };
    if signed.verify_signature(key).is_err() {
        return false;
    }
    let Ok(nonce) = i64::try_from(signed.tx.nonce.0) else {
        return false;
    };
    push_bytea(copy, &signed.id().0.0);
    copy.push('\t');
    push_text(copy, signed.tx.signer.as_str());
    copy.push('\t');
    copy.push_str(&nonce.to_string());
    copy.push('\t');
    push_bytea(copy, &codec::encode(&signed.tx.body));
    copy.push('\t');
    push_bytea(copy, &signed.signature.0);
    copy.push('\n');
    true
}

/// A `bytea` in `COPY` text: `\x` and hex, its backslash doubled for `COPY`'s own escaping.
fn push_bytea(copy: &mut String, bytes: &[u8]) {
    copy.push_str("\\\\x");
    copy.push_str(&hex::encode(bytes));
}

/// A `text` in `COPY` text, with `COPY`'s escapes.
fn push_text(copy: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => copy.push_str("\\\\"),
            '\t' => copy.push_str("\\t"),
            '\n' => copy.push_str("\\n"),
            '\r' => copy.push_str("\\r"),
            c => copy.push(c),
        }
    }
}

/// Sends each batch to psql as one transaction followed by its marker.
fn write_batches(stdin: ChildStdin, batches: Receiver<Batch>) -> std::io::Result<Written> {
    let mut out = BufWriter::with_capacity(1 << 16, stdin);
    let mut written = Written {
        records: 0,
        rejected: 0,
        batches: 0,
    };
    for batch in batches {
        written.rejected += batch.rejected;
        if batch.records == 0 {
            continue;
        }
        out.write_all(
            b"BEGIN;\nCOPY records (tx_id, signer, nonce, body, signature) FROM STDIN (FORMAT text);\n",
        )?;
        out.write_all(batch.copy.as_bytes())?;
        write!(
            out,
            "\\.\nCOMMIT;\n\\echo {MARKER_COMMITTED}{}\n",
            batch.records
        )?;
        out.flush()?;
        written.records += batch.records;
        written.batches += 1;
    }
    // Dropping stdin ends the session once psql has run everything.
    out.flush()?;
    Ok(written)
}

fn tail(lines: &[String], count: usize) -> String {
    lines[lines.len().saturating_sub(count)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes() {
        let mut copy = String::new();
        push_text(&mut copy, "a\\b\tc\nd\re");
        assert_eq!(copy, "a\\\\b\\tc\\nd\\re");
        copy.clear();
        push_bytea(&mut copy, &[0x00, 0xab]);
        assert_eq!(copy, "\\\\x00ab");
    }

    #[test]
    fn rows_only_for_verified_records() {
        let SampleRecords { records, keys } = sample_records(3, 2).expect("records");
        let mut copy = String::new();
        assert!(push_row(&mut copy, &records[0], &keys));
        assert_eq!(copy.lines().count(), 1);
        assert_eq!(copy.split('\t').count(), 5);
        assert!(copy.contains("\tEXPORTER-0\t1\t"));

        let mut tampered = SignedTx::from_bytes(&records[1]).expect("decode");
        tampered.signature.0[0] ^= 1;
        assert!(!push_row(&mut copy, &tampered.to_bytes(), &keys));
        assert!(!push_row(&mut copy, b"not a transaction", &keys));
        let mut unknown = keys.clone();
        unknown.clear();
        assert!(!push_row(&mut copy, &records[2], &unknown));
        assert_eq!(copy.lines().count(), 1);
    }
}
