//! A federation of four agencies and proof bundles built as the ledger builds them: signed
//! transactions, their log entries in a Merkle log of a chosen number of entries, a header over
//! that log and a quorum's commit certificate. Shared by the `verify` and `sizes` benchmarks;
//! it uses only the sdk's public API, and every bundle it returns has been verified.

use std::collections::BTreeMap;
use std::convert::Infallible;

use caravan_sdk::block::{
    CommitCertificate, CommitSignature, Header, ValidatorSet, VoteKind, transactions_root,
    vote_digest,
};
use caravan_sdk::bundle::{
    BUNDLE_VERSION, ProofBundle, ProvenRegistration, ProvenTx, verify_bundle,
};
use caravan_sdk::genesis::{Genesis, GenesisContent, MemberCard, Params};
use caravan_sdk::hash::Digest;
use caravan_sdk::ids::{AgencyId, BlockId, ChainId, Height, Nonce, ParticipantId};
use caravan_sdk::keys::Keypair;
use caravan_sdk::merkle::{
    Frontier, NodeKey, NodeSource, SharedSubtree, inclusion_path_len, inclusion_proof, node_hash,
};
use caravan_sdk::tx::{Body, LogEntry, Outcome, Receipt, Role, SignedTx, UnsignedTx};

/// The founding agencies (id, country), sorted by id as a genesis requires.
const AGENCIES: [(&str, &str); 4] = [
    ("CN-QDG-CUSTOMS", "CN"),
    ("KZ-KGS-CUSTOMS", "KZ"),
    ("RU-FBS-BORDER", "RU"),
    ("UZ-TAS-CUSTOMS", "UZ"),
];

/// Entries per block before the last one: fixes the height of the block that holds the last
/// entries, which the bundle carries in its header and receipts.
const ENTRIES_PER_BLOCK: u64 = 1_000;

/// A block time in 2026, milliseconds since the Unix epoch: the size of a real timestamp.
const BLOCK_TIME_MS: u64 = 1_785_000_000_000;

/// Who signed the transaction a bundle proves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signer {
    /// A founding agency, whose admin key is in the genesis: the bundle carries one proven
    /// transaction.
    Founder,
    /// A participant registered on the ledger by an agency when the log began (its first
    /// entry): the bundle also carries the registration, which binds the participant's key,
    /// proven under the record's header by the longest path a registration can have there.
    RegisteredParticipant,
    /// A participant registered in the same block as its record, just before it, its entry the
    /// record's sibling in the log: the registration's path is empty (the best case; how long
    /// it is depends on where the two entries' paths part, not on their distance).
    RegisteredJustBefore,
}

impl Signer {
    /// A name for tables and benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            Signer::Founder => "founder_signed",
            Signer::RegisteredParticipant => "registered_participant",
            Signer::RegisteredJustBefore => "registered_just_before",
        }
    }
}

/// Where the proven transactions sit in the log, which sets the length of their inclusion
/// proofs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// The last entries of the log, committed in its last block: a record just committed.
    LastEntries,
    /// The first entries of the log, proven against a header over the whole log: the longest
    /// inclusion path any entry of a log of that size has, `ceil(log2(entries))` hashes. A
    /// registered participant's record sits where its path and its registration's (at the
    /// first entry) are longest together.
    LongestPath,
}

impl Placement {
    /// A name for tables and benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            Placement::LastEntries => "last_entry",
            Placement::LongestPath => "longest_path",
        }
    }
}

/// One verified bundle and what it is.
pub struct Case {
    /// Who signed the proven transaction.
    pub signer: Signer,
    /// Where it sits in the log.
    pub placement: Placement,
    /// The bundle.
    pub bundle: ProofBundle,
}

/// A signed genesis of four agencies, with the keys that act for them.
pub struct Federation {
    /// The genesis, signed by every founder.
    pub genesis: Genesis,
    chain_id: ChainId,
    validators: ValidatorSet,
    /// Validator keys, in the order of the genesis's agencies.
    validator_keys: Vec<Keypair>,
    /// Admin keys, in the order of the genesis's agencies.
    admin_keys: Vec<Keypair>,
    participant_key: Keypair,
}

impl Federation {
    /// The federation; keys come from fixed seeds, so every run builds the same bytes.
    pub fn new() -> Self {
        let mut cards = Vec::new();
        let mut validator_keys = Vec::new();
        let mut admin_keys = Vec::new();
        for (i, (agency, country)) in (0u8..).zip(AGENCIES) {
            let validator = Keypair::from_seed(&[i * 3 + 1; 32]);
            let network = Keypair::from_seed(&[i * 3 + 2; 32]);
            let admin = Keypair::from_seed(&[i * 3 + 3; 32]);
            cards.push(MemberCard {
                agency: AgencyId::new(agency).expect("a valid agency id"),
                name: format!("{agency} agency"),
                country: country.into(),
                roles: vec![Role::Registry, Role::Customs],
                validator_key: validator.public(),
                network_key: network.public(),
                admin_key: admin.public(),
                p2p_address: format!("10.0.0.{}:26656", i + 1),
                api_url: format!("https://node{}.caravan.example:8443", i + 1),
            });
            validator_keys.push(validator);
            admin_keys.push(admin);
        }
        let mut genesis = Genesis::new(GenesisContent {
            chain_name: "caravan-bench".into(),
            created: "2026-01-15T00:00:00Z".into(),
            agencies: cards,
            params: Params::default(),
        });
        for (card, admin) in genesis.content.agencies.clone().iter().zip(&admin_keys) {
            genesis
                .sign(&card.agency, admin)
                .expect("the founder signs");
        }
        let chain_id = genesis.verify().expect("the genesis verifies");
        let validators = genesis.content.validator_set();
        Federation {
            genesis,
            chain_id,
            validators,
            validator_keys,
            admin_keys,
            participant_key: Keypair::from_seed(&[200; 32]),
        }
    }

    /// The number of validators.
    pub fn validator_count(&self) -> usize {
        self.validators.validators.len()
    }

    /// The number of precommits a certificate carries: the smallest quorum.
    pub fn quorum(&self) -> usize {
        usize::try_from(self.validators.quorum_power()).expect("a small quorum")
    }

    /// Six verified bundles, each signer in each placement, over logs of `log_entries`
    /// entries (at least 16). Builds one log per placement, the two on two threads.
    pub fn cases(&self, log_entries: u64) -> Vec<Case> {
        assert!(log_entries >= 16, "the bundles need 16 entries of the log");
        let placements = [Placement::LastEntries, Placement::LongestPath];
        let built = std::thread::scope(|scope| {
            let threads = placements
                .map(|placement| scope.spawn(move || self.bundles(log_entries, placement)));
            threads.map(|thread| thread.join().expect("building a log does not panic"))
        });
        let mut cases = Vec::new();
        for (
            placement,
            [
                founder_signed,
                registered_participant,
                registered_just_before,
            ],
        ) in placements.into_iter().zip(built)
        {
            for (signer, bundle) in [
                (Signer::Founder, founder_signed),
                (Signer::RegisteredParticipant, registered_participant),
                (Signer::RegisteredJustBefore, registered_just_before),
            ] {
                verify_bundle(&self.genesis, &bundle).expect("the bundle verifies");
                cases.push(Case {
                    signer,
                    placement,
                    bundle,
                });
            }
        }
        cases
    }

    /// The founder-signed bundle and the two registered participants' bundles of one log.
    fn bundles(&self, entries: u64, placement: Placement) -> [ProofBundle; 3] {
        // Log positions: the early registration, the founder's record, the late registration,
        // its participant's record, the early-registered participant's record.
        let positions = match placement {
            Placement::LastEntries => [0, entries - 1, entries - 4, entries - 3, entries - 2],
            Placement::LongestPath => [0, 1, 2, 3, longest_pair(entries)],
        };
        let founder = ParticipantId::from(&self.genesis.content.agencies[0].agency);
        let early = ParticipantId::new("CN-HAINA-MACHINERY").expect("a valid id");
        let late = ParticipantId::new("KZ-ALMATY-TRADING").expect("a valid id");
        let key = &self.participant_key;
        let invoice = Digest([0xc1; 32]);
        let transactions = vec![
            self.register(&early, "Qingdao Haina Machinery Co., Ltd.", key, 1),
            self.sign_founder(UnsignedTx {
                chain_id: self.chain_id,
                signer: founder,
                nonce: Nonce(positions[1] + 1),
                body: Body::AnchorRecord {
                    kind: "customs_declaration".into(),
                    document_hash: Digest([0xd1; 32]),
                    metadata: vec![("number".into(), "CN-QDG-2026-0004711".into())],
                },
            }),
            self.register(&late, "Almaty Trading LLP", key, positions[2] + 1),
            self.invoice(&late, key, invoice, "INV-2026-0004712"),
            self.invoice(&early, key, invoice, "INV-2026-0004711"),
        ];
        let (proven, log) = self.prove(
            entries,
            placement,
            transactions.into_iter().zip(positions).collect(),
        );
        let [
            early_registration,
            founder_record,
            late_registration,
            late_record,
            early_record,
        ] = <[ProvenTx; 5]>::try_from(proven).unwrap_or_else(|_| unreachable!("five transactions"));
        [
            bundle(founder_record, None),
            registered(&log, early_record, &early_registration),
            registered(&log, late_record, &late_registration),
        ]
    }

    /// `count` bundles of distinct participants, each registered by the first founding agency
    /// and each anchoring one record with its own key, all committed in the last block of a log
    /// of `entries` entries (the registrations first): what a bank verifying the records of many
    /// enterprises is given. Each bundle carries two signatures, its participant's and the
    /// agency's on the registration. Every bundle returned has been verified.
    #[allow(
        dead_code,
        reason = "the verify benchmark's; the sizes benchmark shares this module"
    )]
    pub fn many(&self, count: u64, entries: u64) -> Vec<ProofBundle> {
        assert!(
            2 * count <= entries.min(ENTRIES_PER_BLOCK),
            "the transactions fit in the last block"
        );
        let start = entries - 2 * count;
        let participants: Vec<(ParticipantId, Keypair)> = (0..count)
            .map(|i| {
                let mut seed = [7u8; 32];
                seed[..8].copy_from_slice(&i.to_le_bytes());
                (
                    ParticipantId::new(format!("ENTERPRISE-{i:06}")).expect("a valid id"),
                    Keypair::from_seed(&seed),
                )
            })
            .collect();
        let registrations = (1..)
            .zip(&participants)
            .map(|(n, (id, key))| self.register(id, &format!("{id} Co., Ltd."), key, start + n));
        let records = (0u64..).zip(&participants).map(|(n, (id, key))| {
            let mut document_hash = [0xc1; 32];
            document_hash[..8].copy_from_slice(&n.to_le_bytes());
            self.invoice(id, key, Digest(document_hash), &format!("INV-2026-{id}"))
        });
        let transactions = registrations.chain(records).zip(start..).collect();
        let (mut proven, log) = self.prove(entries, Placement::LastEntries, transactions);
        let records = proven.split_off(participants.len());
        let bundles: Vec<ProofBundle> = records
            .into_iter()
            .zip(proven)
            .map(|(record, registration)| registered(&log, record, &registration))
            .collect();
        for bundle in &bundles {
            verify_bundle(&self.genesis, bundle).expect("the bundle verifies");
        }
        bundles
    }

    /// Proves `transactions`, each at its log position, in a log of `entries` entries, under
    /// the header of its last block (`Placement::LastEntries`) or of a first block holding the
    /// whole log (`Placement::LongestPath`); returns them with the log.
    fn prove(
        &self,
        entries: u64,
        placement: Placement,
        transactions: Vec<(SignedTx, u64)>,
    ) -> (Vec<ProvenTx>, Log) {
        // The block of the header, as (height, its first log index).
        let (height, first) = match placement {
            Placement::LastEntries => {
                let last_block_entries = (entries - 1) % ENTRIES_PER_BLOCK + 1;
                (
                    (entries - 1) / ENTRIES_PER_BLOCK + 1,
                    entries - last_block_entries,
                )
            }
            Placement::LongestPath => (1, 0),
        };
        let (transactions, positions): (Vec<SignedTx>, Vec<u64>) = transactions.into_iter().unzip();
        let receipts: Vec<Receipt> = positions
            .iter()
            .map(|&log_index| {
                assert!(log_index < entries, "a position of the log");
                // Entries before the header's block are in blocks of ENTRIES_PER_BLOCK.
                let (height, index) = if log_index >= first {
                    (height, log_index - first)
                } else {
                    (
                        log_index / ENTRIES_PER_BLOCK + 1,
                        log_index % ENTRIES_PER_BLOCK,
                    )
                };
                Receipt {
                    height: Height(height),
                    index: u32::try_from(index).expect("a block position"),
                    log_index,
                    outcome: Outcome::Accepted,
                }
            })
            .collect();
        let real_leaves = transactions
            .iter()
            .zip(&receipts)
            .map(|(tx, receipt)| {
                let leaf = LogEntry {
                    tx_id: tx.id(),
                    receipt: receipt.clone(),
                }
                .leaf_hash();
                (receipt.log_index, leaf)
            })
            .collect();
        let log = Log::build(entries, real_leaves);
        let header = Header {
            chain_id: self.chain_id,
            height: Height(height),
            time_ms: BLOCK_TIME_MS + height * 1_000,
            parent: BlockId(if height == 1 {
                Digest::ZERO
            } else {
                Digest([0x9a; 32])
            }),
            transactions_root: transactions_root(&transactions),
            transaction_count: u32::try_from(entries - first).expect("a block's transactions"),
            log_root: log.frontier.root(),
            log_size: entries,
            state_root: Digest([0x5e; 32]),
            validators_hash: self.validators.hash(),
            next_validators_hash: self.validators.hash(),
            proposer: self.validators.validators[0].public_key,
        };
        let certificate = self.certify(&header);
        let proven = transactions
            .into_iter()
            .zip(receipts)
            .map(|(transaction, receipt)| ProvenTx {
                inclusion: inclusion_proof(&log, receipt.log_index, entries)
                    .expect("the log holds every node of the proof"),
                transaction,
                receipt,
                header: header.clone(),
                certificate: certificate.clone(),
            })
            .collect();
        (proven, log)
    }

    /// The first founding agency registers enterprise `id` with `key`'s public key.
    fn register(&self, id: &ParticipantId, name: &str, key: &Keypair, nonce: u64) -> SignedTx {
        self.sign_founder(UnsignedTx {
            chain_id: self.chain_id,
            signer: ParticipantId::from(&self.genesis.content.agencies[0].agency),
            nonce: Nonce(nonce),
            body: Body::RegisterParticipant {
                id: id.clone(),
                name: name.into(),
                roles: vec![Role::Enterprise],
                public_key: key.public(),
            },
        })
    }

    /// Participant `id` anchors its first commercial invoice, signed with `key`.
    fn invoice(
        &self,
        id: &ParticipantId,
        key: &Keypair,
        document_hash: Digest,
        number: &str,
    ) -> SignedTx {
        UnsignedTx {
            chain_id: self.chain_id,
            signer: id.clone(),
            nonce: Nonce(1),
            body: Body::AnchorRecord {
                kind: "commercial_invoice".into(),
                document_hash,
                metadata: vec![("number".into(), number.into())],
            },
        }
        .sign(key)
    }

    /// Signs with the admin key of the first founding agency.
    fn sign_founder(&self, tx: UnsignedTx) -> SignedTx {
        tx.sign(&self.admin_keys[0])
    }

    /// A certificate with the precommits of the first quorum of validators.
    fn certify(&self, header: &Header) -> CommitCertificate {
        let block_id = header.id();
        let digest = vote_digest(
            &self.chain_id,
            VoteKind::Precommit,
            header.height,
            0,
            Some(&block_id),
        );
        CommitCertificate {
            height: header.height,
            round: 0,
            block_id,
            signatures: self.validator_keys[..self.quorum()]
                .iter()
                .map(|key| CommitSignature {
                    validator: key.public(),
                    signature: key.sign(&digest),
                })
                .collect(),
        }
    }
}

/// A transaction bundle of `item`, with its signer's registration when it has one.
fn bundle(item: ProvenTx, registration: Option<ProvenRegistration>) -> ProofBundle {
    ProofBundle {
        version: BUNDLE_VERSION,
        item: Some(item),
        signer_registration: None,
        state: None,
        validator_changes: Vec::new(),
        registration,
    }
}

/// The bundle of a registered participant's `item`, its `registration` proven under the item's
/// header from `log`.
fn registered(log: &Log, item: ProvenTx, registration: &ProvenTx) -> ProofBundle {
    let registration = ProvenRegistration::prove(
        log,
        registration.transaction.clone(),
        registration.receipt.clone(),
        &item.inclusion,
    )
    .expect("the registration is before the item, and the log holds its subtree");
    bundle(item, Some(registration))
}

/// Where in a log of `entries` entries (at least 16) a record's inclusion path and that of a
/// registration at the first entry, proven under the record's header, are longest together:
/// the registration's path is `log2` of the largest perfect subtree left of the record on the
/// record's path, so the record is the first entry of the right half (the registration's path
/// is then `ceil(log2 entries) - 1` hashes) or of the second quarter, whichever is longer.
fn longest_pair(entries: u64) -> u64 {
    let half = 1 << (63 - (entries - 1).leading_zeros());
    let total = |record: u64| {
        let registration = SharedSubtree::find(0, record, entries).expect("after the first entry");
        inclusion_path_len(record, entries) + registration.path_len()
    };
    [half, half / 2]
        .into_iter()
        .max_by_key(|&record| (total(record), record))
        .expect("two candidates")
}

/// Perfect subtrees below this level are not stored but recomputed from the leaves when asked
/// for: a lookup then hashes at most `2^6 - 1` nodes, and the store holds about
/// `2 / 2^6` digests per entry (10 MB for 10^7 entries instead of 640 MB).
const STORED_FROM_LEVEL: u8 = 6;

/// A Merkle log held in memory for the benchmarks: the real transactions' leaves at their
/// positions, and every other entry a distinct stand-in leaf.
struct Log {
    frontier: Frontier,
    /// The perfect subtrees of level `STORED_FROM_LEVEL + i` at `levels[i]`, by index.
    levels: Vec<Vec<Digest>>,
    /// The leaves of the real transactions, by log position.
    real_leaves: BTreeMap<u64, Digest>,
}

impl Log {
    /// Appends `entries` leaves with `Frontier::append`, keeping the subtrees it completes.
    fn build(entries: u64, real_leaves: BTreeMap<u64, Digest>) -> Self {
        let levels = (STORED_FROM_LEVEL..64)
            .map(|level| entries >> level)
            .take_while(|&count| count > 0)
            .map(|count| Vec::with_capacity(usize::try_from(count).expect("fits in memory")))
            .collect();
        let mut log = Log {
            frontier: Frontier::new(),
            levels,
            real_leaves,
        };
        for index in 0..entries {
            let leaf = log.leaf(index);
            for (key, digest) in log.frontier.append(leaf) {
                if let Some(level) = key.level.checked_sub(STORED_FROM_LEVEL) {
                    log.levels[usize::from(level)].push(digest);
                }
            }
        }
        log
    }

    /// The leaf at `index`. A stand-in leaf is not a hash of anything: its 32 bytes name its
    /// position, so that no two subtrees are alike, and its content changes no size.
    fn leaf(&self, index: u64) -> Digest {
        self.real_leaves.get(&index).copied().unwrap_or_else(|| {
            let mut bytes = [0x6c; 32];
            bytes[..8].copy_from_slice(&index.to_le_bytes());
            Digest(bytes)
        })
    }
}

impl NodeSource for Log {
    type Error = Infallible;

    fn node(&self, key: NodeKey) -> Result<Option<Digest>, Self::Error> {
        if key.level >= 64
            || (u128::from(key.index) + 1) << key.level > u128::from(self.frontier.size())
        {
            return Ok(None);
        }
        if let Some(level) = key.level.checked_sub(STORED_FROM_LEVEL) {
            let stored = self
                .levels
                .get(usize::from(level))
                .and_then(|nodes| nodes.get(usize::try_from(key.index).ok()?));
            return Ok(stored.copied());
        }
        let first = key.index << key.level;
        let mut row: Vec<Digest> = (first..first + (1 << key.level))
            .map(|index| self.leaf(index))
            .collect();
        while row.len() > 1 {
            row = row
                .chunks_exact(2)
                .map(|pair| node_hash(&pair[0], &pair[1]))
                .collect();
        }
        Ok(row.first().copied())
    }
}
