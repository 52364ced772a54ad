//! Durable storage in one redb file. Each decided block is written in a single write transaction
//! (block, certificate, transaction index, the Merkle log's entries and larger subtrees, state
//! writes, state tree nodes and the new tip) committed with fsync: after `commit_block` returns,
//! the block survives a crash. The state tree is kept at the tip only (one node per position,
//! overwritten), so state proofs are served for the committed tip.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};

use redb::{
    Database, MultimapTableDefinition, ReadOnlyTable, ReadTransaction, ReadableDatabase,
    ReadableTable, TableDefinition,
};

use caravan_sdk::block::{Block, CommitCertificate, SetChange, ValidatorSet};
use caravan_sdk::bundle::{BUNDLE_VERSION, ProofBundle, ProvenRegistration, ProvenState, ProvenTx};
use caravan_sdk::codec::{self, MAX_BLOCK_BYTES};
use caravan_sdk::genesis::{Genesis, MemberCard, Params};
use caravan_sdk::hash::Digest;
use caravan_sdk::ids::{BlockId, ChainId, Height, ParticipantId, TxId};
use caravan_sdk::merkle::{
    ConsistencyProof, Frontier, NodeKey, NodeSource, consistency_proof, inclusion_proof,
};
use caravan_sdk::tx::{LogEntry, Receipt, SignedTx};

mod deferred;
mod tx_index;

use crate::execution::state_tree::{self, MemoryTree, NodePos, NodeWrite};
use crate::execution::{
    BlockEffects, Entries, Participant, StateView, Tip, ViewNodes, governance, keys,
};

const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
const CERTIFICATES: TableDefinition<u64, &[u8]> = TableDefinition::new("certificates");
/// Where each committed transaction of a completed epoch is: rows of (id, log position) pairs,
/// keyed by epoch and first id (see [`tx_index`]).
const TX_INDEX: TableDefinition<&[u8; 36], &[u8]> = TableDefinition::new("tx_index");
/// The Merkle log's entries (each transaction's id and receipt), in rows of consecutive entries
/// keyed by the log position of the row's first: see [`LogRow`].
const LOG_ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("log_entries");
const STATE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state");
/// The replay markers of each block after the last batch stored in [`STATE`], by height (see
/// [`deferred`]; [`encode_writes`]).
const DEFERRED: TableDefinition<u64, &[u8]> = TableDefinition::new("deferred_writes");
/// Replay markers after which a block writes them into [`STATE`] in one sorted batch.
const DEFERRED_BATCH: usize = 1 << 14;
/// The Merkle log's perfect subtrees of `2^LOG_ROW_BITS` leaves and more; smaller ones are
/// hashed from the entries in [`LOG_ENTRIES`].
const LOG_NODES: TableDefinition<(u8, u64), &[u8]> = TableDefinition::new("log_nodes");
/// The state tree's nodes at the tip, by position ([`NodePos::to_key`]).
const TREE_NODES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("tree_nodes");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Certified validator-set changes, by the height of the outgoing set's last header.
const SET_CHANGES: TableDefinition<u64, &[u8]> = TableDefinition::new("validator_changes");
/// This node's own summary of each block, for the explorer (not part of the protocol).
const SUMMARIES: TableDefinition<u64, &[u8]> = TableDefinition::new("block_summaries");
/// This node's search index: a normalised term (document number, container, train) to the
/// documents that carry it (not part of the protocol).
const SEARCH: MultimapTableDefinition<&str, &[u8]> = MultimapTableDefinition::new("search");

/// The layout of the store's tables that this node reads and writes, recorded in the store when
/// it is created. Format 2: the transaction index partitioned by epoch, receipts by position,
/// replay markers holding the id of the transaction that used the nonce. Format 3: the index
/// points into the Merkle log, whose entries (id and receipt) are stored in rows of up to
/// `2^LOG_ROW_BITS`, and whose perfect subtrees are stored from that size up. Format 4: the index
/// holds completed epochs only, in rows of sorted pairs. Format 5: replay markers are written to
/// the state table in batches, each block's in a row of `deferred_writes` until then.
const STORE_FORMAT: u32 = 5;

/// A row of [`LOG_ENTRIES`] holds up to `2^LOG_ROW_BITS` consecutive entries and never crosses a
/// multiple of that; the log's perfect subtrees below that size are hashed from a row when a
/// proof needs them instead of being stored. A block then writes about one row and one node per
/// 2^7 transactions instead of a receipt and two nodes per transaction (which took a third of
/// the time of writing a block).
const LOG_ROW_BITS: u8 = 8;

/// The store's page cache.
const STORE_CACHE_BYTES: usize = 64 * 1024 * 1024;
/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// redb failed.
    #[error("database: {0}")]
    Db(String),
    /// Stored bytes do not decode or do not match their hash: the file is damaged.
    #[error("store is corrupt: {0}")]
    Corrupt(String),
    /// The store belongs to another federation.
    #[error("store belongs to chain {found}, the genesis is chain {expected}")]
    WrongChain {
        /// The genesis's chain.
        expected: ChainId,
        /// The store's chain.
        found: ChainId,
    },
}

fn db<E: std::fmt::Display>(e: E) -> StoreError {
    StoreError::Db(e.to_string())
}

/// Where a committed transaction is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxRecord {
    /// Its receipt.
    pub receipt: Receipt,
    /// Its block.
    pub block_id: BlockId,
}

/// A block and its certificate, as stored (canonical CBOR each).
pub type RawBlock = (Vec<u8>, Vec<u8>);

/// The node's database.
pub struct Store {
    db: Database,
    /// The transaction index's entries not stored yet, shared with the readers.
    recent: Arc<Mutex<tx_index::Recent>>,
    /// The replay markers not in the state table yet, shared with the readers.
    deferred: Arc<RwLock<deferred::Deferred>>,
}

impl Store {
    /// Opens (or creates) the store at `path` for `genesis`, checking that an existing store
    /// belongs to the same chain and that its tip is intact.
    pub fn open(path: &Path, genesis: &Genesis, chain_id: &ChainId) -> Result<Self, StoreError> {
        // A bounded page cache keeps the node's memory flat however long it runs (redb's
        // default is 1 GiB); the working set is the recent blocks and the participant records.
        let db = redb::Builder::new()
            .set_cache_size(STORE_CACHE_BYTES)
            .create(path)
            .map_err(db)?;
        let store = Store {
            db,
            recent: Arc::default(),
            deferred: Arc::default(),
        };
        let existing = store.meta("chain_id")?;
        match existing {
            Some(bytes) => {
                let found = ChainId(Digest(
                    bytes
                        .as_slice()
                        .try_into()
                        .map_err(|_| StoreError::Corrupt("chain id".into()))?,
                ));
                if &found != chain_id {
                    return Err(StoreError::WrongChain {
                        expected: *chain_id,
                        found,
                    });
                }
                let format = store
                    .meta("store_format")?
                    .and_then(|b| <[u8; 4]>::try_from(b.as_slice()).ok())
                    .map_or(1, u32::from_be_bytes);
                if format != STORE_FORMAT {
                    return Err(StoreError::Corrupt(format!(
                        "the store has format {format}, written by another version of the \
                         node; this node reads format {STORE_FORMAT}: sync the ledger again from \
                         the other agencies (--resync moves this store aside)"
                    )));
                }
                store.check_tip()?;
            }
            None => store.init(genesis, chain_id)?,
        }
        let reader = store.reader()?;
        let recent = reader.unindexed()?;
        *store.recent.lock().unwrap_or_else(PoisonError::into_inner) = recent;
        let deferred = deferred::Deferred::new(
            reader.deferred_through()?,
            reader.deferred_rows(0, u64::MAX)?,
            DEFERRED_BATCH,
            reader.highest_stored_nonces()?,
        );
        *store
            .deferred
            .write()
            .unwrap_or_else(PoisonError::into_inner) = deferred;
        drop(reader);
        Ok(store)
    }

    /// The state entries the genesis establishes, in one list: the store writes them into the
    /// state and builds the state tree from this same list.
    fn genesis_entries(genesis: &Genesis) -> Vec<(Vec<u8>, Vec<u8>)> {
        governance::genesis_state(genesis)
    }

    fn init(&self, genesis: &Genesis, chain_id: &ChainId) -> Result<(), StoreError> {
        let entries = Self::genesis_entries(genesis);
        let writes: Vec<(Vec<u8>, Option<Vec<u8>>)> = entries
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect();
        let writes = state_tree::tree_writes(&writes);
        let (state_root, tree_nodes) = state_tree::apply(&MemoryTree::default(), &writes)
            .map_err(|e| StoreError::Corrupt(format!("genesis state tree: {e}")))?;
        let txn = self.db.begin_write().map_err(db)?;
        {
            let mut state = txn.open_table(STATE).map_err(db)?;
            for (key, value) in &entries {
                state.insert(key.as_slice(), value.as_slice()).map_err(db)?;
            }
            let mut tree = txn.open_table(TREE_NODES).map_err(db)?;
            write_tree_nodes(&mut tree, &tree_nodes)?;
            let mut meta = txn.open_table(META).map_err(db)?;
            meta.insert("chain_id", chain_id.0.as_bytes().as_slice())
                .map_err(db)?;
            meta.insert("store_format", STORE_FORMAT.to_be_bytes().as_slice())
                .map_err(db)?;
            meta.insert("tip", codec::encode(&Tip::genesis(state_root)).as_slice())
                .map_err(db)?;
            // Create the other tables so readers never see them missing.
            txn.open_table(BLOCKS).map_err(db)?;
            txn.open_table(CERTIFICATES).map_err(db)?;
            txn.open_table(TX_INDEX).map_err(db)?;
            txn.open_table(LOG_ENTRIES).map_err(db)?;
            txn.open_table(DEFERRED).map_err(db)?;
            txn.open_table(LOG_NODES).map_err(db)?;
            txn.open_table(SET_CHANGES).map_err(db)?;
        }
        txn.commit().map_err(db)
    }

    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(db)?;
        let table = match txn.open_table(META) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(db(e)),
        };
        Ok(table.get(key).map_err(db)?.map(|v| v.value().to_vec()))
    }

    /// Checks that the tip's block is stored and hashes to the tip's id.
    fn check_tip(&self) -> Result<(), StoreError> {
        let tip = self.tip()?;
        let tree_root = state_tree::root(&ViewNodes(&self.reader()?))
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if tree_root != tip.state_root {
            return Err(StoreError::Corrupt(format!(
                "the state tree's root is {tree_root}, the tip at height {} records {}",
                tip.height, tip.state_root
            )));
        }
        if tip.height.0 == 0 {
            return Ok(());
        }
        let (block, _) = self
            .block(tip.height)?
            .ok_or_else(|| StoreError::Corrupt(format!("tip block {} is missing", tip.height)))?;
        if block.id() != tip.block_id {
            return Err(StoreError::Corrupt(format!(
                "block {} hashes to {}, the tip records {}",
                tip.height,
                block.id(),
                tip.block_id
            )));
        }
        if block.header.log_root != tip.log.root() || block.header.state_root != tip.state_root {
            return Err(StoreError::Corrupt(format!(
                "tip roots disagree with block {}",
                tip.height
            )));
        }
        Ok(())
    }

    /// The committed tip.
    pub fn tip(&self) -> Result<Tip, StoreError> {
        let bytes = self
            .meta("tip")?
            .ok_or_else(|| StoreError::Corrupt("no tip".into()))?;
        codec::decode(&bytes, 1024 * 1024).map_err(|e| StoreError::Corrupt(format!("tip: {e}")))
    }

    /// Writes a decided block and everything it changes in one durable transaction.
    pub fn commit_block(
        &self,
        block: &Block,
        certificate: &CommitCertificate,
        effects: &BlockEffects,
    ) -> Result<(), StoreError> {
        self.commit_block_with(block, &codec::encode(block), certificate, effects, true)
    }

    /// Writes a block, given with its canonical encoding `encoded` (which is stored as is), in one
    /// transaction; `durable` makes it, and every block written before it,
    /// survive a crash when this returns. A block written without may be lost in a crash
    /// together with the ones after it, never partly: an observer catching up writes a batch of
    /// certified blocks this way and makes the last durable, so that it pays one fsync per batch
    /// (it acknowledges nothing, and fetches lost blocks again).
    pub fn commit_block_with(
        &self,
        block: &Block,
        encoded: &[u8],
        certificate: &CommitCertificate,
        effects: &BlockEffects,
        durable: bool,
    ) -> Result<(), StoreError> {
        // The block's entries join the index's unstored ones before the write, where readers of
        // the store before it do not look (their log is shorter); a block that completes an
        // epoch stores the epoch's entries with it.
        let end = tx_index::epoch_start(effects.tip.log.size());
        let completed = {
            let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
            recent.add(
                effects
                    .tx_ids
                    .iter()
                    .zip(&effects.receipts)
                    .map(|(id, r)| (*id, r.log_index)),
            );
            recent.completed(end)
        };
        // Its replay markers join the deferred ones the same way; the block that completes a
        // batch writes the batch into the state table.
        let height = block.header.height.0;
        let deferred = {
            let mut deferred = self
                .deferred
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            if deferred.add(height, markers(&effects.writes)) {
                DeferredWrite::Batch(deferred.batch_writes())
            } else {
                DeferredWrite::Row
            }
        };
        let batch = matches!(deferred, DeferredWrite::Batch(_));
        let written = self.write_block(
            block,
            encoded,
            certificate,
            effects,
            durable,
            BlockWrites {
                completed,
                deferred,
            },
        );
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        let mut deferred = self
            .deferred
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        match written {
            Ok(()) => {
                recent.stored_below(end);
                if batch {
                    deferred.stored(height);
                }
            }
            Err(_) => {
                recent.forget(&effects.tx_ids);
                deferred.forget(height);
            }
        }
        written
    }

    /// [`Store::commit_block_with`]'s write, with the index entries of the epochs the block
    /// completes, and its state writes apart from the deferred ones.
    fn write_block(
        &self,
        block: &Block,
        encoded: &[u8],
        certificate: &CommitCertificate,
        effects: &BlockEffects,
        durable: bool,
        BlockWrites {
            completed,
            deferred,
        }: BlockWrites,
    ) -> Result<(), StoreError> {
        let height = block.header.height.0;
        let block_id = block.id();
        let mut txn = self.db.begin_write().map_err(db)?;
        txn.set_durability(if durable {
            redb::Durability::Immediate
        } else {
            redb::Durability::None
        })
        .map_err(db)?;
        {
            txn.open_table(BLOCKS)
                .map_err(db)?
                .insert(height, encoded)
                .map_err(db)?;
            txn.open_table(CERTIFICATES)
                .map_err(db)?
                .insert(height, codec::encode(certificate).as_slice())
                .map_err(db)?;
            if !completed.is_empty() {
                let mut table = txn.open_table(TX_INDEX).map_err(db)?;
                for (key, row) in tx_index::rows(completed) {
                    table.insert(&key, row.as_slice()).map_err(db)?;
                }
            }
            write_log_entries(
                &mut txn.open_table(LOG_ENTRIES).map_err(db)?,
                &effects.tx_ids,
                &effects.receipts,
            )?;
            let mut state = txn.open_table(STATE).map_err(db)?;
            let mut rows = txn.open_table(DEFERRED).map_err(db)?;
            let batch = match deferred {
                DeferredWrite::Row => {
                    let row = encode_writes(markers(&effects.writes));
                    if !row.is_empty() {
                        rows.insert(height, row.as_slice()).map_err(db)?;
                    }
                    Vec::new()
                }
                DeferredWrite::Batch(batch) => {
                    // The rows' markers are all in the batch now.
                    let heights: Vec<u64> = rows
                        .iter()
                        .map_err(db)?
                        .map(|row| row.map(|(height, _)| height.value()))
                        .collect::<Result<_, _>>()
                        .map_err(db)?;
                    for height in heights {
                        rows.remove(height).map_err(db)?;
                    }
                    txn.open_table(META)
                        .map_err(db)?
                        .insert("deferred_through", height.to_be_bytes().as_slice())
                        .map_err(db)?;
                    batch
                }
            };
            let now = effects
                .writes
                .iter()
                .filter(|(key, _)| !keys::is_nonce(key))
                .map(|(key, value)| (key.as_slice(), value.as_deref()));
            let batched = batch
                .iter()
                .map(|(key, value)| (key.as_slice(), value.as_deref()));
            for (key, value) in now.chain(batched) {
                match value {
                    Some(v) => state.insert(key, v).map_err(db)?,
                    None => state.remove(key).map_err(db)?,
                };
            }
            let mut tree = txn.open_table(TREE_NODES).map_err(db)?;
            write_tree_nodes(&mut tree, &effects.tree_nodes)?;
            let mut nodes = txn.open_table(LOG_NODES).map_err(db)?;
            for (key, digest) in effects
                .log_nodes
                .iter()
                .filter(|(key, _)| key.level >= LOG_ROW_BITS)
            {
                nodes
                    .insert((key.level, key.index), digest.as_bytes().as_slice())
                    .map_err(db)?;
            }
            if let Some(validators) = &effects.new_validators {
                let change = SetChange {
                    header: block.header.clone(),
                    certificate: certificate.clone(),
                    validators: validators.clone(),
                };
                txn.open_table(SET_CHANGES)
                    .map_err(db)?
                    .insert(height, codec::encode(&change).as_slice())
                    .map_err(db)?;
            }
            txn.open_table(SUMMARIES)
                .map_err(db)?
                .insert(
                    height,
                    crate::explorer::BlockSummary::of(block, block_id)
                        .to_bytes()
                        .as_slice(),
                )
                .map_err(db)?;
            let terms = crate::explorer::search_terms(&effects.writes);
            if !terms.is_empty() {
                let mut search = txn.open_multimap_table(SEARCH).map_err(db)?;
                for (term, entry) in &terms {
                    search.insert(term.as_str(), entry.as_slice()).map_err(db)?;
                }
            }
            txn.open_table(META)
                .map_err(db)?
                .insert("tip", codec::encode(&effects.tip).as_slice())
                .map_err(db)?;
        }
        txn.commit().map_err(db)
    }

    /// Makes every block written so far durable (an empty durable transaction).
    pub fn flush(&self) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write().map_err(db)?;
        txn.set_durability(redb::Durability::Immediate)
            .map_err(db)?;
        txn.commit().map_err(db)
    }

    /// A reader over one consistent snapshot.
    pub fn reader(&self) -> Result<Reader, StoreError> {
        Ok(Reader {
            txn: self.db.begin_read().map_err(db)?,
            state: OnceLock::new(),
            index: OnceLock::new(),
            entries: OnceLock::new(),
            certificates: OnceLock::new(),
            snapshot_tip: OnceLock::new(),
            tree: OnceLock::new(),
            log: OnceLock::new(),
            row_leaves: Mutex::new(None),
            participants: Mutex::new(HashMap::default()),
            recent: self.recent.clone(),
            deferred: self.deferred.clone(),
            deferred_through: OnceLock::new(),
        })
    }

    /// The block at `height` with its certificate.
    pub fn block(&self, height: Height) -> Result<Option<(Block, CommitCertificate)>, StoreError> {
        self.reader()?.block(height)
    }
}

/// Appends a block's log entries to [`LOG_ENTRIES`]: the last row is continued when the block's
/// first entry follows it within the same `2^LOG_ROW_BITS`, and a new row starts at each multiple
/// of that (or after a gap, which only a store written for a test has).
fn write_log_entries(
    table: &mut redb::Table<'_, u64, &[u8]>,
    ids: &[TxId],
    receipts: &[Receipt],
) -> Result<(), StoreError> {
    let Some(first) = receipts.first().map(|r| r.log_index) else {
        return Ok(());
    };
    let mut row = LogRow::default();
    if !LogRow::starts_at(first)
        && let Some((start, bytes)) = table.last().map_err(db)?
    {
        let last = LogRow::read(start.value(), bytes.value())?;
        if last.end() == first {
            row = last;
        }
    }
    for (id, receipt) in ids.iter().zip(receipts) {
        let position = receipt.log_index;
        if position != row.end() || LogRow::starts_at(position) {
            row.write(table)?;
            row = LogRow::empty_at(position);
        }
        row.push(&codec::encode(&LogEntry {
            tx_id: *id,
            receipt: receipt.clone(),
        }));
    }
    row.write(table)
}

/// One row of [`LOG_ENTRIES`]: the canonical encodings of consecutive log entries from `start`,
/// each after its length (4 bytes, big-endian).
#[derive(Default)]
struct LogRow {
    start: u64,
    count: u64,
    bytes: Vec<u8>,
}

impl LogRow {
    /// Whether a row starts at log position `position` whatever came before.
    fn starts_at(position: u64) -> bool {
        position.trailing_zeros() >= u32::from(LOG_ROW_BITS)
    }

    fn empty_at(start: u64) -> Self {
        LogRow {
            start,
            count: 0,
            bytes: Vec::with_capacity(64 << LOG_ROW_BITS),
        }
    }

    /// A stored row, its entries' lengths checked.
    fn read(start: u64, bytes: &[u8]) -> Result<Self, StoreError> {
        let count = LogRow::entries(start, bytes).try_fold(0u64, |n, e| e.map(|_| n + 1))?;
        Ok(LogRow {
            start,
            count,
            bytes: bytes.to_vec(),
        })
    }

    /// The entries of the row stored at `start`, as encoded.
    fn entries(start: u64, bytes: &[u8]) -> impl Iterator<Item = Result<&[u8], StoreError>> {
        let mut rest = bytes;
        std::iter::from_fn(move || {
            if rest.is_empty() {
                return None;
            }
            let entry = rest
                .split_first_chunk::<4>()
                .map(|(len, tail)| (u32::from_be_bytes(*len) as usize, tail))
                .filter(|(len, tail)| *len <= tail.len())
                .map(|(len, tail)| tail.split_at(len));
            Some(match entry {
                Some((entry, tail)) => {
                    rest = tail;
                    Ok(entry)
                }
                None => {
                    rest = &[];
                    Err(StoreError::Corrupt(format!(
                        "the log's row at position {start} is cut short"
                    )))
                }
            })
        })
    }

    /// The log position after the row's last entry.
    fn end(&self) -> u64 {
        self.start + self.count
    }

    fn push(&mut self, entry: &[u8]) {
        self.bytes
            .extend_from_slice(&(entry.len() as u32).to_be_bytes());
        self.bytes.extend_from_slice(entry);
        self.count += 1;
    }

    fn write(&self, table: &mut redb::Table<'_, u64, &[u8]>) -> Result<(), StoreError> {
        if self.count > 0 {
            table
                .insert(self.start, self.bytes.as_slice())
                .map_err(db)?;
        }
        Ok(())
    }
}

/// State writes: a key and its value, or `None` to delete it.
type Writes = Vec<(Vec<u8>, Option<Vec<u8>>)>;

/// What a block writes besides what its effects say as they are.
struct BlockWrites {
    /// The index entries of the epochs it completes.
    completed: Vec<(TxId, u64)>,
    /// Where its replay markers go.
    deferred: DeferredWrite,
}

/// The replay markers among a block's state writes.
fn markers(
    writes: &[(Vec<u8>, Option<Vec<u8>>)],
) -> impl Iterator<Item = &(Vec<u8>, Option<Vec<u8>>)> {
    writes.iter().filter(|(key, _)| keys::is_nonce(key))
}

/// A block's deferred writes.
enum DeferredWrite {
    /// Its own, as a row of [`DEFERRED`].
    Row,
    /// The batch to write into [`STATE`] (its own among them), in key order.
    Batch(deferred::Batch),
}

/// A row of [`DEFERRED`]: each write as its key's length (u32, big-endian), the key, then
/// `0` for a deletion or `1`, the value's length (u32, big-endian) and the value.
fn encode_writes<'a>(writes: impl Iterator<Item = &'a (Vec<u8>, Option<Vec<u8>>)>) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in writes {
        out.extend_from_slice(&(key.len() as u32).to_be_bytes());
        out.extend_from_slice(key);
        match value {
            None => out.push(0),
            Some(value) => {
                out.push(1);
                out.extend_from_slice(&(value.len() as u32).to_be_bytes());
                out.extend_from_slice(value);
            }
        }
    }
    out
}

/// The writes of a row of [`DEFERRED`] (see [`encode_writes`]).
fn decode_writes(height: u64, mut bytes: &[u8]) -> Result<Writes, StoreError> {
    let damaged =
        || StoreError::Corrupt(format!("the deferred writes of block {height} are damaged"));
    let take = |n: usize, bytes: &mut &[u8]| -> Result<Vec<u8>, StoreError> {
        let (head, tail) = bytes.split_at_checked(n).ok_or_else(damaged)?;
        *bytes = tail;
        Ok(head.to_vec())
    };
    let length = |bytes: &mut &[u8]| -> Result<usize, StoreError> {
        let (head, tail) = bytes.split_first_chunk::<4>().ok_or_else(damaged)?;
        *bytes = tail;
        Ok(u32::from_be_bytes(*head) as usize)
    };
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let n = length(&mut bytes)?;
        let key = take(n, &mut bytes)?;
        let value = match take(1, &mut bytes)?.as_slice() {
            [0] => None,
            [1] => {
                let n = length(&mut bytes)?;
                Some(take(n, &mut bytes)?)
            }
            _ => return Err(damaged()),
        };
        out.push((key, value));
    }
    Ok(out)
}

/// Writes state tree nodes: a node at its position, or deletes the position.
fn write_tree_nodes(
    table: &mut redb::Table<'_, &[u8], &[u8]>,
    writes: &[NodeWrite],
) -> Result<(), StoreError> {
    for (pos, node) in writes {
        let key = pos.to_key();
        match node {
            Some(n) => table
                .insert(key.as_slice(), n.to_bytes().as_slice())
                .map_err(db)?,
            None => table.remove(key.as_slice()).map_err(db)?,
        };
    }
    Ok(())
}

/// A consistent read snapshot of the store.
pub struct Reader {
    txn: ReadTransaction,
    // The tables execution reads once per transaction, opened on first use: opening a table
    // looks it up in the table tree, which cost as much as the read itself.
    state: OnceLock<ReadOnlyTable<&'static [u8], &'static [u8]>>,
    index: OnceLock<ReadOnlyTable<&'static [u8; 36], &'static [u8]>>,
    // Opened, and read from the tip, once for the look-ups of many transactions (a batch's).
    entries: OnceLock<ReadOnlyTable<u64, &'static [u8]>>,
    certificates: OnceLock<ReadOnlyTable<u64, &'static [u8]>>,
    /// This snapshot's tip, read once.
    snapshot_tip: OnceLock<Tip>,
    tree: OnceLock<ReadOnlyTable<&'static [u8], &'static [u8]>>,
    log: OnceLock<ReadOnlyTable<(u8, u64), &'static [u8]>>,
    /// The leaf hashes of the last log row a proof needed (its first position, and the hashes):
    /// a proof's small subtrees all come from one row.
    row_leaves: Mutex<Option<RowLeaves>>,
    /// The participants' records read so far: every transaction reads its signer's, and a batch
    /// or a block holds many transactions of each signer.
    participants: Mutex<HashMap<Vec<u8>, Option<Vec<u8>>, foldhash::fast::RandomState>>,
    /// The store's transaction index entries not stored yet.
    recent: Arc<Mutex<tx_index::Recent>>,
    /// The store's replay markers not in the state table yet.
    deferred: Arc<RwLock<deferred::Deferred>>,
    /// The height through which this snapshot's state table has every marker.
    deferred_through: OnceLock<u64>,
}

/// A log row's first position and its entries' leaf hashes.
type RowLeaves = (u64, Arc<Vec<Digest>>);

/// `cell`'s table, opened from `txn` the first time.
fn opened<'a, K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &ReadTransaction,
    cell: &'a OnceLock<ReadOnlyTable<K, V>>,
    definition: TableDefinition<K, V>,
) -> Result<&'a ReadOnlyTable<K, V>, redb::TableError> {
    if let Some(table) = cell.get() {
        return Ok(table);
    }
    let table = txn.open_table(definition)?;
    Ok(cell.get_or_init(|| table))
}

impl Reader {
    /// This node's summary of the block at `height`, made when it committed the block; made
    /// from the block itself for a block committed before summaries were kept.
    pub fn summary(
        &self,
        height: Height,
    ) -> Result<Option<crate::explorer::BlockSummary>, StoreError> {
        let stored = match self.txn.open_table(SUMMARIES) {
            Ok(table) => table.get(height.0).map_err(db)?.map(|v| v.value().to_vec()),
            Err(redb::TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(db(e)),
        };
        if let Some(bytes) = stored {
            return crate::explorer::BlockSummary::from_bytes(&bytes)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("summary of block {height}: {e}")));
        }
        Ok(self
            .block(height)?
            .map(|(block, _)| crate::explorer::BlockSummary::of(&block, block.id())))
    }

    /// The search index's entries for a normalised term.
    pub fn search(&self, term: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        let table = match self.txn.open_multimap_table(SEARCH) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(db(e)),
        };
        let mut out = Vec::new();
        for value in table.get(term).map_err(db)? {
            out.push(value.map_err(db)?.value().to_vec());
        }
        Ok(out)
    }

    /// The block at `height` with its certificate.
    pub fn block(&self, height: Height) -> Result<Option<(Block, CommitCertificate)>, StoreError> {
        Ok(match self.block_bytes(height)? {
            Some((block, cert)) => Some((
                codec::decode(&block, MAX_BLOCK_BYTES)
                    .map_err(|e| StoreError::Corrupt(format!("block {height}: {e}")))?,
                codec::decode(&cert, MAX_BLOCK_BYTES)
                    .map_err(|e| StoreError::Corrupt(format!("certificate {height}: {e}")))?,
            )),
            None => None,
        })
    }

    /// The raw block and certificate bytes at `height`.
    pub fn block_bytes(&self, height: Height) -> Result<Option<RawBlock>, StoreError> {
        let blocks = self.txn.open_table(BLOCKS).map_err(db)?;
        let Some(block) = blocks.get(height.0).map_err(db)? else {
            return Ok(None);
        };
        let certs = self.txn.open_table(CERTIFICATES).map_err(db)?;
        let cert = certs
            .get(height.0)
            .map_err(db)?
            .ok_or_else(|| StoreError::Corrupt(format!("certificate {height} missing")))?;
        Ok(Some((block.value().to_vec(), cert.value().to_vec())))
    }

    /// Where a committed transaction is.
    pub fn tx(&self, id: &TxId) -> Result<Option<TxRecord>, StoreError> {
        self.tx_since(id, 0)
    }

    /// Where a committed transaction is, looked for only among the transactions committed once
    /// the log had `log_size` entries: for one admitted when it had, which cannot be committed
    /// earlier (admission refuses a committed transaction as replayed). A pending transaction's
    /// look-up then probes one or two epochs of the index instead of all of them.
    pub fn tx_since(&self, id: &TxId, log_size: u64) -> Result<Option<TxRecord>, StoreError> {
        let Some(position) = self.tx_position(id, log_size)? else {
            return Ok(None);
        };
        let bytes = self
            .log_entry(position)?
            .ok_or_else(|| StoreError::Corrupt(format!("log entry {position} of {id} missing")))?;
        let entry: LogEntry = codec::decode(&bytes, MAX_BLOCK_BYTES)
            .map_err(|e| StoreError::Corrupt(format!("log entry {position}: {e}")))?;
        if entry.tx_id != *id {
            return Err(StoreError::Corrupt(format!(
                "log entry {position} is transaction {}, the index has {id} there",
                entry.tx_id
            )));
        }
        let receipt = entry.receipt;
        let height = receipt.height.0;
        let certificates = opened(&self.txn, &self.certificates, CERTIFICATES).map_err(db)?;
        let certificate: CommitCertificate = match certificates.get(height).map_err(db)? {
            Some(v) => codec::decode(v.value(), MAX_BLOCK_BYTES)
                .map_err(|e| StoreError::Corrupt(format!("certificate {height}: {e}")))?,
            None => return Err(StoreError::Corrupt(format!("certificate {height} missing"))),
        };
        Ok(Some(TxRecord {
            receipt,
            block_id: certificate.block_id,
        }))
    }

    /// The log row holding log position `position`: its first position and its bytes.
    fn log_row(&self, position: u64) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        let table = opened(&self.txn, &self.entries, LOG_ENTRIES).map_err(db)?;
        let Some(row) = table.range(..=position).map_err(db)?.next_back() else {
            return Ok(None);
        };
        let (start, bytes) = row.map_err(db)?;
        Ok(Some((start.value(), bytes.value().to_vec())))
    }

    /// The log entry at `position`, as encoded, if the log has it.
    fn log_entry(&self, position: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let Some((start, bytes)) = self.log_row(position)? else {
            return Ok(None);
        };
        Ok(LogRow::entries(start, &bytes)
            .nth((position - start) as usize)
            .transpose()?
            .map(<[u8]>::to_vec))
    }

    /// The leaf hashes of the log row holding `position`, with the row's first position.
    fn row_leaves(&self, position: u64) -> Result<Option<RowLeaves>, StoreError> {
        let mut memo = self
            .row_leaves
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((start, leaves)) = &*memo
            && (*start..*start + leaves.len() as u64).contains(&position)
        {
            return Ok(Some((*start, leaves.clone())));
        }
        let Some((start, bytes)) = self.log_row(position)? else {
            return Ok(None);
        };
        let leaves = LogRow::entries(start, &bytes)
            .map(|entry| entry.map(caravan_sdk::merkle::leaf_hash))
            .collect::<Result<Vec<_>, _>>()?;
        if position - start >= leaves.len() as u64 {
            return Ok(None);
        }
        let leaves = Arc::new(leaves);
        *memo = Some((start, leaves.clone()));
        Ok(Some((start, leaves)))
    }

    /// This snapshot's height.
    fn height(&self) -> Result<u64, StoreError> {
        Ok(self.snapshot_tip()?.height.0)
    }

    /// This snapshot's tip, read from the store the first time.
    fn snapshot_tip(&self) -> Result<&Tip, StoreError> {
        if let Some(tip) = self.snapshot_tip.get() {
            return Ok(tip);
        }
        let tip = self.tip()?;
        Ok(self.snapshot_tip.get_or_init(|| tip))
    }

    /// The height through which this snapshot's state table holds every replay marker.
    fn deferred_through(&self) -> Result<u64, StoreError> {
        if let Some(height) = self.deferred_through.get() {
            return Ok(*height);
        }
        let table = self.txn.open_table(META).map_err(db)?;
        let height = match table.get("deferred_through").map_err(db)? {
            Some(bytes) => u64::from_be_bytes(bytes.value().try_into().map_err(|_| {
                StoreError::Corrupt("the height of the deferred writes stored".into())
            })?),
            None => 0,
        };
        Ok(*self.deferred_through.get_or_init(|| height))
    }

    /// This snapshot's rows of deferred writes of the blocks in (`after`, `through`], by height.
    fn deferred_rows(&self, after: u64, through: u64) -> Result<Vec<(u64, Writes)>, StoreError> {
        let table = self.txn.open_table(DEFERRED).map_err(db)?;
        let mut rows = Vec::new();
        for row in table.range(after.saturating_add(1)..=through).map_err(db)? {
            let (height, bytes) = row.map_err(db)?;
            let height = height.value();
            rows.push((height, decode_writes(height, bytes.value())?));
        }
        Ok(rows)
    }

    /// A replay marker as of this snapshot: held in memory, else in this snapshot's rows of
    /// deferred writes when the memory no longer holds them, else in its state table.
    fn deferred_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let height = self.height()?;
        let (held_above, not_stored) = {
            let deferred = self.deferred.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(value) = deferred.get(key, height) {
                return Ok(value);
            }
            (deferred.held_above(), deferred.not_stored(key))
        };
        let stored = self.deferred_through()?;
        if stored < held_above.min(height) {
            for (_, writes) in self
                .deferred_rows(stored, held_above.min(height))?
                .into_iter()
                .rev()
            {
                if let Some((_, value)) = writes.into_iter().find(|(k, _)| k == key) {
                    return Ok(value);
                }
            }
        }
        if not_stored {
            return Ok(None);
        }
        let table = opened(&self.txn, &self.state, STATE).map_err(db)?;
        Ok(table.get(key).map_err(db)?.map(|v| v.value().to_vec()))
    }

    /// The highest nonce of each signer among the replay markers in this snapshot's state table,
    /// keyed by the markers' key without the nonce: two look-ups per signer.
    fn highest_stored_nonces(
        &self,
    ) -> Result<HashMap<Vec<u8>, u64, foldhash::fast::RandomState>, StoreError> {
        let table = opened(&self.txn, &self.state, STATE).map_err(db)?;
        let mut highest = HashMap::default();
        let mut from = b"n/".to_vec();
        loop {
            let first = match table.range(from.as_slice()..).map_err(db)?.next() {
                Some(row) => row.map_err(db)?.0.value().to_vec(),
                None => break,
            };
            if !keys::is_nonce(&first) {
                break;
            }
            let (signer, _) = deferred::split_marker(&first).ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "a replay marker's key is malformed: {}",
                    String::from_utf8_lossy(&first)
                ))
            })?;
            let mut last = signer.to_vec();
            last.extend_from_slice(&[0xff; 8]);
            let newest = table
                .range(signer..=last.as_slice())
                .map_err(db)?
                .next_back()
                .transpose()
                .map_err(db)?
                .map(|(key, _)| key.value().to_vec())
                .unwrap_or_default();
            let (_, nonce) = deferred::split_marker(&newest).ok_or_else(|| {
                StoreError::Corrupt("the replay markers are not in key order".into())
            })?;
            highest.insert(signer.to_vec(), nonce);
            last.push(0);
            from = last;
        }
        Ok(highest)
    }

    /// The size of the log in this snapshot.
    fn log_size(&self) -> Result<u64, StoreError> {
        Ok(self.snapshot_tip()?.log.size())
    }

    /// The (id, position) pairs of the log's entries from `from` to the end of this snapshot's
    /// log.
    fn log_pairs(&self, from: u64) -> Result<Vec<(TxId, u64)>, StoreError> {
        let size = self.log_size()?;
        let mut pairs = Vec::new();
        let table = opened(&self.txn, &self.entries, LOG_ENTRIES).map_err(db)?;
        let first = match table.range(..=from).map_err(db)?.next_back() {
            Some(row) => row.map_err(db)?.0.value(),
            None => from,
        };
        for row in table.range(first..size).map_err(db)? {
            let (start, bytes) = row.map_err(db)?;
            let start = start.value();
            for (i, entry) in LogRow::entries(start, bytes.value()).enumerate() {
                let position = start + i as u64;
                if position < from || position >= size {
                    continue;
                }
                let entry: LogEntry = codec::decode(entry?, MAX_BLOCK_BYTES)
                    .map_err(|e| StoreError::Corrupt(format!("log entry {position}: {e}")))?;
                pairs.push((entry.tx_id, position));
            }
        }
        Ok(pairs)
    }

    /// The transaction index's entries that this snapshot has not stored: those of the epoch
    /// its log ends in.
    fn unindexed(&self) -> Result<tx_index::Recent, StoreError> {
        let start = tx_index::epoch_start(self.log_size()?);
        Ok(tx_index::Recent::new(start, self.log_pairs(start)?))
    }

    /// The log position of a committed transaction at log position `since` or later: the
    /// entries not stored in the index yet (held in memory), then the stored index's epochs
    /// from the newest.
    fn tx_position(&self, id: &TxId, since: u64) -> Result<Option<u64>, StoreError> {
        let size = self.log_size()?;
        if size <= since {
            return Ok(None);
        }
        // This snapshot's index holds the epochs below `indexed`; the memory, the entries from
        // `held` on (and some beyond this snapshot's log, which it must not see).
        let indexed = tx_index::epoch_start(size);
        let held = {
            let recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(position) = recent.get(id) {
                return Ok((since..size).contains(&position).then_some(position));
            }
            recent.held_from()
        };
        // A snapshot older than the two epochs held: what its index lacks is read from the log.
        if held > indexed.max(since) {
            let found = self
                .log_pairs(indexed.max(since))?
                .into_iter()
                .find(|(tx, position)| tx == id && *position < held);
            if let Some((_, position)) = found {
                return Ok(Some(position));
            }
        }
        if indexed == 0 {
            return Ok(None);
        }
        let table = opened(&self.txn, &self.index, TX_INDEX).map_err(db)?;
        let mut epoch = indexed - (1 << tx_index::TX_EPOCH_BITS);
        loop {
            if epoch + (1 << tx_index::TX_EPOCH_BITS) <= since {
                return Ok(None);
            }
            let key = tx_index::row_key(epoch, id);
            if let Some(row) = table.range::<&[u8; 36]>(..=&key).map_err(db)?.next_back() {
                let (row_key, row) = row.map_err(db)?;
                if tx_index::row_epoch(row_key.value()) == epoch {
                    let found = tx_index::find_in_row(row.value(), id).map_err(|()| {
                        StoreError::Corrupt(format!(
                            "the transaction index's row of epoch {} is damaged",
                            epoch >> tx_index::TX_EPOCH_BITS
                        ))
                    })?;
                    if found.is_some() {
                        return Ok(found);
                    }
                }
            }
            if epoch == 0 {
                return Ok(None);
            }
            epoch -= 1 << tx_index::TX_EPOCH_BITS;
        }
    }

    /// One committed transaction, its receipt, and its block with the block's certificate.
    fn committed(
        &self,
        id: &TxId,
    ) -> Result<Option<(SignedTx, Receipt, Block, CommitCertificate)>, StoreError> {
        let Some(record) = self.tx(id)? else {
            return Ok(None);
        };
        let (block, certificate) = self.block(record.receipt.height)?.ok_or_else(|| {
            StoreError::Corrupt(format!("block {} missing", record.receipt.height))
        })?;
        let transaction = block
            .transactions
            .get(record.receipt.index as usize)
            .cloned()
            .ok_or_else(|| StoreError::Corrupt(format!("tx {id} not at its index")))?;
        Ok(Some((transaction, record.receipt, block, certificate)))
    }

    /// The proof of one committed transaction.
    fn proven(&self, id: &TxId) -> Result<Option<ProvenTx>, StoreError> {
        let Some((transaction, receipt, block, certificate)) = self.committed(id)? else {
            return Ok(None);
        };
        let inclusion = inclusion_proof(self, receipt.log_index, block.header.log_size)
            .map_err(|e| StoreError::Corrupt(format!("inclusion proof for {id}: {e}")))?;
        Ok(Some(ProvenTx {
            transaction,
            receipt,
            inclusion,
            header: block.header,
            certificate,
        }))
    }

    /// The proof bundle of a committed transaction, with its signer's registration proven
    /// under the transaction's header if the signer is not a founding agency.
    pub fn bundle(&self, id: &TxId) -> Result<Option<ProofBundle>, StoreError> {
        let Some(item) = self.proven(id)? else {
            return Ok(None);
        };
        // A signer removed since (an agency that left) has no record any more; a founder's key
        // is in the genesis.
        let signer = self.participant(&item.transaction.tx.signer)?;
        let registration = match signer.and_then(|s| s.registered_by_tx) {
            Some(reg) => {
                let (transaction, receipt, _, _) = self
                    .committed(&reg)?
                    .ok_or_else(|| StoreError::Corrupt(format!("registration {reg} missing")))?;
                if receipt.log_index < item.receipt.log_index {
                    Some(
                        ProvenRegistration::prove(self, transaction, receipt, &item.inclusion)
                            .map_err(|e| {
                                StoreError::Corrupt(format!("registration {reg}'s proof: {e}"))
                            })?,
                    )
                } else {
                    // Not before the transaction: an agency removed and admitted again has a
                    // newer registration than its older transactions. Given without a path, a
                    // verifier says so (as with the version 2 bundle of such a transaction).
                    Some(ProvenRegistration {
                        transaction,
                        receipt,
                        path: Vec::new(),
                    })
                }
            }
            None => None,
        };
        let validator_changes = self.validator_changes(item.header.height)?;
        Ok(Some(ProofBundle {
            version: BUNDLE_VERSION,
            item: Some(item),
            signer_registration: None,
            state: None,
            validator_changes,
            registration,
        }))
    }

    /// The committed tip, as of this snapshot.
    pub fn tip(&self) -> Result<Tip, StoreError> {
        let table = self.txn.open_table(META).map_err(db)?;
        let bytes = table
            .get("tip")
            .map_err(db)?
            .ok_or_else(|| StoreError::Corrupt("no tip".into()))?;
        codec::decode(bytes.value(), 1024 * 1024)
            .map_err(|e| StoreError::Corrupt(format!("tip: {e}")))
    }

    /// The current value of `key` (or its absence) with its proof under the state root of the
    /// tip's header, and that header's certificate, all from this one snapshot. `None` before the
    /// first block, when there is no certified header yet.
    pub fn proven_state(&self, key: &[u8]) -> Result<Option<ProvenState>, StoreError> {
        let tip = self.tip()?;
        if tip.height.0 == 0 {
            return Ok(None);
        }
        let (block, certificate) = self
            .block(tip.height)?
            .ok_or_else(|| StoreError::Corrupt(format!("tip block {} missing", tip.height)))?;
        let value = StateView::get(self, key)?;
        let proof = state_tree::prove(&ViewNodes(self), key)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        // The tree and the state are written together: a proof that does not hold means the
        // store is damaged, and it is reported rather than served.
        proof
            .verify(&block.header.state_root, key, value.as_deref())
            .map_err(|e| StoreError::Corrupt(format!("state proof at the tip: {e}")))?;
        Ok(Some(ProvenState {
            key: key.to_vec(),
            value,
            proof,
            header: block.header,
            certificate,
        }))
    }

    /// The proof bundle of `key`'s current value, or of its absence, at the tip. `None` before
    /// the first block.
    pub fn state_bundle(&self, key: &[u8]) -> Result<Option<ProofBundle>, StoreError> {
        let validator_changes = self.validator_changes(Height(u64::MAX))?;
        Ok(self.proven_state(key)?.map(|state| ProofBundle {
            version: BUNDLE_VERSION,
            item: None,
            signer_registration: None,
            state: Some(state),
            validator_changes,
            registration: None,
        }))
    }

    /// The certified validator-set changes whose header is at or below `up_to`, in height order.
    pub fn validator_changes(&self, up_to: Height) -> Result<Vec<SetChange>, StoreError> {
        let table = self.txn.open_table(SET_CHANGES).map_err(db)?;
        let mut out = Vec::new();
        for entry in table.range(..=up_to.0).map_err(db)? {
            let (height, bytes) = entry.map_err(db)?;
            out.push(codec::decode(bytes.value(), MAX_BLOCK_BYTES).map_err(|e| {
                StoreError::Corrupt(format!("validator change at {}: {e}", height.value()))
            })?);
        }
        Ok(out)
    }

    /// The validator set that certifies the block after this snapshot's tip.
    pub fn validators(&self) -> Result<ValidatorSet, StoreError> {
        governance::validators(self).map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    /// The federation parameters in force.
    pub fn params(&self) -> Result<Params, StoreError> {
        governance::params(self).map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    /// The member cards of the current agencies, by agency id.
    pub fn members(&self) -> Result<Vec<MemberCard>, StoreError> {
        StateView::scan(self, &governance::gkeys::members())?
            .into_iter()
            .map(|(key, bytes)| {
                codec::decode(&bytes, MAX_BLOCK_BYTES).map_err(|e| {
                    StoreError::Corrupt(format!(
                        "member card {}: {e}",
                        String::from_utf8_lossy(&key)
                    ))
                })
            })
            .collect()
    }

    /// A consistency proof between two log sizes.
    pub fn consistency(&self, from: u64, to: u64) -> Result<ConsistencyProof, String> {
        consistency_proof(self, from, to).map_err(|e| e.to_string())
    }

    /// A participant.
    pub fn participant(&self, id: &ParticipantId) -> Result<Option<Participant>, StoreError> {
        match StateView::get(self, &keys::participant(id))? {
            Some(v) => {
                Ok(Some(codec::decode(&v, 64 * 1024).map_err(|e| {
                    StoreError::Corrupt(format!("participant {id}: {e}"))
                })?))
            }
            None => Ok(None),
        }
    }
}

impl StateView for Reader {
    type Error = StoreError;

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if keys::is_nonce(key) {
            return self.deferred_get(key);
        }
        let participant = keys::is_participant(key);
        if participant
            && let Some(value) = self
                .participants
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(key)
        {
            return Ok(value.clone());
        }
        let table = opened(&self.txn, &self.state, STATE).map_err(db)?;
        let value = table.get(key).map_err(db)?.map(|v| v.value().to_vec());
        if participant {
            self.participants
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(key.to_vec(), value.clone());
        }
        Ok(value)
    }

    /// Replay markers are not scanned: some are held in memory only (the `deferred` module).
    fn scan(&self, prefix: &[u8]) -> Result<Entries, StoreError> {
        debug_assert!(!keys::is_nonce(prefix), "replay markers are not scanned");
        let table = opened(&self.txn, &self.state, STATE).map_err(db)?;
        let mut out = Vec::new();
        for entry in table.range(prefix..).map_err(db)? {
            let (k, v) = entry.map_err(db)?;
            if !k.value().starts_with(prefix) {
                break;
            }
            out.push((k.value().to_vec(), v.value().to_vec()));
        }
        Ok(out)
    }

    fn tree_node(&self, pos: &NodePos) -> Result<Option<Vec<u8>>, StoreError> {
        let table = match opened(&self.txn, &self.tree, TREE_NODES) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => {
                return Err(StoreError::Corrupt(
                    "the store has no state tree: it was written by an earlier version of the \
                     node; start from a fresh data directory"
                        .into(),
                ));
            }
            Err(e) => return Err(db(e)),
        };
        Ok(table
            .get(pos.to_key().as_slice())
            .map_err(db)?
            .map(|v| v.value().to_vec()))
    }
}

impl NodeSource for Reader {
    type Error = StoreError;

    fn node(&self, key: NodeKey) -> Result<Option<Digest>, StoreError> {
        if key.level < LOG_ROW_BITS {
            // Hashed from the leaves of the row that holds the subtree.
            let width = 1u64 << key.level;
            let Some(first) = key.index.checked_mul(width) else {
                return Ok(None);
            };
            let Some((start, leaves)) = self.row_leaves(first)? else {
                return Ok(None);
            };
            let Some(leaves) =
                leaves.get((first - start) as usize..(first - start + width) as usize)
            else {
                return Ok(None);
            };
            let mut subtree = Frontier::new();
            for leaf in leaves {
                subtree.append(*leaf);
            }
            return Ok(Some(subtree.root()));
        }
        let table = opened(&self.txn, &self.log, LOG_NODES).map_err(db)?;
        match table.get((key.level, key.index)).map_err(db)? {
            Some(v) => {
                Ok(Some(Digest(v.value().try_into().map_err(|_| {
                    StoreError::Corrupt("log node length".into())
                })?)))
            }
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use caravan_sdk::block::CommitCertificate;
    use caravan_sdk::genesis::{GenesisContent, MemberCard, Params};
    use caravan_sdk::ids::{AgencyId, Nonce};
    use caravan_sdk::keys::Keypair;
    use caravan_sdk::tx::{Body, Role, UnsignedTx};

    use super::*;
    use crate::execution::{Verified, build_block};

    fn test_genesis(name: &str) -> (Genesis, Keypair) {
        let admin = Keypair::from_seed(&[3; 32]);
        let mut genesis = Genesis::new(GenesisContent {
            chain_name: name.into(),
            created: "test".into(),
            agencies: vec![MemberCard {
                agency: AgencyId::new("CN-QDG-CUSTOMS").expect("id"),
                name: "Qingdao".into(),
                country: "CN".into(),
                roles: vec![Role::Registry],
                validator_key: Keypair::from_seed(&[1; 32]).public(),
                network_key: Keypair::from_seed(&[2; 32]).public(),
                admin_key: admin.public(),
                p2p_address: "127.0.0.1:1".into(),
                api_url: "http://127.0.0.1:2".into(),
            }],
            params: Params::default(),
        });
        let id = genesis.content.agencies[0].agency.clone();
        genesis.sign(&id, &admin).expect("sign");
        (genesis, admin)
    }

    #[test]
    fn blocks_survive_reopening_and_foreign_stores_are_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("ledger.redb");
        let (genesis, admin) = test_genesis("a");
        let chain_id = genesis.chain_id();
        let store = Store::open(&path, &genesis, &chain_id).expect("open");
        assert_eq!(store.tip().expect("tip").height, Height(0));
        // Before the first block there is no certified header to prove against.
        assert!(
            store
                .reader()
                .expect("reader")
                .proven_state(b"p/CN-QDG-CUSTOMS")
                .expect("read")
                .is_none()
        );
        // The genesis tip's state root is the tree over the genesis entries.
        let genesis_leaves: Vec<_> = Store::genesis_entries(&genesis)
            .iter()
            .map(|(k, v)| {
                (
                    caravan_sdk::state_tree::key_hash(k),
                    caravan_sdk::state_tree::value_hash(v),
                )
            })
            .collect();
        assert_eq!(
            store.tip().expect("tip").state_root,
            caravan_sdk::state_tree::root_of(&genesis_leaves)
        );
        let tx = UnsignedTx {
            chain_id,
            signer: ParticipantId::new("CN-QDG-CUSTOMS").expect("id"),
            nonce: Nonce(1),
            body: Body::RegisterParticipant {
                id: ParticipantId::new("EXP-1").expect("id"),
                name: "Exporter".into(),
                roles: vec![Role::Enterprise],
                public_key: Keypair::from_seed(&[9; 32]).public(),
            },
        }
        .sign(&admin);
        let tip = store.tip().expect("tip");
        let reader = store.reader().expect("reader");
        let validators = genesis.content.validator_set();
        let (block, effects) = build_block(
            &reader,
            &chain_id,
            &tip,
            1,
            validators.validators[0].public_key,
            vec![tx.clone()],
            &Verified::new(64),
        )
        .map(|b| (b.block, b.effects))
        .expect("build");
        drop(reader);
        let certificate = CommitCertificate {
            height: Height(1),
            round: 0,
            block_id: block.id(),
            signatures: vec![],
        };
        // A reader keeps the participants it has read, and sees its own snapshot only.
        let exporter = keys::participant(&ParticipantId::new("EXP-1").expect("id"));
        let before = store.reader().expect("reader");
        assert_eq!(before.get(&exporter).expect("read"), None);
        store
            .commit_block(&block, &certificate, &effects)
            .expect("commit");
        let after = store.reader().expect("reader");
        for _ in 0..2 {
            assert_eq!(before.get(&exporter).expect("read"), None);
            assert!(after.get(&exporter).expect("read").is_some());
        }
        drop((before, after));
        drop(store);

        let store = Store::open(&path, &genesis, &chain_id).expect("reopen");
        let tip = store.tip().expect("tip");
        assert_eq!(tip.height, Height(1));
        assert_eq!(tip.block_id, block.id());
        let reader = store.reader().expect("reader");
        assert!(
            reader
                .participant(&ParticipantId::new("EXP-1").expect("id"))
                .expect("read")
                .is_some()
        );
        assert!(reader.tx(&tx.id()).expect("read").is_some());
        let bundle = reader.bundle(&tx.id()).expect("bundle").expect("present");
        assert_eq!(bundle.item.expect("item").transaction, tx);
        // State proofs at the tip: the registered participant is present, with its stored
        // value; a key never written is absent; both under the tip header's state root.
        let registered = keys::participant(&ParticipantId::new("EXP-1").expect("id"));
        for (key, present) in [(registered, true), (b"p/NOBODY".to_vec(), false)] {
            let state = reader
                .proven_state(&key)
                .expect("proof")
                .expect("a certified tip");
            assert_eq!(state.header, block.header);
            assert_eq!(state.value.is_some(), present);
            assert_eq!(state.value, reader.get(&key).expect("read"));
            state
                .proof
                .verify(&block.header.state_root, &key, state.value.as_deref())
                .expect("verifies");
        }
        drop(reader);
        drop(store);

        let (other, _) = test_genesis("b");
        assert!(matches!(
            Store::open(&path, &other, &other.chain_id()),
            Err(StoreError::WrongChain { .. })
        ));
    }

    /// A store holding blocks of synthetic transactions at the given log positions (the store
    /// takes receipts as given): one block per entry of `blocks`, with its transactions' ids and
    /// the log position of its first. Blocks that follow each other in the log carry the real log
    /// nodes; a block after a gap starts from made-up peaks of the missing part.
    fn store_with(blocks: &[(&[TxId], u64)]) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tmp");
        let (genesis, _) = test_genesis("index");
        let chain_id = genesis.chain_id();
        let store =
            Store::open(&dir.path().join("ledger.redb"), &genesis, &chain_id).expect("open");
        for (ids, first_log) in blocks {
            commit_synthetic(&store, ids, *first_log);
        }
        (dir, store)
    }

    /// Commits a block of synthetic transactions (see [`store_with`]) on the store's tip.
    fn commit_synthetic(store: &Store, ids: &[TxId], first_log: u64) {
        commit_synthetic_with(store, ids, first_log, Vec::new());
    }

    /// [`commit_synthetic`] with the block's state writes.
    fn commit_synthetic_with(
        store: &Store,
        ids: &[TxId],
        first_log: u64,
        writes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    ) {
        let (genesis, _) = test_genesis("index");
        let chain_id = genesis.chain_id();
        let validators = genesis.content.validator_set();
        let parent = store.tip().expect("tip");
        {
            let first_log = &first_log;
            let height = parent.height.next();
            let mut log = parent.log.clone();
            if log.size() != *first_log {
                log = Frontier::from_parts(
                    *first_log,
                    vec![Digest::ZERO; first_log.count_ones() as usize],
                )
                .expect("frontier");
            }
            let mut receipts = Vec::new();
            let mut log_nodes = Vec::new();
            for (i, id) in ids.iter().enumerate() {
                let receipt = Receipt {
                    height,
                    index: i as u32,
                    log_index: log.size(),
                    outcome: caravan_sdk::tx::Outcome::Accepted,
                };
                log_nodes.extend(
                    log.append(
                        LogEntry {
                            tx_id: *id,
                            receipt: receipt.clone(),
                        }
                        .leaf_hash(),
                    ),
                );
                receipts.push(receipt);
            }
            let size = log.size();
            let block = Block {
                header: caravan_sdk::block::Header {
                    chain_id,
                    height,
                    time_ms: height.0,
                    parent: parent.block_id,
                    transactions_root: Digest::ZERO,
                    transaction_count: ids.len() as u32,
                    log_root: log.root(),
                    log_size: size,
                    state_root: parent.state_root,
                    validators_hash: Digest::ZERO,
                    next_validators_hash: Digest::ZERO,
                    proposer: validators.validators[0].public_key,
                },
                transactions: Vec::new(),
            };
            let tip = Tip {
                height,
                block_id: block.id(),
                time_ms: height.0,
                state_root: parent.state_root,
                log,
            };
            let effects = BlockEffects {
                tx_ids: ids.to_vec(),
                receipts,
                writes,
                tree_nodes: Vec::new(),
                tip: tip.clone(),
                validators: validators.clone(),
                validators_hash: Digest::ZERO,
                next_validators_hash: Digest::ZERO,
                new_validators: None,
                log_nodes,
            };
            let certificate = CommitCertificate {
                height,
                round: 0,
                block_id: block.id(),
                signatures: vec![],
            };
            store
                .commit_block(&block, &certificate, &effects)
                .expect("commit");
        }
    }

    #[test]
    fn the_transaction_index_finds_transactions_of_every_epoch() {
        let ids: Vec<TxId> = (1u8..=4).map(|i| TxId(Digest([i; 32]))).collect();
        let late = 3 << tx_index::TX_EPOCH_BITS;
        let (_dir, store) = store_with(&[(&ids[..2], 0), (&ids[2..], late + 5)]);
        let reader = store.reader().expect("reader");
        let block_ids: Vec<BlockId> = (1..=2)
            .map(|h| store.block(Height(h)).expect("read").expect("block").0.id())
            .collect();
        for (i, id) in ids.iter().enumerate() {
            let record = reader.tx(id).expect("read").expect("indexed");
            let (height, log_index) = if i < 2 {
                (1, i as u64)
            } else {
                (2, late + 5 + i as u64 - 2)
            };
            assert_eq!(record.receipt.height, Height(height));
            assert_eq!(record.receipt.index, (i % 2) as u32);
            assert_eq!(record.receipt.log_index, log_index);
            assert_eq!(record.block_id, block_ids[height as usize - 1]);
        }
        assert!(reader.tx(&TxId(Digest([9; 32]))).expect("read").is_none());
        // Looked for from a later log size, the early ones are not found, the late ones are.
        for (i, id) in ids.iter().enumerate() {
            let found = reader.tx_since(id, late).expect("read").is_some();
            assert_eq!(found, i >= 2, "transaction {i} looked for from {late}");
        }
        assert!(reader.tx_since(&ids[3], late + 7).expect("read").is_none());
    }

    /// Replay markers are held in memory and in a row per block, then written to the state
    /// table in batches; a reader finds each marker as of its own height, however old it is, and
    /// a store opened again holds the markers its rows have.
    #[test]
    fn replay_markers_are_stored_in_batches_and_read_as_of_each_height() {
        let marker = |name: &str, value: &str| {
            (
                keys::nonce(
                    &ParticipantId::new("RAIL-1").expect("id"),
                    Nonce(name.len() as u64 * 1000 + u64::from(name.as_bytes()[0])),
                ),
                Some(value.as_bytes().to_vec()),
            )
        };
        let key = |name: &str| marker(name, "").0;
        let (dir, store) = store_with(&[]);
        store.deferred.write().expect("lock").set_batch(3);
        let at = |store: &Store, writes| {
            let size = store.tip().expect("tip").log.size();
            commit_synthetic_with(store, &[], size, writes)
        };
        let read = |reader: &Reader, name: &str| {
            reader
                .get(&key(name))
                .expect("read")
                .map(|v| String::from_utf8(v).expect("utf8"))
        };
        let stored = |store: &Store| {
            let txn = store.db.begin_read().expect("read");
            let rows: Vec<u64> = txn
                .open_table(DEFERRED)
                .expect("rows")
                .iter()
                .expect("rows")
                .map(|r| r.expect("row").0.value())
                .collect();
            let state = txn.open_table(STATE).expect("state");
            let a = state
                .get(key("a").as_slice())
                .expect("get")
                .map(|v| v.value().to_vec());
            (rows, a)
        };
        at(&store, vec![marker("a", "1"), marker("b", "1")]);
        let r1 = store.reader().expect("reader");
        // The second block completes a batch of three: the state table gets the newest of each.
        at(&store, vec![marker("a", "2"), marker("c", "2")]);
        assert_eq!(stored(&store), (vec![], Some(b"2".to_vec())));
        let r2 = store.reader().expect("reader");
        at(&store, vec![marker("d", "3")]);
        at(&store, vec![marker("e", "4"), marker("f", "4")]);
        at(&store, vec![marker("a", "5")]);
        assert_eq!(stored(&store), (vec![5], Some(b"2".to_vec())));
        let r5 = store.reader().expect("reader");
        // The first reader's markers are no longer held, nor in its state table: its rows.
        for (reader, expected) in [
            (&r1, [Some("1"), Some("1"), None, None, None]),
            (&r2, [Some("2"), Some("1"), Some("2"), None, None]),
            (&r5, [Some("5"), Some("1"), Some("2"), Some("3"), Some("4")]),
        ] {
            for (name, value) in ["a", "b", "c", "d", "f"].iter().zip(expected) {
                assert_eq!(read(reader, name).as_deref(), value, "{name}");
            }
            assert_eq!(read(reader, "z"), None);
        }
        drop((r1, r2, r5));
        let path = dir.path().join("ledger.redb");
        drop(store);
        let (genesis, _) = test_genesis("index");
        let store = Store::open(&path, &genesis, &genesis.chain_id()).expect("open");
        let reader = store.reader().expect("reader");
        for (name, value) in [("a", "5"), ("b", "1"), ("d", "3"), ("f", "4")] {
            assert_eq!(read(&reader, name).as_deref(), Some(value), "{name}");
        }
    }

    /// The highest stored nonce of each signer is read from the state table at open, and a
    /// marker above it is answered without the table; those at or below it are still found.
    #[test]
    fn each_signers_highest_stored_nonce_is_read_at_open() {
        let marker = |signer: &str, nonce: u64| {
            keys::nonce(&ParticipantId::new(signer).expect("id"), Nonce(nonce))
        };
        // Signers whose ids share prefixes, and nonces across the byte boundaries.
        let stored = [
            ("RAIL", 7),
            ("RAIL-1", 5),
            ("RAIL-1", 900),
            ("RAIL-10", 3),
            ("BANK", 1 << 40),
            ("BANK", 1),
        ];
        let (dir, store) = store_with(&[]);
        store.deferred.write().expect("lock").set_batch(2);
        let writes = stored
            .iter()
            .map(|(s, n)| (marker(s, *n), Some(vec![*n as u8; 32])))
            .collect();
        commit_synthetic_with(&store, &[], 0, writes);
        let path = dir.path().join("ledger.redb");
        drop(store);
        let (genesis, _) = test_genesis("index");
        let store = Store::open(&path, &genesis, &genesis.chain_id()).expect("open");
        let reader = store.reader().expect("reader");
        let mut highest: Vec<(String, u64)> = reader
            .highest_stored_nonces()
            .expect("scan")
            .into_iter()
            .map(|(k, n)| (String::from_utf8(k).expect("utf8"), n))
            .collect();
        highest.sort();
        let expected = [
            ("BANK", 1 << 40),
            ("RAIL-1", 900),
            ("RAIL-10", 3),
            ("RAIL", 7),
        ];
        assert_eq!(
            highest,
            expected.map(|(s, n)| (format!("n/{s}/"), n)).to_vec()
        );
        for (signer, nonce) in stored {
            assert_eq!(
                reader.get(&marker(signer, nonce)).expect("get"),
                Some(vec![nonce as u8; 32]),
                "{signer} {nonce}"
            );
        }
        let deferred = store.deferred.read().expect("lock");
        for (signer, nonce, not_stored) in [
            ("RAIL-1", 899, false),
            ("RAIL-1", 901, true),
            ("RAIL-10", 4, true),
            ("CARRIER", 0, true),
            ("BANK", 2, false),
        ] {
            assert_eq!(
                deferred.not_stored(&marker(signer, nonce)),
                not_stored,
                "{signer} {nonce}"
            );
            assert_eq!(reader.get(&marker(signer, nonce)).expect("get"), None);
        }
    }

    /// The index stores an epoch when a block completes it, and holds the rest in memory, built
    /// again when the store opens; a reader finds what its snapshot has, however old it is.
    #[test]
    fn the_index_stores_each_epoch_once_it_is_complete() {
        let epoch = 1u64 << tx_index::TX_EPOCH_BITS;
        let id = |n: u64| {
            TxId(caravan_sdk::hash::hash(
                caravan_sdk::hash::Domain::Transaction,
                &n.to_be_bytes(),
            ))
        };
        let stored_rows = |store: &Store| {
            let txn = store.db.begin_read().expect("read");
            redb::ReadableTableMetadata::len(&txn.open_table(TX_INDEX).expect("index"))
                .expect("count")
        };
        let (dir, store) = store_with(&[]);
        let first: Vec<TxId> = (0..700).map(id).collect();
        commit_synthetic(&store, &first, 0);
        assert_eq!(stored_rows(&store), 0);
        let before = store.reader().expect("reader");
        // A block across the end of the first epoch stores its 702 entries in three rows ...
        let across: Vec<TxId> = (1000..1004).map(id).collect();
        commit_synthetic(&store, &across, epoch - 2);
        assert_eq!(stored_rows(&store), 3);
        let middle = store.reader().expect("reader");
        // ... and one across the end of the second stores the second's three in one.
        let second: Vec<TxId> = (2000..2003).map(id).collect();
        commit_synthetic(&store, &second, 2 * epoch - 1);
        assert_eq!(stored_rows(&store), 4);
        let after = store.reader().expect("reader");
        let positions: Vec<(TxId, u64)> = (first.iter().zip(0..))
            .chain(across.iter().zip(epoch - 2..))
            .chain(second.iter().zip(2 * epoch - 1..))
            .map(|(id, position)| (*id, position))
            .collect();
        let check = |reader: &Reader, size: u64| {
            for (id, position) in &positions {
                let found = reader.tx(id).expect("read").map(|r| r.receipt.log_index);
                assert_eq!(found, (*position < size).then_some(*position), "{position}");
            }
            assert!(reader.tx(&id(99_999)).expect("read").is_none());
        };
        // The first reader's index has nothing, and the memory no longer the first epoch: it
        // reads the log. The second's index has the first epoch.
        check(&before, 700);
        check(&middle, epoch + 2);
        check(&after, 2 * epoch + 2);
        drop((before, middle, after));
        // Opened again, the store holds the entries of the epoch being filled only.
        let path = dir.path().join("ledger.redb");
        drop(store);
        let (genesis, _) = test_genesis("index");
        let store = Store::open(&path, &genesis, &genesis.chain_id()).expect("open");
        {
            let recent = store.recent.lock().expect("lock");
            assert_eq!(recent.get(&second[2]), Some(2 * epoch + 1));
            assert_eq!(recent.get(&second[1]), Some(2 * epoch));
            assert_eq!(recent.get(&second[0]), None);
            assert_eq!(recent.get(&first[0]), None);
        }
        check(&store.reader().expect("reader"), 2 * epoch + 2);
    }

    /// The log's entries are stored in rows and its small subtrees hashed from them: every
    /// transaction is found with its receipt, and proves its inclusion at every later block, and
    /// every block's log is consistent with every later one, across blocks of every size.
    #[test]
    fn the_log_is_stored_in_rows_and_proves_every_entry() {
        let sizes = [3usize, 300, 1, 0, 253, 700, 9, 256];
        let ids: Vec<TxId> = (0..sizes.iter().sum::<usize>() as u64)
            .map(|i| {
                TxId(caravan_sdk::hash::hash(
                    caravan_sdk::hash::Domain::Transaction,
                    &i.to_be_bytes(),
                ))
            })
            .collect();
        let mut blocks = Vec::new();
        let mut first = 0;
        for size in sizes {
            blocks.push((&ids[first..first + size], first as u64));
            first += size;
        }
        let (dir, store) = store_with(&blocks);
        let reader = store.reader().expect("reader");
        let headers: Vec<_> = (1..=sizes.len() as u64)
            .map(|h| {
                store
                    .block(Height(h))
                    .expect("read")
                    .expect("block")
                    .0
                    .header
            })
            .collect();
        for (position, id) in ids.iter().enumerate() {
            let position = position as u64;
            let record = reader.tx(id).expect("read").expect("indexed");
            assert_eq!(record.receipt.log_index, position);
            let own = &headers[record.receipt.height.0 as usize - 1];
            assert!(
                own.log_size > position && own.log_size - own.transaction_count as u64 <= position
            );
            let leaf = LogEntry {
                tx_id: *id,
                receipt: record.receipt.clone(),
            }
            .leaf_hash();
            for header in headers.iter().filter(|h| h.log_size > position) {
                inclusion_proof(&reader, position, header.log_size)
                    .expect("inclusion proof")
                    .verify(&leaf, &header.log_root)
                    .unwrap_or_else(|e| panic!("{position} in {}: {e}", header.log_size));
            }
        }
        for old in &headers {
            for new in headers.iter().filter(|h| h.log_size >= old.log_size) {
                reader
                    .consistency(old.log_size, new.log_size)
                    .expect("consistency proof")
                    .verify(&old.log_root, &new.log_root)
                    .unwrap_or_else(|e| panic!("{} to {}: {e}", old.log_size, new.log_size));
            }
        }
        // Rows never cross a multiple of their size, and only larger subtrees are stored.
        let txn = store.db.begin_read().expect("read");
        let rows = txn.open_table(LOG_ENTRIES).expect("rows");
        let mut next = 0;
        for row in rows.iter().expect("rows") {
            let (start, bytes) = row.expect("row");
            let row = LogRow::read(start.value(), bytes.value()).expect("row");
            assert_eq!(row.start, next, "rows follow each other");
            assert!(row.count >= 1 && row.count <= 1 << LOG_ROW_BITS);
            assert_eq!((row.start >> LOG_ROW_BITS), (row.end() - 1) >> LOG_ROW_BITS);
            next = row.end();
        }
        assert_eq!(next, ids.len() as u64);
        let nodes = txn.open_table(LOG_NODES).expect("nodes");
        assert!(redb::ReadableTableMetadata::len(&nodes).expect("count") > 0);
        for node in nodes.iter().expect("nodes") {
            assert!(node.expect("node").0.value().0 >= LOG_ROW_BITS);
        }
        drop((rows, nodes, txn, reader));
        // A damaged row is reported as such.
        let path = dir.path().join("ledger.redb");
        drop(store);
        {
            let db = Database::open(&path).expect("redb");
            let txn = db.begin_write().expect("write");
            txn.open_table(LOG_ENTRIES)
                .expect("rows")
                .insert(0, [0u8, 0, 0, 9, 1, 2].as_slice())
                .expect("damage");
            txn.commit().expect("commit");
        }
        // The store reads the rows of the epoch its index has not stored yet when it opens.
        let (genesis, _) = test_genesis("index");
        match Store::open(&path, &genesis, &genesis.chain_id()) {
            Err(StoreError::Corrupt(message)) => {
                assert!(
                    message.contains("row at position 0 is cut short"),
                    "{message}"
                )
            }
            Err(other) => panic!("a damaged row read as {other:?}"),
            Ok(_) => panic!("a store with a damaged row opened"),
        }
    }

    #[test]
    fn stores_of_another_format_are_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("ledger.redb");
        let (genesis, _) = test_genesis("a");
        let chain_id = genesis.chain_id();
        drop(Store::open(&path, &genesis, &chain_id).expect("create"));
        // Writes the recorded format (or removes it) behind the store's back.
        let set_format = |format: Option<u32>| {
            let db = Database::open(&path).expect("redb");
            let txn = db.begin_write().expect("write");
            {
                let mut meta = txn.open_table(META).expect("meta");
                match format {
                    Some(f) => meta.insert("store_format", f.to_be_bytes().as_slice()),
                    None => meta.remove("store_format"),
                }
                .expect("write format");
            }
            txn.commit().expect("commit");
        };
        for (format, shown) in [(None, 1), (Some(7), 7)] {
            set_format(format);
            match Store::open(&path, &genesis, &chain_id) {
                Err(StoreError::Corrupt(message)) => assert!(
                    message.contains(&format!("the store has format {shown}"))
                        && message.contains("sync the ledger again"),
                    "{message}"
                ),
                Err(e) => panic!("format {shown}: {e}"),
                Ok(_) => panic!("a store of format {shown} was opened"),
            }
            // Set back, it opens again.
            set_format(Some(STORE_FORMAT));
            Store::open(&path, &genesis, &chain_id).expect("reopens");
        }
    }
}
