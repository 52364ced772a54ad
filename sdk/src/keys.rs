//! Ed25519 keys and signatures, with one verification rule everywhere: the ZIP 215 rule of
//! ed25519-zebra, whose batch verification accepts exactly the signatures that single
//! verification accepts (ADR 0006). The node, the SDK and the CLI all verify through this module,
//! one signature at a time ([`PublicKey::verify`]) or many at once ([`verify_many`]), and get the
//! same answer either way. Weak (small-order) public keys are refused wherever a key enters the
//! system. Signing uses ed25519-dalek, whose secret keys are wiped from memory when dropped.
//!
//! The operating system's random source serves two things only: fresh keys
//! ([`Keypair::generate`]) and the coefficients of batch verification. In a browser
//! (`wasm32-unknown-unknown`) there is none without JavaScript glue, so there keys are not
//! generated and [`verify_many`] checks each signature alone, with the same answers.

use core::fmt;
use std::path::Path;

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
use getrandom::rand_core;
use minicbor::{Decode, Encode};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize as _, Zeroizing};

use crate::hash::Digest;

/// An ed25519 public key (32 bytes), checked to be a valid, non-weak curve point.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublicKey([u8; 32]);

/// An ed25519 signature (64 bytes).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Signature(pub [u8; 64]);

/// A key or signature that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The bytes are not an ed25519 point.
    #[error("public key {0} is not a valid ed25519 point")]
    InvalidKey(String),
    /// The key is of small order: any message verifies against it.
    #[error("public key {0} is weak (small order) and is refused")]
    WeakKey(String),
    /// The signature does not verify.
    #[error("signature does not verify against public key {0}")]
    BadSignature(String),
    /// Wrong length or not hex.
    #[error("expected {expected} as hex, found {found:?}")]
    Format {
        /// What was expected.
        expected: &'static str,
        /// What was found.
        found: String,
    },
}

/// Keys already found valid: checking a key decompresses a curve point (about 10 us), and the
/// same few participant keys are decoded from state for every transaction. The check is a pure
/// function of the bytes, so remembering its positive answers changes no result.
static VALID_KEYS: std::sync::Mutex<Option<std::collections::HashSet<[u8; 32]>>> =
    std::sync::Mutex::new(None);
/// Valid keys remembered at most (the set is emptied when full).
const VALID_KEYS_MAX: usize = 1 << 16;

impl PublicKey {
    /// Checks `bytes` are a valid, non-weak ed25519 public key.
    pub fn from_bytes(bytes: [u8; 32]) -> Result<Self, KeyError> {
        if let Ok(known) = VALID_KEYS.lock()
            && known.as_ref().is_some_and(|k| k.contains(&bytes))
        {
            return Ok(PublicKey(bytes));
        }
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|_| KeyError::InvalidKey(hex::encode(bytes)))?;
        if key.is_weak() {
            return Err(KeyError::WeakKey(hex::encode(bytes)));
        }
        if let Ok(mut known) = VALID_KEYS.lock() {
            let set = known.get_or_insert_with(Default::default);
            if set.len() >= VALID_KEYS_MAX {
                set.clear();
            }
            set.insert(bytes);
        }
        Ok(PublicKey(bytes))
    }

    /// The raw bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// Parses 64 hex characters.
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut bytes).map_err(|_| KeyError::Format {
            expected: "a 32-byte public key",
            found: text.chars().take(80).collect(),
        })?;
        Self::from_bytes(bytes)
    }

    /// The key as hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Verifies `signature` over `message` with the protocol's rule.
    pub fn verify(&self, message: &Digest, signature: &Signature) -> Result<(), KeyError> {
        let key = ed25519_zebra::VerificationKey::try_from(self.0)
            .map_err(|_| KeyError::InvalidKey(self.to_hex()))?;
        let sig = ed25519_zebra::Signature::from_bytes(&signature.0);
        key.verify(&sig, message.as_bytes())
            .map_err(|_| KeyError::BadSignature(self.to_hex()))
    }
}

/// Signatures checked together in one batch equation by [`verify_many`]. From about 190 points
/// the equation is solved with Pippenger's method, cheaper per point than Straus's below it:
/// batches of 1,024 cost about 15% less per signature than batches of 128.
pub const BATCH: usize = 1024;

/// Verifies many signatures, in batches of [`BATCH`]: `result[i]` tells whether `items[i]`
/// verifies. The answer is the same as calling [`PublicKey::verify`] on each item, at about half
/// the cost when all are valid. A batch that fails is split in two and each half checked again,
/// down to single signatures, so that a few bad signatures among many cost a few extra batches
/// rather than checking every signature of their batch alone.
///
/// The signatures are batched in the order of their keys, so that one signer's signatures share
/// batches: a batch decompresses each distinct key once and gives it one term of its equation,
/// so a batch of few signers costs less per signature than one of many.
///
/// Without an operating-system random source (`wasm32-unknown-unknown`) each signature is
/// checked alone: the same answers, at the cost of single verification.
pub fn verify_many(items: &[(PublicKey, Digest, Signature)]) -> Vec<bool> {
    by_key(items, |sorted| {
        let mut out = Vec::with_capacity(sorted.len());
        #[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
        for chunk in sorted.chunks(BATCH) {
            bisect(chunk, &mut out);
        }
        #[cfg(all(target_family = "wasm", target_os = "unknown"))]
        singles(sorted, &mut out);
        out
    })
}

/// Runs `verify` on `items` ordered by key (stable: one key's items keep their order) and
/// returns its answers in the order of `items`. `verify` answers one bool per item it is given,
/// in order; [`verify_many`] is such a function, and callers that spread the work over threads
/// order by key first with this, so that each thread's share stays grouped.
pub fn by_key(
    items: &[(PublicKey, Digest, Signature)],
    verify: impl FnOnce(&[(PublicKey, Digest, Signature)]) -> Vec<bool>,
) -> Vec<bool> {
    if items.windows(2).all(|w| w[0].0 <= w[1].0) {
        return verify(items);
    }
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| items[i].0);
    let sorted: Vec<_> = order.iter().map(|&i| items[i]).collect();
    let answers = verify(&sorted);
    let mut out = vec![false; items.len()];
    for (&i, ok) in order.iter().zip(answers) {
        out[i] = ok;
    }
    out
}

/// Below this many signatures a failed batch is re-checked one signature at a time.
#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
const SINGLES: usize = 4;

/// Checks each signature alone.
fn singles(items: &[(PublicKey, Digest, Signature)], out: &mut Vec<bool>) {
    out.extend(
        items
            .iter()
            .map(|(key, message, signature)| key.verify(message, signature).is_ok()),
    );
}

/// A failed batch larger than this is checked again in pieces of this size, each split as
/// [`bisect`] does: many bad signatures spread over a batch of [`BATCH`] then cost what they
/// cost in batches of 128, plus the one failed batch.
#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
const PIECE: usize = 128;

/// Checks `items` in one batch, and on failure each half again (pieces of [`PIECE`] first),
/// down to [`SINGLES`].
#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
fn bisect(items: &[(PublicKey, Digest, Signature)], out: &mut Vec<bool>) {
    if items.len() <= SINGLES {
        singles(items, out);
    } else if batch_holds(items) {
        out.extend(std::iter::repeat_n(true, items.len()));
    } else if items.len() > PIECE {
        for piece in items.chunks(PIECE) {
            bisect(piece, out);
        }
    } else {
        failed(items, out);
    }
}

/// Finds the bad signatures of `items`, whose batch failed: a valid batch never fails, so when
/// the first half holds, the bad ones are in the second, which is split without being checked
/// whole again (it would fail).
#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
fn failed(items: &[(PublicKey, Digest, Signature)], out: &mut Vec<bool>) {
    if items.len() <= SINGLES {
        singles(items, out);
        return;
    }
    let (left, right) = items.split_at(items.len() / 2);
    if left.len() > SINGLES && batch_holds(left) {
        out.extend(std::iter::repeat_n(true, left.len()));
        failed(right, out);
    } else {
        // A small half is checked singly (`failed` does so), a larger one holds a bad one.
        failed(left, out);
        bisect(right, out);
    }
}

/// Whether every signature of `items` verifies, checked in one batch equation.
#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
fn batch_holds(items: &[(PublicKey, Digest, Signature)]) -> bool {
    let mut batch = ed25519_zebra::batch::Verifier::new();
    for (key, message, signature) in items {
        batch.queue((
            ed25519_zebra::VerificationKeyBytes::from(key.0),
            ed25519_zebra::Signature::from_bytes(&signature.0),
            message.as_bytes(),
        ));
    }
    batch
        .verify(rand_core::UnwrapErr(getrandom::SysRng))
        .is_ok()
}

impl Signature {
    /// Parses 128 hex characters.
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        let mut bytes = [0u8; 64];
        hex::decode_to_slice(text.trim(), &mut bytes).map_err(|_| KeyError::Format {
            expected: "a 64-byte signature",
            found: text.chars().take(140).collect(),
        })?;
        Ok(Signature(bytes))
    }

    /// The signature as hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}
impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}
impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_hex())
    }
}

impl Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}
impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        PublicKey::from_hex(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}
impl Serialize for Signature {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}
impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Signature::from_hex(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl<C> Encode<C> for PublicKey {
    fn encode<W: minicbor::encode::Write>(
        &self,
        e: &mut minicbor::Encoder<W>,
        _: &mut C,
    ) -> Result<(), minicbor::encode::Error<W::Error>> {
        e.bytes(&self.0)?;
        Ok(())
    }
}
impl<'b, C> Decode<'b, C> for PublicKey {
    fn decode(d: &mut minicbor::Decoder<'b>, _: &mut C) -> Result<Self, minicbor::decode::Error> {
        let bytes: [u8; 32] = d
            .bytes()?
            .try_into()
            .map_err(|_| minicbor::decode::Error::message("expected 32 bytes for a public key"))?;
        PublicKey::from_bytes(bytes).map_err(|e| minicbor::decode::Error::message(e.to_string()))
    }
}
impl<C> Encode<C> for Signature {
    fn encode<W: minicbor::encode::Write>(
        &self,
        e: &mut minicbor::Encoder<W>,
        _: &mut C,
    ) -> Result<(), minicbor::encode::Error<W::Error>> {
        e.bytes(&self.0)?;
        Ok(())
    }
}
impl<'b, C> Decode<'b, C> for Signature {
    fn decode(d: &mut minicbor::Decoder<'b>, _: &mut C) -> Result<Self, minicbor::decode::Error> {
        let bytes: [u8; 64] = d
            .bytes()?
            .try_into()
            .map_err(|_| minicbor::decode::Error::message("expected 64 bytes for a signature"))?;
        Ok(Signature(bytes))
    }
}

/// A private signing key. Its secret is zeroized when dropped and never printed.
#[derive(Clone)]
pub struct Keypair {
    secret: SigningKey,
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keypair(public {})", self.public())
    }
}

impl Keypair {
    /// A fresh key from the operating system's random source. Not available in a browser
    /// build (`wasm32-unknown-unknown`), which has no such source.
    #[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
    pub fn generate() -> Result<Self, KeyError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut()).map_err(|e| KeyError::Format {
            expected: "randomness from the operating system",
            found: e.to_string(),
        })?;
        Ok(Self::from_seed(&seed))
    }

    /// The key whose 32-byte secret seed is `seed`.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Keypair {
            secret: SigningKey::from_bytes(seed),
        }
    }

    /// The secret seed. Handle with care: whoever has it signs as this key.
    pub fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.secret.to_bytes())
    }

    /// The public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.secret.verifying_key().to_bytes())
    }

    /// Signs a 32-byte message digest.
    pub fn sign(&self, message: &Digest) -> Signature {
        Signature(self.secret.sign(message.as_bytes()).to_bytes())
    }
}

/// A private key file as written to disk (JSON, mode 0600).
#[derive(Serialize, Deserialize)]
struct KeyFile {
    kind: String,
    public_key: PublicKey,
    secret_seed: String,
}

impl Drop for KeyFile {
    /// The seed's hex is as secret as the seed.
    fn drop(&mut self) {
        self.secret_seed.zeroize();
    }
}

/// Errors reading or writing a key file.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// File system error.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file's content is not a key file.
    #[error("key file {path}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Text given in memory is not a key file ([`parse_key_file`]).
    #[error("not a key file: {reason}")]
    Malformed {
        /// What is wrong.
        reason: String,
    },
    /// The file can be read by other users.
    #[error(
        "key file {path} has mode {mode:o}: private keys must be readable by their owner only (chmod 600)"
    )]
    TooOpen {
        /// The file.
        path: String,
        /// Its mode bits.
        mode: u32,
    },
}

/// Writes `key` to `path` with mode 0600 (created new; an existing file is not overwritten).
pub fn write_key_file(path: &Path, kind: &str, key: &Keypair) -> Result<(), KeyFileError> {
    use std::io::Write as _;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt as _;
    let io = |source| KeyFileError::Io {
        path: path.display().to_string(),
        source,
    };
    let seed = key.seed();
    let file = KeyFile {
        kind: kind.to_string(),
        public_key: key.public(),
        secret_seed: hex::encode(*seed),
    };
    let text =
        Zeroizing::new(
            serde_json::to_string_pretty(&file).map_err(|e| KeyFileError::Invalid {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?,
        );
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut handle = options.open(path).map_err(io)?;
    handle.write_all(text.as_bytes()).map_err(io)?;
    handle.sync_all().map_err(io)?;
    Ok(())
}

/// Reads a key file, refusing one that others can read.
pub fn read_key_file(path: &Path) -> Result<Keypair, KeyFileError> {
    let shown = path.display().to_string();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let meta = std::fs::metadata(path).map_err(|source| KeyFileError::Io {
            path: shown.clone(),
            source,
        })?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyFileError::TooOpen { path: shown, mode });
        }
    }
    let text =
        Zeroizing::new(
            std::fs::read_to_string(path).map_err(|source| KeyFileError::Io {
                path: shown.clone(),
                source,
            })?,
        );
    parse_key_file(&text).map_err(|e| match e {
        KeyFileError::Malformed { reason } => KeyFileError::Invalid {
            path: shown,
            reason,
        },
        other => other,
    })
}

/// Reads a key file's text (JSON with `kind`, `public_key` and `secret_seed`, as
/// [`write_key_file`] writes it) without touching the file system, checking that the public key
/// is the seed's. The seed's copies made here are wiped from memory; the caller owns `text`.
pub fn parse_key_file(text: &str) -> Result<Keypair, KeyFileError> {
    let malformed = |reason: String| KeyFileError::Malformed { reason };
    let file: KeyFile = serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?;
    let mut seed = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(&file.secret_seed, seed.as_mut())
        .map_err(|_| malformed("secret_seed is not 32 bytes of hex".into()))?;
    let key = Keypair::from_seed(&seed);
    if key.public() != file.public_key {
        return Err(malformed(format!(
            "public_key {} does not match the secret seed (which gives {})",
            file.public_key,
            key.public()
        )));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{Domain, hash};

    #[test]
    fn sign_and_verify() {
        let key = Keypair::from_seed(&[7; 32]);
        let msg = hash(Domain::Vote, b"m");
        let sig = key.sign(&msg);
        assert!(key.public().verify(&msg, &sig).is_ok());
        let other = hash(Domain::Vote, b"n");
        assert!(key.public().verify(&other, &sig).is_err());
        let mut bad = sig;
        bad.0[3] ^= 1;
        assert!(key.public().verify(&msg, &bad).is_err());
    }

    #[test]
    fn rfc8032_test_vector_1() {
        // RFC 8032 section 7.1, TEST 1 (empty message) checked through dalek directly, and our
        // key derivation from the same seed.
        let seed: [u8; 32] =
            hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
                .expect("hex")
                .try_into()
                .expect("32 bytes");
        let key = Keypair::from_seed(&seed);
        assert_eq!(
            key.public().to_hex(),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        // The expected signature of the empty message, checked with the same strict rule.
        let signature = hex::decode(
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        )
        .expect("hex");
        let signature: [u8; 64] = signature.try_into().expect("64 bytes");
        let verifying =
            ed25519_zebra::VerificationKey::try_from(key.public().to_bytes()).expect("key");
        let signature = ed25519_zebra::Signature::from_bytes(&signature);
        assert!(verifying.verify(&signature, b"").is_ok());
        assert!(verifying.verify(&signature, b"x").is_err());
    }

    #[test]
    fn weak_keys_are_refused() {
        // The identity point (small order).
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(matches!(
            PublicKey::from_bytes(identity),
            Err(KeyError::WeakKey(_))
        ));
        // A non-canonical small-order encoding.
        assert!(PublicKey::from_bytes([0; 32]).is_err());
    }

    #[test]
    fn identity_r_and_zero_s_is_refused_for_a_non_weak_key() {
        // R = identity, s = 0 satisfies the cofactored equation only if [8][k]A is the identity,
        // i.e. for small-order keys, which are refused when parsed.
        let key = Keypair::from_seed(&[9; 32]);
        let mut sig = [0u8; 64];
        sig[0] = 1;
        let msg = hash(Domain::Vote, b"x");
        assert!(key.public().verify(&msg, &Signature(sig)).is_err());
    }

    fn signed(n: u8) -> (PublicKey, Digest, Signature) {
        let key = Keypair::from_seed(&[n % 5; 32]);
        let message = hash(Domain::Vote, &[n]);
        (key.public(), message, key.sign(&message))
    }

    #[test]
    fn batches_agree_with_single_verification() {
        let mut items: Vec<_> = (0..=255u8).map(signed).collect();
        assert!(verify_many(&items).iter().all(|ok| *ok));
        // Damage a few: wrong message, flipped signature bit, signature of another key.
        items[3].1 = hash(Domain::Vote, b"other");
        items[130].2.0[40] ^= 0x10;
        items[200].2 = signed(201).2;
        let batch = verify_many(&items);
        let single: Vec<bool> = items
            .iter()
            .map(|(k, m, s)| k.verify(m, s).is_ok())
            .collect();
        assert_eq!(batch, single);
        assert_eq!(
            batch
                .iter()
                .enumerate()
                .filter(|(_, ok)| !**ok)
                .map(|(i, _)| i)
                .collect::<Vec<_>>(),
            vec![3, 130, 200]
        );
        assert!(verify_many(&[]).is_empty());
    }

    #[test]
    fn full_batches_find_their_bad_signatures_wherever_they_are() {
        // One key, so that the items keep their order: bad ones at the edges of the batches, of
        // their pieces and halves, alone, in pairs, in both batches, and one in eight; a last
        // batch and piece of uneven sizes.
        let key = Keypair::from_seed(&[9; 32]);
        let count = BATCH + BATCH / 2 + 37;
        let clean: Vec<_> = (0..count as u64)
            .map(|i| {
                let message = hash(Domain::Vote, &i.to_be_bytes());
                (key.public(), message, key.sign(&message))
            })
            .collect();
        let edges = [
            0,
            1,
            PIECE - 1,
            PIECE,
            BATCH / 2,
            BATCH - 1,
            BATCH,
            count - 1,
        ];
        let eighths: Vec<usize> = (3..count).step_by(8).collect();
        for bad in [
            &edges[..],
            &edges[..1],
            &edges[2..4],
            &edges[4..6],
            &edges[7..],
            &eighths[..],
        ] {
            let mut items = clean.clone();
            for &i in bad {
                items[i].1 = hash(Domain::Vote, b"another message");
            }
            let expected: Vec<bool> = (0..count).map(|i| !bad.contains(&i)).collect();
            assert_eq!(verify_many(&items), expected, "bad at {bad:?}");
        }
        // Small sets, split unevenly: one bad signature at each place, then two.
        for count in SINGLES + 1..=2 * SINGLES + 1 {
            for first in 0..count {
                for second in [first, count - 1] {
                    let mut items = clean[..count].to_vec();
                    items[first].1 = hash(Domain::Vote, b"another message");
                    items[second].1 = hash(Domain::Vote, b"another message");
                    let expected: Vec<bool> =
                        (0..count).map(|i| i != first && i != second).collect();
                    assert_eq!(verify_many(&items), expected, "{count}: {first}, {second}");
                }
            }
        }
    }

    #[test]
    fn by_key_verifies_in_key_order_and_answers_in_item_order() {
        let items: Vec<_> = (0..40u8).map(signed).collect();
        let answers = by_key(&items, |sorted| {
            assert!(
                sorted.windows(2).all(|w| w[0].0 <= w[1].0),
                "grouped by key"
            );
            // Answer with each item's own message byte being even, to see where it lands.
            sorted.iter().map(|(_, m, _)| m.0[0] % 2 == 0).collect()
        });
        let expected: Vec<bool> = items.iter().map(|(_, m, _)| m.0[0] % 2 == 0).collect();
        assert_eq!(answers, expected);
    }

    /// A signature by `seed` over `message` whose R carries a small-order component: valid under
    /// the cofactored (ZIP 215) equation, refused by a cofactorless check.
    fn signature_with_torsion_in_r(seed: [u8; 32], message: &Digest) -> (PublicKey, Signature) {
        use curve25519_dalek::constants::ED25519_BASEPOINT_POINT as B;
        use curve25519_dalek::edwards::CompressedEdwardsY;
        use curve25519_dalek::scalar::{Scalar, clamp_integer};
        use sha2::{Digest as _, Sha512};
        let expanded: [u8; 64] = Sha512::digest(seed).into();
        let mut lower = [0u8; 32];
        lower.copy_from_slice(&expanded[..32]);
        let a = Scalar::from_bytes_mod_order(clamp_integer(lower));
        let public = Keypair::from_seed(&seed).public();
        // The point of order 2, (0, -1).
        let mut t = [0xff; 32];
        t[0] = 0xec;
        t[31] = 0x7f;
        let torsion = CompressedEdwardsY(t).decompress().expect("order-2 point");
        assert!(torsion.is_small_order());
        let r = Scalar::from_bytes_mod_order([42; 32]);
        let big_r = (r * B + torsion).compress();
        let k: [u8; 64] = Sha512::new()
            .chain_update(big_r.as_bytes())
            .chain_update(public.to_bytes())
            .chain_update(message.as_bytes())
            .finalize()
            .into();
        let s = r + Scalar::from_bytes_mod_order_wide(&k) * a;
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(big_r.as_bytes());
        sig[32..].copy_from_slice(s.as_bytes());
        (public, Signature(sig))
    }

    #[test]
    fn torsion_in_r_is_judged_alike_by_single_and_batch_verification() {
        let message = hash(Domain::Vote, b"edge");
        let (key, sig) = signature_with_torsion_in_r([11; 32], &message);
        // Cofactorless strict verification refuses it; the protocol's rule accepts it.
        let strict = VerifyingKey::from_bytes(&key.to_bytes())
            .expect("key")
            .verify_strict(
                message.as_bytes(),
                &ed25519_dalek::Signature::from_bytes(&sig.0),
            );
        assert!(strict.is_err());
        assert!(key.verify(&message, &sig).is_ok());
        // In a batch with ordinary signatures, alone, and damaged: the same answers.
        let mut items: Vec<_> = (0..20u8).map(signed).collect();
        items.insert(7, (key, message, sig));
        assert!(verify_many(&items).iter().all(|ok| *ok));
        assert_eq!(verify_many(&[(key, message, sig)]), vec![true]);
        let mut bad = sig;
        bad.0[40] ^= 1;
        items[7] = (key, message, bad);
        let batch = verify_many(&items);
        assert!(!batch[7]);
        assert_eq!(batch.iter().filter(|ok| !**ok).count(), 1);
    }

    proptest::proptest! {
        #[test]
        fn any_damage_is_found_by_batch_and_single_alike(
            count in 1usize..40,
            flips in proptest::collection::vec((0usize..40, 0usize..64, 0u8..8), 0..6),
        ) {
            let mut items: Vec<_> = (0..count as u8).map(signed).collect();
            for (i, byte, bit) in flips {
                if let Some(item) = items.get_mut(i) {
                    item.2.0[byte] ^= 1 << bit;
                }
            }
            let single: Vec<bool> = items.iter().map(|(k, m, s)| k.verify(m, s).is_ok()).collect();
            proptest::prop_assert_eq!(verify_many(&items), single);
        }
    }

    #[test]
    fn key_file_text_is_read_without_the_file_system() {
        let key = Keypair::from_seed(&[3; 32]);
        let text = |public: &str, seed: &str| {
            format!(
                r#"{{"kind": "participant", "public_key": "{public}", "secret_seed": "{seed}"}}"#
            )
        };
        let seed = hex::encode(*key.seed());
        let read = parse_key_file(&text(&key.public().to_hex(), &seed)).expect("a key file");
        assert_eq!(read.public(), key.public());

        let other = Keypair::from_seed(&[4; 32]).public().to_hex();
        let refused = |text: &str| match parse_key_file(text) {
            Err(KeyFileError::Malformed { reason }) => reason,
            other => panic!("expected a malformed key file, got {other:?}"),
        };
        let reason = refused(&text(&other, &seed));
        assert!(
            reason.contains("does not match the secret seed"),
            "{reason}"
        );
        let reason = refused(&text(&key.public().to_hex(), &seed[..62]));
        assert_eq!(reason, "secret_seed is not 32 bytes of hex");
        assert!(!reason.contains(&seed[..62]), "the seed is not echoed");
        refused("not json");
        refused(r#"{"kind": "participant"}"#);
        let e = parse_key_file(&text(&other, &seed)).expect_err("refused");
        assert!(
            e.to_string().starts_with("not a key file: public_key"),
            "{e}"
        );
    }

    #[test]
    fn key_files_are_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k.json");
        let key = Keypair::from_seed(&[3; 32]);
        write_key_file(&path, "validator", &key).expect("write");
        let back = read_key_file(&path).expect("read");
        assert_eq!(back.public(), key.public());
        assert!(
            write_key_file(&path, "validator", &key).is_err(),
            "must not overwrite"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
            assert!(matches!(
                read_key_file(&path),
                Err(KeyFileError::TooOpen { .. })
            ));
        }
    }
}
