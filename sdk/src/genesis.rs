//! The genesis: the founding agencies with their keys and addresses, and the federation's
//! parameters. Its hash (over the canonical unsigned content) is the chain id, and every founder
//! signs that hash; a genesis lacking any founder's valid signature is refused.

use std::path::Path;

use minicbor::{Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::block::{Validator, ValidatorSet};
use crate::codec;
use crate::hash::{Domain, hash, hash_parts};
use crate::ids::{AgencyId, ChainId};
use crate::keys::{Keypair, PublicKey, Signature};
use crate::tx::Role;

/// What an agency shares with the others before the ceremony: public keys and addresses only.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
pub struct MemberCard {
    /// The agency's id, e.g. `CN-QDG-CUSTOMS`.
    #[n(0)]
    pub agency: AgencyId,
    /// Its name.
    #[n(1)]
    pub name: String,
    /// ISO 3166-1 alpha-2 country code.
    #[n(2)]
    pub country: String,
    /// Its roles, sorted.
    #[n(3)]
    pub roles: Vec<Role>,
    /// The key its validator votes with.
    #[n(4)]
    pub validator_key: PublicKey,
    /// The key of its node's peer-to-peer identity.
    #[n(5)]
    pub network_key: PublicKey,
    /// The key it signs transactions and the genesis with.
    #[n(6)]
    pub admin_key: PublicKey,
    /// Where its node listens for peers: `host:port`.
    #[n(7)]
    pub p2p_address: String,
    /// Its node's HTTP API base URL.
    #[n(8)]
    pub api_url: String,
}

/// Federation parameters.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
pub struct Params {
    /// Most transactions in one block.
    #[n(0)]
    pub block_max_transactions: u32,
    /// Most bytes of transactions in one block.
    #[n(1)]
    pub block_max_bytes: u32,
    /// Most transactions a node holds pending.
    #[n(2)]
    pub mempool_max_transactions: u32,
}

/// The most `block_max_bytes` may be: a block travels as one consensus message, and nodes size
/// the engine's message limits from this.
pub const BLOCK_MAX_BYTES_LIMIT: u32 = 4 * 1024 * 1024;

impl Default for Params {
    fn default() -> Self {
        Params {
            block_max_transactions: 16384,
            block_max_bytes: BLOCK_MAX_BYTES_LIMIT,
            mempool_max_transactions: 50_000,
        }
    }
}

/// The unsigned content of a genesis.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
pub struct GenesisContent {
    /// A human name for the federation.
    #[n(0)]
    pub chain_name: String,
    /// When the genesis was assembled, as its assembler wrote it; informational.
    #[n(1)]
    pub created: String,
    /// The founding agencies, sorted by agency id.
    #[n(2)]
    pub agencies: Vec<MemberCard>,
    /// Parameters.
    #[n(3)]
    pub params: Params,
}

/// One founder's signature over the chain id.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
pub struct FounderSignature {
    /// The founder.
    #[n(0)]
    pub agency: AgencyId,
    /// Its admin key's signature over [`genesis_signing_digest`].
    #[n(1)]
    pub signature: Signature,
}

/// A genesis with the founders' signatures.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[cbor(array)]
pub struct Genesis {
    /// What was agreed.
    #[n(0)]
    pub content: GenesisContent,
    /// Who signed it.
    #[n(1)]
    pub signatures: Vec<FounderSignature>,
}

/// A genesis that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    /// The founder did not sign.
    #[error("genesis lacks the signature of founder {0}")]
    MissingSignature(AgencyId),
    /// The founder's signature does not verify: the genesis was edited after signing, or signed
    /// by another key.
    #[error(
        "signature of founder {0} does not verify against the genesis content (was the file edited after signing?)"
    )]
    BadSignature(AgencyId),
    /// A signature from an agency that is not a founder.
    #[error("genesis carries a signature by {0}, which is not a founding agency")]
    UnknownSigner(AgencyId),
    /// The content breaks a rule.
    #[error("invalid genesis: {0}")]
    Invalid(String),
    /// The file cannot be read or parsed.
    #[error("genesis file {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

/// The digest founders sign.
pub fn genesis_signing_digest(chain_id: &ChainId) -> crate::hash::Digest {
    hash_parts(Domain::GenesisSignature, &[chain_id.0.as_bytes()])
}

impl GenesisContent {
    /// The chain id: the hash of the canonical content.
    pub fn chain_id(&self) -> ChainId {
        ChainId(hash(Domain::Genesis, &codec::encode(self)))
    }

    /// Checks the content's own rules.
    pub fn validate(&self) -> Result<(), GenesisError> {
        if self.agencies.is_empty() {
            return Err(GenesisError::Invalid("no founding agencies".into()));
        }
        if !self.agencies.windows(2).all(|w| w[0].agency < w[1].agency) {
            return Err(GenesisError::Invalid(
                "agencies must be sorted by id and unique".into(),
            ));
        }
        let mut keys = Vec::new();
        for card in &self.agencies {
            if card.country.len() != 2 || !card.country.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(GenesisError::Invalid(format!(
                    "agency {}: country must be an ISO 3166-1 alpha-2 code, found {:?}",
                    card.agency, card.country
                )));
            }
            keys.extend([card.validator_key, card.network_key, card.admin_key]);
        }
        keys.sort();
        if keys.windows(2).any(|w| w[0] == w[1]) {
            return Err(GenesisError::Invalid(
                "a key is used twice; every role of every agency needs its own key".into(),
            ));
        }
        Ok(())
    }

    /// The founding validator set.
    pub fn validator_set(&self) -> ValidatorSet {
        ValidatorSet::new(
            self.agencies
                .iter()
                .map(|card| Validator {
                    agency: card.agency.clone(),
                    public_key: card.validator_key,
                    power: 1,
                })
                .collect(),
        )
    }

    /// The member card of `agency`.
    pub fn agency(&self, agency: &AgencyId) -> Option<&MemberCard> {
        self.agencies.iter().find(|c| &c.agency == agency)
    }
}

impl Genesis {
    /// An unsigned genesis.
    pub fn new(content: GenesisContent) -> Self {
        Genesis {
            content,
            signatures: Vec::new(),
        }
    }

    /// The chain id.
    pub fn chain_id(&self) -> ChainId {
        self.content.chain_id()
    }

    /// Adds (or replaces) `agency`'s signature made with `admin_key`.
    pub fn sign(&mut self, agency: &AgencyId, admin_key: &Keypair) -> Result<(), GenesisError> {
        let card = self
            .content
            .agency(agency)
            .ok_or_else(|| GenesisError::UnknownSigner(agency.clone()))?;
        if card.admin_key != admin_key.public() {
            return Err(GenesisError::Invalid(format!(
                "the key given is not {agency}'s admin key (member card has {}, key file has {})",
                card.admin_key,
                admin_key.public()
            )));
        }
        let signature = admin_key.sign(&genesis_signing_digest(&self.chain_id()));
        self.signatures.retain(|s| &s.agency != agency);
        self.signatures.push(FounderSignature {
            agency: agency.clone(),
            signature,
        });
        self.signatures.sort_by(|a, b| a.agency.cmp(&b.agency));
        Ok(())
    }

    /// Checks the content and that every founder, and only founders, signed it. Returns the chain id.
    pub fn verify(&self) -> Result<ChainId, GenesisError> {
        self.content.validate()?;
        let chain_id = self.chain_id();
        let digest = genesis_signing_digest(&chain_id);
        for sig in &self.signatures {
            if self.content.agency(&sig.agency).is_none() {
                return Err(GenesisError::UnknownSigner(sig.agency.clone()));
            }
        }
        for card in &self.content.agencies {
            let sig = self
                .signatures
                .iter()
                .find(|s| s.agency == card.agency)
                .ok_or_else(|| GenesisError::MissingSignature(card.agency.clone()))?;
            card.admin_key
                .verify(&digest, &sig.signature)
                .map_err(|_| GenesisError::BadSignature(card.agency.clone()))?;
        }
        Ok(chain_id)
    }

    /// Reads a genesis JSON file (without verifying it).
    pub fn read(path: &Path) -> Result<Self, GenesisError> {
        let file_err = |reason: String| GenesisError::File {
            path: path.display().to_string(),
            reason,
        };
        let meta = std::fs::metadata(path).map_err(|e| file_err(e.to_string()))?;
        if meta.len() > codec::MAX_GENESIS_BYTES as u64 {
            return Err(file_err(format!(
                "{} bytes, the limit is {}",
                meta.len(),
                codec::MAX_GENESIS_BYTES
            )));
        }
        let text = std::fs::read_to_string(path).map_err(|e| file_err(e.to_string()))?;
        Self::parse_json(text.as_bytes()).map_err(file_err)
    }

    /// Reads a genesis from its JSON text in memory (without verifying it), at most
    /// [`codec::MAX_GENESIS_BYTES`].
    pub fn from_json(bytes: &[u8]) -> Result<Self, GenesisError> {
        Self::parse_json(bytes).map_err(GenesisError::Invalid)
    }

    /// The genesis a JSON text holds, or why it holds none.
    fn parse_json(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() > codec::MAX_GENESIS_BYTES {
            return Err(format!(
                "{} bytes, the limit is {}",
                bytes.len(),
                codec::MAX_GENESIS_BYTES
            ));
        }
        serde_json::from_slice(bytes).map_err(|e| format!("not a genesis: {e}"))
    }

    /// Reads and verifies a genesis file.
    pub fn read_verified(path: &Path) -> Result<(Self, ChainId), GenesisError> {
        let genesis = Self::read(path)?;
        let chain_id = genesis.verify()?;
        Ok((genesis, chain_id))
    }

    /// Writes the genesis as pretty JSON.
    pub fn write(&self, path: &Path) -> Result<(), GenesisError> {
        let text =
            serde_json::to_string_pretty(self).map_err(|e| GenesisError::Invalid(e.to_string()))?;
        std::fs::write(path, text + "\n").map_err(|e| GenesisError::File {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A signed genesis of `n` agencies with keys derived from fixed seeds, for tests.
    pub(crate) fn test_genesis(n: u8) -> (Genesis, Vec<(Keypair, Keypair)>) {
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
            chain_name: "test".into(),
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

    #[test]
    fn all_founders_must_sign() {
        let (mut genesis, _) = test_genesis(4);
        assert!(genesis.verify().is_ok());
        genesis.signatures.remove(2);
        match genesis.verify() {
            Err(GenesisError::MissingSignature(id)) => assert_eq!(id.as_str(), "AG-2"),
            other => panic!("expected a missing signature, got {other:?}"),
        }
    }

    #[test]
    fn edited_genesis_is_refused() {
        let (mut genesis, _) = test_genesis(4);
        genesis.content.params.block_max_transactions += 1;
        assert!(matches!(
            genesis.verify(),
            Err(GenesisError::BadSignature(_))
        ));
    }

    #[test]
    fn json_round_trip_keeps_chain_id() {
        let (genesis, _) = test_genesis(2);
        let json = serde_json::to_string(&genesis).expect("json");
        let back: Genesis = serde_json::from_str(&json).expect("parse");
        assert_eq!(back.chain_id(), genesis.chain_id());
        assert!(back.verify().is_ok());
        assert_eq!(
            Genesis::from_json(json.as_bytes()).expect("in memory"),
            genesis
        );
    }

    #[test]
    fn genesis_text_in_memory_is_capped_and_checked() {
        let e = Genesis::from_json(b"{\"content\": 1}").expect_err("not a genesis");
        assert!(
            e.to_string()
                .starts_with("invalid genesis: not a genesis: "),
            "{e}"
        );
        let large = vec![b' '; codec::MAX_GENESIS_BYTES + 1];
        let e = Genesis::from_json(&large).expect_err("too large");
        assert!(e.to_string().contains("the limit is"), "{e}");
    }
}
