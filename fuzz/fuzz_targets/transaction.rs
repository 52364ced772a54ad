//! A signed transaction from arbitrary bytes: decoding never panics, and whatever decodes is the
//! canonical encoding of itself.
#![no_main]

use caravan_sdk::tx::SignedTx;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(tx) = SignedTx::from_bytes(data) {
        assert_eq!(tx.to_bytes(), data);
        let _ = tx.id();
        let _ = tx.tx.body.validate();
    }
});
