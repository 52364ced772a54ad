//! The request bodies the HTTP API reads: a batch of transactions (CBOR array of byte strings),
//! a transaction as JSON, and a state proof. Reading never panics; a batch that reads is
//! canonical.
#![no_main]

use caravan_sdk::api::{decode_batch, encode_batch};
use caravan_sdk::codec;
use caravan_sdk::state_tree::StateProof;
use caravan_sdk::tx::SignedTx;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(items) = decode_batch(data, 4096) {
        assert_eq!(encode_batch(items.iter().copied()), data);
        for item in items {
            let _ = SignedTx::from_bytes(item);
        }
    }
    let _ = serde_json::from_slice::<SignedTx>(data);
    if let Ok(proof) = codec::decode::<StateProof>(data, codec::MAX_BLOCK_BYTES) {
        let _ = proof.verify(&caravan_sdk::hash::Digest([0; 32]), b"e/SCO", Some(b"v"));
    }
});
