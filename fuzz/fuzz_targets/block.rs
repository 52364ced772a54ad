//! A block from arbitrary bytes: decoding never panics and is canonical.
#![no_main]

use caravan_sdk::block::Block;
use caravan_sdk::codec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(block) = codec::decode::<Block>(data, codec::MAX_BLOCK_BYTES) {
        assert_eq!(codec::encode(&block), data);
        let _ = block.id();
        let _ = caravan_sdk::block::transactions_root(&block.transactions);
    }
});
