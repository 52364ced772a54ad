//! Test data built as the sdk's own bundle tests build it, through the sdk's public API: a
//! federation of four agencies, transactions committed one per block in a Merkle log with a
//! quorum's certificate over each header, and state proofs under a certified state root.

use caravan_sdk::block::{
    CommitCertificate, CommitSignature, Header, VoteKind, transactions_root, vote_digest,
};
use caravan_sdk::bundle::{
    BUNDLE_VERSION, OLDEST_BUNDLE_VERSION, ProofBundle, ProvenRegistration, ProvenState, ProvenTx,
};
use caravan_sdk::credential::Credential;
use caravan_sdk::genesis::{Genesis, GenesisContent, MemberCard, Params};
use caravan_sdk::hash::{Digest, Domain, hash};
use caravan_sdk::ids::{AgencyId, BlockId, Height, Nonce, ParticipantId};
use caravan_sdk::keys::{Keypair, PublicKey};
use caravan_sdk::merkle::{MemoryLog, inclusion_proof};
use caravan_sdk::state_tree::{key_hash, prove_from_entries, root_of, value_hash};
use caravan_sdk::trade::model::{CreditRecord, CustomsGrade, Grade282};
use caravan_sdk::trade::sample;
use caravan_sdk::tx::{Body, LogEntry, Outcome, Receipt, Role, SignedTx, UnsignedTx};

/// A genesis of `n` agencies signed by all, with each agency's (validator, admin) keys.
pub fn test_genesis(n: u8) -> (Genesis, Vec<(Keypair, Keypair)>) {
    genesis_named("test", n)
}

/// [`test_genesis`] with another chain name: another federation with the same keys.
pub fn genesis_named(chain_name: &str, n: u8) -> (Genesis, Vec<(Keypair, Keypair)>) {
    let mut keys = Vec::new();
    let mut cards = Vec::new();
    for i in 0..n {
        let validator = Keypair::from_seed(&[i * 3 + 1; 32]);
        let network = Keypair::from_seed(&[i * 3 + 2; 32]);
        let admin = Keypair::from_seed(&[i * 3 + 3; 32]);
        cards.push(MemberCard {
            agency: AgencyId::new(format!("AG-{i}")).expect("id"),
            name: format!("Agency {i}"),
            country: "CN".into(),
            roles: vec![Role::Registry, Role::Customs],
            validator_key: validator.public(),
            network_key: network.public(),
            admin_key: admin.public(),
            p2p_address: format!("127.0.0.1:{}", 30000 + u16::from(i)),
            api_url: format!("http://127.0.0.1:{}", 31000 + u16::from(i)),
        });
        keys.push((validator, admin));
    }
    let mut genesis = Genesis::new(GenesisContent {
        chain_name: chain_name.into(),
        created: "2026-11-26T00:00:00Z".into(),
        agencies: cards,
        params: Params::default(),
    });
    for (i, (_, admin)) in keys.iter().enumerate() {
        let id = genesis.content.agencies[i].agency.clone();
        genesis.sign(&id, admin).expect("sign");
    }
    (genesis, keys)
}

/// A quorum's (the first three validators') certificate over `header`.
fn certify(genesis: &Genesis, validator_keys: &[Keypair], header: &Header) -> CommitCertificate {
    let digest = vote_digest(
        &genesis.chain_id(),
        VoteKind::Precommit,
        header.height,
        0,
        Some(&header.id()),
    );
    CommitCertificate {
        height: header.height,
        round: 0,
        block_id: header.id(),
        signatures: validator_keys[..3]
            .iter()
            .map(|validator| CommitSignature {
                validator: validator.public(),
                signature: validator.sign(&digest),
            })
            .collect(),
    }
}

/// A ledger built by hand, one certified block per transaction in the order given; returns
/// each transaction with its proofs against its own block.
pub fn prove_in_blocks(
    genesis: &Genesis,
    validator_keys: &[Keypair],
    transactions: Vec<SignedTx>,
) -> Vec<ProvenTx> {
    let chain_id = genesis.chain_id();
    let validators = genesis.content.validator_set();
    let mut log = MemoryLog::new();
    let mut parent = BlockId(Digest::ZERO);
    let mut proven = Vec::new();
    for (i, tx) in (0u64..).zip(transactions) {
        let height = Height(i + 1);
        let receipt = Receipt {
            height,
            index: 0,
            log_index: i,
            outcome: Outcome::Accepted,
        };
        log.append(
            LogEntry {
                tx_id: tx.id(),
                receipt: receipt.clone(),
            }
            .leaf_hash(),
        );
        let header = Header {
            chain_id,
            height,
            time_ms: 1_000 * (i + 1),
            parent,
            transactions_root: transactions_root(std::slice::from_ref(&tx)),
            transaction_count: 1,
            log_root: log.root(),
            log_size: log.size(),
            state_root: Digest([i as u8; 32]),
            validators_hash: validators.hash(),
            next_validators_hash: validators.hash(),
            proposer: validators.validators[0].public_key,
        };
        parent = header.id();
        let certificate = certify(genesis, validator_keys, &header);
        let inclusion = inclusion_proof(&log, i, log.size()).expect("proof");
        proven.push(ProvenTx {
            transaction: tx,
            receipt,
            inclusion,
            header,
            certificate,
        });
    }
    proven
}

/// Agency 0 registers a participant (block 1), agency 1 anchors two notes (blocks 2 and 3),
/// the participant anchors a record (block 4): the genesis, the record's bundle (the current
/// version: the registration proven under the record's header), and the genesis keys.
pub fn sample_bundle() -> (Genesis, ProofBundle, Vec<(Keypair, Keypair)>) {
    sample_bundle_in(BUNDLE_VERSION)
}

/// [`sample_bundle`] as a version 2 bundle: the registration under its own header and
/// certificate.
pub fn sample_bundle_v2() -> (Genesis, ProofBundle, Vec<(Keypair, Keypair)>) {
    sample_bundle_in(OLDEST_BUNDLE_VERSION)
}

fn sample_bundle_in(version: u32) -> (Genesis, ProofBundle, Vec<(Keypair, Keypair)>) {
    let (genesis, keys) = test_genesis(4);
    let chain_id = genesis.chain_id();
    let participant = Keypair::from_seed(&[77; 32]);
    let exporter = ParticipantId::new("CN-EXPORTER-1").expect("id");
    let registration = UnsignedTx {
        chain_id,
        signer: ParticipantId::from(&genesis.content.agencies[0].agency),
        nonce: Nonce(1),
        body: Body::RegisterParticipant {
            id: exporter.clone(),
            name: "Exporter".into(),
            roles: vec![Role::Enterprise],
            public_key: participant.public(),
        },
    }
    .sign(&keys[0].1);
    let record = UnsignedTx {
        chain_id,
        signer: exporter,
        nonce: Nonce(1),
        body: Body::AnchorRecord {
            kind: "commercial_invoice".into(),
            document_hash: Digest([5; 32]),
            metadata: vec![("number".into(), "INV-1".into())],
        },
    }
    .sign(&participant);
    let notes = (1..=2).map(|n| {
        UnsignedTx {
            chain_id,
            signer: ParticipantId::from(&genesis.content.agencies[1].agency),
            nonce: Nonce(n),
            body: Body::AnchorRecord {
                kind: "note".into(),
                document_hash: Digest([n as u8; 32]),
                metadata: Vec::new(),
            },
        }
        .sign(&keys[1].1)
    });
    let transactions = std::iter::once(registration)
        .chain(notes)
        .chain([record])
        .collect();
    let validator_keys: Vec<Keypair> = keys.iter().map(|(v, _)| v.clone()).collect();
    let proven = prove_in_blocks(&genesis, &validator_keys, transactions);
    let item = proven.last().expect("the record").clone();
    let (signer_registration, registration) = if version == OLDEST_BUNDLE_VERSION {
        (Some(proven[0].clone()), None)
    } else {
        let mut log = MemoryLog::new();
        for proven in &proven {
            log.append(
                LogEntry {
                    tx_id: proven.transaction.id(),
                    receipt: proven.receipt.clone(),
                }
                .leaf_hash(),
            );
        }
        let registration = ProvenRegistration::prove(
            &log,
            proven[0].transaction.clone(),
            proven[0].receipt.clone(),
            &item.inclusion,
        )
        .expect("the registration is before the record");
        (None, Some(registration))
    };
    let bundle = ProofBundle {
        version,
        item: Some(item),
        signer_registration,
        state: None,
        validator_changes: Vec::new(),
        registration,
    };
    (genesis, bundle, keys)
}

/// A certified header at `height` whose state root is the tree over `entries`, and the state
/// bundle of `key` under it.
pub fn state_bundle(
    genesis: &Genesis,
    keys: &[(Keypair, Keypair)],
    height: u64,
    entries: &[(Vec<u8>, Vec<u8>)],
    key: &[u8],
) -> ProofBundle {
    let validators = genesis.content.validator_set();
    let leaves: Vec<_> = entries
        .iter()
        .map(|(k, v)| (key_hash(k), value_hash(v)))
        .collect();
    let header = Header {
        chain_id: genesis.chain_id(),
        height: Height(height),
        time_ms: 1_000 * height,
        parent: BlockId(Digest([height as u8; 32])),
        transactions_root: transactions_root(&[]),
        transaction_count: 0,
        log_root: Digest([7; 32]),
        log_size: 3,
        state_root: root_of(&leaves),
        validators_hash: validators.hash(),
        next_validators_hash: validators.hash(),
        proposer: validators.validators[0].public_key,
    };
    let validator_keys: Vec<Keypair> = keys.iter().map(|(v, _)| v.clone()).collect();
    let certificate = certify(genesis, &validator_keys, &header);
    let value = entries
        .iter()
        .find(|(k, _)| k.as_slice() == key)
        .map(|(_, v)| v.clone());
    ProofBundle {
        version: BUNDLE_VERSION,
        item: None,
        signer_registration: None,
        registration: None,
        state: Some(ProvenState {
            key: key.to_vec(),
            value,
            proof: prove_from_entries(entries, key),
            header,
            certificate,
        }),
        validator_changes: Vec::new(),
    }
}

/// Thirty enterprise entries and one credit attestation, `c/attestation-1`.
pub fn sample_entries() -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut entries: Vec<(Vec<u8>, Vec<u8>)> = (0..30)
        .map(|i| (format!("e/SCO-CN-{i:06}").into_bytes(), vec![i as u8; 40]))
        .collect();
    entries.push((b"c/attestation-1".to_vec(), b"live".to_vec()));
    entries
}

/// Agency 0 attests a customs grade (Order 282, AEO) in block 1: the genesis, and the
/// attestation as a Verifiable Credential.
pub fn grade_credential() -> (Genesis, Credential) {
    let (genesis, keys) = test_genesis(4);
    let tx = UnsignedTx {
        chain_id: genesis.chain_id(),
        signer: ParticipantId::from(&genesis.content.agencies[0].agency),
        nonce: Nonce(1),
        body: Body::AttestCredit {
            sco_code: sample::sco("CN", 123),
            record: CreditRecord::CustomsGrade {
                grade: CustomsGrade::Order282(Grade282::AdvancedCertified),
            },
            valid_from: sample::date(2026, 4, 1),
            valid_until: Some(sample::date(2027, 3, 31)),
            evidence_hash: hash(Domain::Content, b"GACC decision 2026-0412"),
        },
    }
    .sign(&keys[0].1);
    let validator_keys: Vec<Keypair> = keys.into_iter().map(|(v, _)| v).collect();
    let bundle = ProofBundle {
        version: BUNDLE_VERSION,
        item: prove_in_blocks(&genesis, &validator_keys, vec![tx]).pop(),
        signer_registration: None,
        state: None,
        validator_changes: Vec::new(),
        registration: None,
    };
    let credential = Credential::from_bundle(&genesis, &bundle).expect("a credit attestation");
    (genesis, credential)
}

/// A key file's text, as `caravan_sdk::keys::write_key_file` writes it, naming `public_key`
/// (the key's own, or another to make a bad file).
pub fn key_file_text(key: &Keypair, public_key: &PublicKey) -> String {
    serde_json::to_string_pretty(&serde_json::json!({
        "kind": "participant",
        "public_key": public_key.to_hex(),
        "secret_seed": key.seed().iter().map(|b| format!("{b:02x}")).collect::<String>(),
    }))
    .expect("json")
}
