//! A genesis from arbitrary bytes (CBOR and JSON): reading never panics, nor does verifying it.
#![no_main]

use caravan_sdk::codec;
use caravan_sdk::genesis::Genesis;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(genesis) = codec::decode::<Genesis>(data, codec::MAX_GENESIS_BYTES) {
        assert_eq!(codec::encode(&genesis), data);
        let _ = genesis.verify();
    }
    if let Ok(genesis) = serde_json::from_slice::<Genesis>(data) {
        let _ = genesis.verify();
    }
});
