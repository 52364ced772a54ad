//! Caravan's offline verification for a web page: the sdk's own verification of proof bundles
//! and credentials, and the signing of read requests, compiled to WebAssembly
//! (`wasm32-unknown-unknown`, built by `scripts/build-wasm`) so that a browser checks a record
//! against the genesis with no call to a node.
//!
//! The functions here take bytes and return JSON-serialisable values; on WebAssembly they are
//! exported behind the plain C ABI below, which `node/assets/explorer/caravan.js` wraps. No
//! JavaScript glue generator is involved.
//!
//! # C ABI
//!
//! Every export takes buffers as (pointer, length) pairs in the module's memory and returns a
//! pointer to a result buffer; `usize` and pointers are 32-bit, `u64` is a JavaScript `BigInt`.
//!
//! ```text
//! alloc(len: usize) -> *mut u8                  // len bytes, zeroed; null if len > 16 MiB
//! dealloc(ptr: *mut u8, len: usize)             // frees what alloc or a function returned
//! verify(genesis_ptr, genesis_len, file_ptr, file_len) -> *mut u8
//! sign_read(key_ptr, key_len, method_ptr, method_len, path_ptr, path_len, time_ms: u64) -> *mut u8
//! ```
//!
//! A result buffer is a `u32` little-endian length `n`, then `n` bytes of UTF-8 JSON (a
//! [`Report`] for `verify`, a [`SignedRead`] for `sign_read`); the caller frees it with
//! `dealloc(ptr, 4 + n)`. Input buffers are only borrowed: the caller writes them into memory
//! from `alloc` and frees them after the call. `sign_read` overwrites its key-file buffer with
//! zeros before it returns.

pub use sign::{SignedRead, sign_read};
pub use verify::{Kind, LinkReport, Report, Status, verify};

#[cfg(target_family = "wasm")]
mod abi;
mod sign;
mod verify;

#[cfg(test)]
mod fixtures;

/// The largest input buffer `alloc` hands out: room for the largest JSON bundle the sdk reads
/// (three times the CBOR cap) and more than the largest credential or genesis.
pub const MAX_INPUT_BYTES: usize = 16 * 1024 * 1024;

/// A value as the result buffer of the C ABI: its JSON's length as a `u32` little-endian, then
/// the JSON.
pub fn framed(value: &impl serde::Serialize) -> Vec<u8> {
    let json = serde_json::to_vec(value).unwrap_or_else(|e| {
        // The values serialised here are plain structs and JSON values; should one ever fail,
        // the page still gets JSON that says so.
        serde_json::json!({ "ok": false, "error": format!("the result is not JSON: {e}") })
            .to_string()
            .into_bytes()
    });
    let length = u32::try_from(json.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(4 + json.len());
    out.extend_from_slice(&length.to_le_bytes());
    out.extend_from_slice(&json);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_buffer_is_its_length_then_its_json() {
        let out = framed(&serde_json::json!({ "a": "é" }));
        let length = u32::from_le_bytes([out[0], out[1], out[2], out[3]]) as usize;
        assert_eq!(length, out.len() - 4);
        assert_eq!(&out[4..], "{\"a\":\"é\"}".as_bytes());
    }
}
