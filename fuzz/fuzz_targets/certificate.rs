//! A commit certificate, and a validator-set change, from arbitrary bytes: decoding never panics,
//! is canonical, and checking one against a fixed set never panics.
#![no_main]

use caravan_sdk::block::{CommitCertificate, SetChange};
use caravan_sdk::codec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(certificate) = codec::decode::<CommitCertificate>(data, codec::MAX_BLOCK_BYTES) {
        assert_eq!(codec::encode(&certificate), data);
    }
    if let Ok(change) = codec::decode::<SetChange>(data, codec::MAX_BLOCK_BYTES) {
        assert_eq!(codec::encode(&change), data);
        let _ = change.validators.check();
        let _ = change.certificate.verify(
            &change.header.chain_id,
            change.header.height,
            &change.header.id(),
            &change.validators,
        );
    }
});
