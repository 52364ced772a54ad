//! Canonical CBOR. Everything that is signed or hashed is encoded with minicbor (integer keys,
//! definite lengths, no floats, no maps) and decoding is strict: the input is size-capped before
//! decoding and must re-encode to the very same bytes, so one value has exactly one encoding.

use minicbor::{Decode, Encode};

/// The largest transaction the protocol accepts, in bytes of canonical CBOR.
pub const MAX_TRANSACTION_BYTES: usize = 64 * 1024;
/// The largest proof bundle a verifier reads, in bytes.
pub const MAX_BUNDLE_BYTES: usize = 4 * 1024 * 1024;
/// The largest block a node decodes, in bytes.
pub const MAX_BLOCK_BYTES: usize = 32 * 1024 * 1024;
/// The largest genesis a node or verifier reads, in bytes.
pub const MAX_GENESIS_BYTES: usize = 1024 * 1024;

/// Why bytes could not be decoded as the canonical encoding of a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The input is larger than the cap for its kind.
    #[error("input is {found} bytes, the limit is {limit}")]
    TooLarge {
        /// The cap.
        limit: usize,
        /// The input's size.
        found: usize,
    },
    /// The input is not valid CBOR for the expected type.
    #[error("malformed cbor: {0}")]
    Malformed(String),
    /// The input decodes, but is not the canonical encoding of what it decodes to.
    #[error(
        "non-canonical cbor: {found} bytes decode to a value whose canonical encoding is {canonical} bytes"
    )]
    NonCanonical {
        /// Input size.
        found: usize,
        /// Size of the canonical encoding.
        canonical: usize,
    },
}

/// Encodes `value` canonically.
pub fn encode<T: Encode<()>>(value: &T) -> Vec<u8> {
    // Writing into a Vec cannot fail, and none of our Encode impls return errors: a failure
    // here is a programming error, not an input error.
    minicbor::to_vec(value).expect("encoding into memory cannot fail")
}

/// [`encode`] into a buffer of `capacity` bytes to start with.
pub fn encode_with_capacity<T: Encode<()>>(value: &T, capacity: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(capacity);
    minicbor::encode(value, &mut bytes).expect("encoding into memory cannot fail");
    bytes
}

/// Decodes `bytes` as the canonical encoding of a `T`, refusing inputs larger than `limit`.
pub fn decode<T>(bytes: &[u8], limit: usize) -> Result<T, CodecError>
where
    T: for<'b> Decode<'b, ()> + Encode<()>,
{
    if bytes.len() > limit {
        return Err(CodecError::TooLarge {
            limit,
            found: bytes.len(),
        });
    }
    let value: T = minicbor::decode(bytes).map_err(|e| CodecError::Malformed(e.to_string()))?;
    // The value's canonical encoding is compared with the input as it is produced, not kept.
    let mut check = Compare {
        rest: bytes,
        equal: true,
        written: 0,
    };
    minicbor::encode(&value, &mut check).expect("comparing an encoding cannot fail");
    if !check.equal || !check.rest.is_empty() {
        return Err(CodecError::NonCanonical {
            found: bytes.len(),
            canonical: check.written,
        });
    }
    Ok(value)
}

/// A writer that compares what is written with the bytes expected, keeping nothing.
struct Compare<'a> {
    /// The expected bytes not yet matched.
    rest: &'a [u8],
    /// Whether everything written so far matched.
    equal: bool,
    /// Bytes written.
    written: usize,
}

impl minicbor::encode::Write for Compare<'_> {
    type Error = std::convert::Infallible;

    fn write_all(&mut self, buf: &[u8]) -> Result<(), Self::Error> {
        self.written += buf.len();
        if self.equal {
            match self.rest.strip_prefix(buf) {
                Some(rest) => self.rest = rest,
                None => self.equal = false,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Encode, Decode)]
    #[cbor(array)]
    struct Sample {
        #[n(0)]
        a: u64,
        #[n(1)]
        b: String,
    }

    #[test]
    fn round_trip() {
        let s = Sample {
            a: 7,
            b: "x".into(),
        };
        let bytes = encode(&s);
        assert_eq!(decode::<Sample>(&bytes, 100), Ok(s));
    }

    #[test]
    fn rejects_trailing_bytes_and_long_forms() {
        let mut bytes = encode(&Sample {
            a: 7,
            b: "x".into(),
        });
        bytes.push(0);
        assert_eq!(
            decode::<Sample>(&bytes, 100),
            Err(CodecError::NonCanonical {
                found: 5,
                canonical: 4
            })
        );
        // 7 encoded in the two-byte form (0x18 0x07) instead of the one-byte form.
        let long = [0x82, 0x18, 0x07, 0x61, b'x'];
        assert_eq!(
            decode::<Sample>(&long, 100),
            Err(CodecError::NonCanonical {
                found: 5,
                canonical: 4
            })
        );
        // An indefinite-length array.
        let indefinite = [0x9f, 0x07, 0x61, b'x', 0xff];
        assert!(decode::<Sample>(&indefinite, 100).is_err());
    }

    #[test]
    fn rejects_oversized_before_decoding() {
        let bytes = encode(&Sample {
            a: 1,
            b: "y".repeat(50),
        });
        assert_eq!(
            decode::<Sample>(&bytes, 10),
            Err(CodecError::TooLarge {
                limit: 10,
                found: bytes.len()
            })
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(matches!(
            decode::<Sample>(&[0xff, 0x00], 100),
            Err(CodecError::Malformed(_))
        ));
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use crate::block::Block;
    use crate::bundle::ProofBundle;
    use crate::genesis::Genesis;
    use crate::hash::Digest;
    use crate::ids::{ChainId, Nonce, ParticipantId};
    use crate::keys::Keypair;
    use crate::tx::{Body, SignedTx, UnsignedTx};

    proptest! {
        /// Arbitrary bytes never panic a decoder, and whatever decodes re-encodes to the input.
        #[test]
        fn decoders_are_total_and_canonical(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(tx) = SignedTx::from_bytes(&bytes) {
                prop_assert_eq!(tx.to_bytes(), bytes.clone());
            }
            if let Ok(b) = ProofBundle::from_bytes(&bytes) {
                prop_assert_eq!(b.to_bytes(), bytes.clone());
            }
            let _ = super::decode::<Block>(&bytes, super::MAX_BLOCK_BYTES);
            let _ = super::decode::<Genesis>(&bytes, super::MAX_GENESIS_BYTES);
            let _ = super::decode::<crate::block::CommitCertificate>(&bytes, super::MAX_BLOCK_BYTES);
            let _ = super::decode::<crate::block::SetChange>(&bytes, super::MAX_BLOCK_BYTES);
            let _ = super::decode::<crate::state_tree::StateProof>(&bytes, super::MAX_BLOCK_BYTES);
            if let Ok(items) = crate::api::decode_batch(&bytes, 64) {
                prop_assert_eq!(crate::api::encode_batch(items.iter().copied()), bytes.clone());
            }
        }

        /// Arbitrary JSON-looking text never panics the JSON readers of bundles and credentials.
        #[test]
        fn json_readers_are_total(text in "\\{[ -~]{0,300}") {
            let _ = ProofBundle::parse(text.as_bytes());
            let _ = crate::credential::Credential::parse(text.as_bytes());
            let _ = serde_json::from_str::<Genesis>(&text);
        }

        /// Transactions round-trip through CBOR and JSON with the same id.
        #[test]
        fn transactions_round_trip(
            seed in any::<[u8; 32]>(),
            nonce in any::<u64>(),
            doc in any::<[u8; 32]>(),
            meta in proptest::collection::btree_map("[a-z]{1,8}", "[ -~]{0,20}", 0..5),
        ) {
            let key = Keypair::from_seed(&seed);
            let tx = UnsignedTx {
                chain_id: ChainId(Digest([3; 32])),
                signer: ParticipantId::new("CN-EXPORTER-9").expect("id"),
                nonce: Nonce(nonce),
                body: Body::AnchorRecord {
                    kind: "packing_list".into(),
                    document_hash: Digest(doc),
                    metadata: meta.into_iter().collect(),
                },
            }
            .sign(&key);
            let back = SignedTx::from_bytes(&tx.to_bytes()).expect("decode");
            prop_assert_eq!(&back, &tx);
            let json: SignedTx = serde_json::from_str(&serde_json::to_string(&tx).expect("json")).expect("parse");
            prop_assert_eq!(json.id(), tx.id());
            prop_assert!(back.verify_signature(&key.public()).is_ok());
        }

        /// A bundle with any one byte changed never verifies.
        #[test]
        fn mutated_bundles_never_verify(position in any::<prop::sample::Index>(), flip in 1u8..=255) {
            let (genesis, bundle, _) = crate::bundle::tests::sample_bundle();
            let mut bytes = bundle.to_bytes();
            let i = position.index(bytes.len());
            bytes[i] ^= flip;
            let verdict = ProofBundle::from_bytes(&bytes).and_then(|b| crate::bundle::verify_bundle(&genesis, &b));
            prop_assert!(verdict.is_err());
        }
    }
}
