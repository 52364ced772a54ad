//! How the cost of writing a block grows with the ledger: commits blocks of anchored records
//! (each a transaction id, its receipt, its signer's nonce marker and its Merkle log leaf, as
//! the load benchmark's blocks carry) to a real store file with fsync, and prints the time per
//! block commit and per transaction as the ledger grows, then the time of a look-up by id.
//!
//! `cargo run --release -p caravan-node --example store_growth -- [TXS] [PER_BLOCK] [SIGNERS]`
//! (defaults: 2,000,000 transactions, blocks of 4,096, 1,024 signers).

use std::time::{Duration, Instant};

use caravan_node::execution::{BlockEffects, Tip, keys};
use caravan_node::store::Store;
use caravan_sdk::block::{Block, CommitCertificate, Header};
use caravan_sdk::genesis::{Genesis, GenesisContent, MemberCard, Params};
use caravan_sdk::hash::{Digest, Domain, hash};
use caravan_sdk::ids::{AgencyId, BlockId, Nonce, ParticipantId};
use caravan_sdk::keys::Keypair;
use caravan_sdk::tx::{LogEntry, Outcome, Receipt, Role};

fn arg(n: usize, default: u64) -> u64 {
    std::env::args()
        .nth(n)
        .map(|a| {
            a.replace(['_', ','], "")
                .parse()
                .unwrap_or_else(|_| panic!("argument {n} is not a number: {a}"))
        })
        .unwrap_or(default)
}

/// This process's resident memory in MiB, from /proc (0 where there is none).
fn resident_mib() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096 / (1024 * 1024))
}

fn genesis() -> Genesis {
    let admin = Keypair::from_seed(&[3; 32]);
    let mut genesis = Genesis::new(GenesisContent {
        chain_name: "store-growth".into(),
        created: "bench".into(),
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
    genesis
}

fn main() {
    let total = arg(1, 2_000_000);
    let per_block = arg(2, 4_096).max(1);
    let signers = arg(3, 1_024).max(1);
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("ledger.redb");
    let genesis = genesis();
    let chain_id = genesis.chain_id();
    let store = Store::open(&path, &genesis, &chain_id).expect("open the store");
    let validators = genesis.content.validator_set();
    let proposer = validators.validators[0].public_key;
    let signer_ids: Vec<ParticipantId> = (0..signers)
        .map(|i| ParticipantId::new(format!("RAIL-{i:05}")).expect("id"))
        .collect();
    let mut nonces = vec![0u64; signers as usize];
    // An anchored record's transaction is about 260 bytes.
    let body = vec![0x5au8; 260 * per_block as usize];

    println!(
        "store growth: {total} transactions in blocks of {per_block}, {signers} signers, {}",
        path.display()
    );
    println!(
        "{:>12} {:>8} {:>14} {:>12} {:>10} {:>10}",
        "ledger txs", "blocks", "ms per block", "us per tx", "file MiB", "RSS MiB"
    );
    let mut tip = store.tip().expect("tip");
    let mut written = 0u64;
    let mut window = Duration::ZERO;
    let mut window_blocks = 0u64;
    let report_every = (total / 20).max(per_block);
    let mut next_report = report_every;
    let all = Instant::now();
    while written < total {
        let n = per_block.min(total - written);
        let height = tip.height.next();
        let mut log = tip.log.clone();
        let mut log_nodes = Vec::new();
        let mut tx_ids = Vec::with_capacity(n as usize);
        let mut receipts = Vec::with_capacity(n as usize);
        let mut writes = Vec::with_capacity(n as usize);
        for i in 0..n {
            let seq = written + i;
            let id = caravan_sdk::ids::TxId(hash(Domain::Transaction, &seq.to_le_bytes()));
            let receipt = Receipt {
                height,
                index: i as u32,
                log_index: log.size(),
                outcome: Outcome::Accepted,
            };
            let leaf = LogEntry {
                tx_id: id,
                receipt: receipt.clone(),
            }
            .leaf_hash();
            log_nodes.extend(log.append(leaf));
            let s = (seq % signers) as usize;
            nonces[s] += 1;
            writes.push((
                keys::nonce(&signer_ids[s], Nonce(nonces[s])),
                Some(id.0.as_bytes().to_vec()),
            ));
            tx_ids.push(id);
            receipts.push(receipt);
        }
        writes.sort();
        let header = Header {
            chain_id,
            height,
            time_ms: height.0,
            parent: tip.block_id,
            transactions_root: Digest::ZERO,
            transaction_count: n as u32,
            log_root: log.root(),
            log_size: log.size(),
            state_root: tip.state_root,
            validators_hash: Digest::ZERO,
            next_validators_hash: Digest::ZERO,
            proposer,
        };
        let block = Block {
            header,
            transactions: Vec::new(),
        };
        let block_id: BlockId = block.id();
        let next = Tip {
            height,
            block_id,
            time_ms: height.0,
            state_root: tip.state_root,
            log,
        };
        let effects = BlockEffects {
            tx_ids,
            receipts,
            writes,
            tree_nodes: Vec::new(),
            tip: next.clone(),
            validators: validators.clone(),
            validators_hash: Digest::ZERO,
            next_validators_hash: Digest::ZERO,
            new_validators: None,
            log_nodes,
        };
        let certificate = CommitCertificate {
            height,
            round: 0,
            block_id,
            signatures: vec![],
        };
        let encoded = &body[..260 * n as usize];
        let started = Instant::now();
        store
            .commit_block_with(&block, encoded, &certificate, &effects, true)
            .expect("commit");
        window += started.elapsed();
        window_blocks += 1;
        written += n;
        tip = next;
        if written >= next_report || written == total {
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            let ms = window.as_secs_f64() * 1e3 / window_blocks as f64;
            println!(
                "{written:>12} {:>8} {ms:>14.1} {:>12.2} {:>10.0} {:>10}",
                height.0,
                ms * 1e3 / per_block as f64,
                size as f64 / (1024.0 * 1024.0),
                resident_mib()
            );
            window = Duration::ZERO;
            window_blocks = 0;
            next_report += report_every;
        }
    }
    println!(
        "{written} transactions in {:.1} s",
        all.elapsed().as_secs_f64()
    );
    // Look-ups by id, as the API and the explorer make them: committed transactions from all
    // over the ledger, and ids that are not in it.
    let reader = store.reader().expect("reader");
    let probes = 10_000u64;
    for (what, present) in [("committed", true), ("absent", false)] {
        let started = Instant::now();
        for i in 0..probes {
            let seq = (i * 7_919_993) % written;
            let seed = if present { seq } else { written + seq };
            let id = caravan_sdk::ids::TxId(hash(Domain::Transaction, &seed.to_le_bytes()));
            let found = reader.tx(&id).expect("look-up");
            assert_eq!(found.is_some(), present, "look-up of transaction {seed}");
        }
        println!(
            "look-up by id, {what}: {:.1} us",
            started.elapsed().as_secs_f64() * 1e6 / probes as f64
        );
    }
}
