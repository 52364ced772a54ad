//! Domain-separated blake3 hashing. Every kind of object is hashed under its own `derive_key`
//! context, so bytes of one kind can never be taken for another kind's hash.

use core::fmt;
use std::sync::LazyLock;

use blake3::hazmat::{ContextKey, HasherExt, hash_derive_key_context};

use minicbor::{Decode, Encode};

/// A 32-byte blake3 digest.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// The all-zero digest, used where there is no predecessor (the first block's parent).
    pub const ZERO: Digest = Digest([0; 32]);

    /// The digest as lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex characters.
    pub fn from_hex(text: &str) -> Result<Self, DigestParseError> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut out).map_err(|_| DigestParseError {
            found: text.chars().take(80).collect(),
        })?;
        Ok(Digest(out))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// A digest string that is not 64 hex characters.
#[derive(Debug, thiserror::Error)]
#[error("expected a 32-byte digest as 64 hex characters, found {found:?}")]
pub struct DigestParseError {
    found: String,
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_hex())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_hex())
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Digest::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

impl<C> Encode<C> for Digest {
    fn encode<W: minicbor::encode::Write>(
        &self,
        e: &mut minicbor::Encoder<W>,
        _ctx: &mut C,
    ) -> Result<(), minicbor::encode::Error<W::Error>> {
        e.bytes(&self.0)?;
        Ok(())
    }
}

impl<'b, C> Decode<'b, C> for Digest {
    fn decode(
        d: &mut minicbor::Decoder<'b>,
        _ctx: &mut C,
    ) -> Result<Self, minicbor::decode::Error> {
        let bytes = d.bytes()?;
        let array: [u8; 32] = bytes
            .try_into()
            .map_err(|_| minicbor::decode::Error::message("expected 32 bytes for a digest"))?;
        Ok(Digest(array))
    }
}

/// The object kinds that are hashed, each with its own blake3 `derive_key` context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Domain {
    /// The unsigned content of a genesis; its hash is the chain id.
    Genesis,
    /// The unsigned bytes of a transaction; its hash is the transaction id.
    Transaction,
    /// What a transaction signer signs.
    TransactionSignature,
    /// A block header; its hash is the block id that validators vote for.
    Header,
    /// The list of transactions of one block.
    TransactionsRoot,
    /// A leaf of the Merkle log.
    LogLeaf,
    /// An inner node of the Merkle log.
    LogNode,
    /// A validator set.
    ValidatorSet,
    /// What a validator signs when it votes.
    Vote,
    /// What a proposer signs over a proposed block.
    Proposal,
    /// What a founder signs over a genesis hash.
    GenesisSignature,
    /// A document's content.
    Content,
    /// A validator's binding of its consensus key to its peer-to-peer identity.
    PeerBinding,
    /// A signed read request.
    ReadRequest,
    /// A key of the state tree; its hash is the key's path in the tree.
    StateKey,
    /// A value of the state tree.
    StateValue,
    /// A leaf of the state tree: a key hash and a value hash.
    StateLeaf,
    /// An inner node of the state tree, and the empty subtree.
    StateNode,
}

impl Domain {
    /// The blake3 `derive_key` context string of this domain. Changing one changes every hash of
    /// that kind: these strings are part of the protocol.
    pub const fn context(self) -> &'static str {
        match self {
            Domain::Genesis => "caravan 2026-11 genesis v1",
            Domain::Transaction => "caravan 2026-11 transaction v1",
            Domain::TransactionSignature => "caravan 2026-11 transaction signature v1",
            Domain::Header => "caravan 2026-11 block header v1",
            Domain::TransactionsRoot => "caravan 2026-11 transactions root v1",
            Domain::LogLeaf => "caravan 2026-11 log leaf v1",
            Domain::LogNode => "caravan 2026-11 log node v1",
            Domain::ValidatorSet => "caravan 2026-11 validator set v1",
            Domain::Vote => "caravan 2026-11 vote v1",
            Domain::Proposal => "caravan 2026-11 proposal v1",
            Domain::GenesisSignature => "caravan 2026-11 genesis signature v1",
            Domain::Content => "caravan 2026-11 content v1",
            Domain::PeerBinding => "caravan 2026-11 peer binding v1",
            Domain::ReadRequest => "caravan 2026-11 read request v1",
            Domain::StateKey => "caravan 2026-11 state key v1",
            Domain::StateValue => "caravan 2026-11 state value v1",
            Domain::StateLeaf => "caravan 2026-11 state leaf v1",
            Domain::StateNode => "caravan 2026-11 state node v1",
        }
    }
}

impl Domain {
    /// Every domain, in declaration order (`ALL[d as usize] == d`).
    const ALL: [Domain; 18] = [
        Domain::Genesis,
        Domain::Transaction,
        Domain::TransactionSignature,
        Domain::Header,
        Domain::TransactionsRoot,
        Domain::LogLeaf,
        Domain::LogNode,
        Domain::ValidatorSet,
        Domain::Vote,
        Domain::Proposal,
        Domain::GenesisSignature,
        Domain::Content,
        Domain::PeerBinding,
        Domain::ReadRequest,
        Domain::StateKey,
        Domain::StateValue,
        Domain::StateLeaf,
        Domain::StateNode,
    ];

    /// The hashed context string, computed once per process: `derive_key` would otherwise hash
    /// the context again for every object, one extra compression per hash.
    fn context_key(self) -> &'static ContextKey {
        static KEYS: LazyLock<[ContextKey; 18]> =
            LazyLock::new(|| Domain::ALL.map(|d| hash_derive_key_context(d.context())));
        &KEYS[self as usize]
    }
}

/// Hashes `parts` in order under `domain`.
pub fn hash_parts(domain: Domain, parts: &[&[u8]]) -> Digest {
    let mut hasher = blake3::Hasher::new_from_context_key(domain.context_key());
    for part in parts {
        hasher.update(part);
    }
    Digest(*hasher.finalize().as_bytes())
}

/// Hashes `bytes` under `domain`.
pub fn hash(domain: Domain, bytes: &[u8]) -> Digest {
    hash_parts(domain, &[bytes])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_context_keys_hash_as_derive_key() {
        for (i, domain) in Domain::ALL.iter().enumerate() {
            assert_eq!(*domain as usize, i, "ALL is in declaration order");
            let parts: [&[u8]; 2] = [b"caravan", &[7u8; 300]];
            assert_eq!(
                hash_parts(*domain, &parts).0,
                blake3::derive_key(
                    domain.context(),
                    &[b"caravan".as_slice(), &[7u8; 300]].concat()
                ),
                "{domain:?}"
            );
        }
    }

    #[test]
    fn domains_separate_equal_bytes() {
        let a = hash(Domain::Transaction, b"same");
        let b = hash(Domain::Header, b"same");
        assert_ne!(a, b);
    }

    #[test]
    fn hex_round_trip_and_errors() {
        let d = hash(Domain::Content, b"x");
        assert_eq!(Digest::from_hex(&d.to_hex()).ok(), Some(d));
        assert!(Digest::from_hex("abc").is_err());
        assert!(Digest::from_hex(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn frozen_vector() {
        // Frozen: changing a domain context or the hash function changes this value on purpose only.
        let d = hash(Domain::Transaction, b"caravan");
        assert_eq!(d, hash_parts(Domain::Transaction, &[b"cara", b"van"]));
        assert_eq!(
            d.to_hex(),
            "cac7bfb7ac265d04704bb2e2fbdd8dc1dab7a91986d1833d6954ab2b4d0e4863"
        );
    }
}
