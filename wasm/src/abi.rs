//! The C ABI a web page calls (see the crate's documentation for the contract): buffers in
//! the module's memory as (pointer, length), results as a length-prefixed JSON buffer. This is
//! the crate's only unsafe code: turning the pointers the page passes into slices.

#![allow(unsafe_code)]

use zeroize::Zeroize as _;

use crate::{MAX_INPUT_BYTES, framed};

/// Allocates `len` zeroed bytes for an input buffer; null when `len` is over
/// [`MAX_INPUT_BYTES`] (or memory is exhausted), so that the page reports a file too large
/// rather than the module trapping.
#[unsafe(no_mangle)]
pub extern "C" fn alloc(len: usize) -> *mut u8 {
    if len > MAX_INPUT_BYTES {
        return core::ptr::null_mut();
    }
    let mut buffer = Vec::new();
    if buffer.try_reserve_exact(len).is_err() {
        return core::ptr::null_mut();
    }
    buffer.resize(len, 0u8);
    Box::into_raw(buffer.into_boxed_slice()).cast::<u8>()
}

/// Frees a buffer from [`alloc`] (`len` as asked) or a result buffer (`len` = 4 + its JSON's
/// length). Null is ignored.
///
/// # Safety
///
/// `ptr` and `len` must be exactly those of one buffer from [`alloc`] or a result, not freed
/// before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dealloc(ptr: *mut u8, len: usize) {
    if ptr.is_null() {
        return;
    }
    // SAFETY: the caller passes a buffer made by `Box<[u8]>::into_raw` with this length.
    drop(unsafe { Box::from_raw(core::ptr::slice_from_raw_parts_mut(ptr, len)) });
}

/// Verifies a proof bundle or credential (`file`) against a genesis's JSON; returns a result
/// buffer holding a [`crate::Report`].
///
/// # Safety
///
/// Each (pointer, length) pair must be a live buffer from [`alloc`] (or length 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn verify(
    genesis_ptr: *const u8,
    genesis_len: usize,
    file_ptr: *const u8,
    file_len: usize,
) -> *mut u8 {
    // SAFETY: as the caller promises.
    let (genesis, file) = unsafe { (input(genesis_ptr, genesis_len), input(file_ptr, file_len)) };
    result(&crate::verify(genesis, file))
}

/// Signs a read request with a key file's text; returns a result buffer holding a
/// [`crate::SignedRead`]. The key file's buffer is overwritten with zeros before returning.
///
/// # Safety
///
/// Each (pointer, length) pair must be a live buffer from [`alloc`] (or length 0), and the key
/// file's buffer must not overlap the others.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sign_read(
    key_ptr: *mut u8,
    key_len: usize,
    method_ptr: *const u8,
    method_len: usize,
    path_ptr: *const u8,
    path_len: usize,
    time_ms: u64,
) -> *mut u8 {
    // SAFETY: as the caller promises; the key buffer is borrowed mutably, alone.
    let key_file = unsafe { input_mut(key_ptr, key_len) };
    let (method, path) = unsafe { (input(method_ptr, method_len), input(path_ptr, path_len)) };
    let signed = crate::sign_read(key_file, method, path, time_ms);
    key_file.zeroize();
    result(&signed)
}

/// The bytes of an input buffer.
///
/// # Safety
///
/// `ptr` must point to `len` readable bytes that stay unchanged while the slice lives, or
/// `len` must be 0.
unsafe fn input<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if ptr.is_null() || len == 0 {
        return &[];
    }
    // SAFETY: as the caller promises.
    unsafe { core::slice::from_raw_parts(ptr, len) }
}

/// The bytes of an input buffer, writable.
///
/// # Safety
///
/// As for [`input`], and nothing else may read or write them while the slice lives.
unsafe fn input_mut<'a>(ptr: *mut u8, len: usize) -> &'a mut [u8] {
    if ptr.is_null() || len == 0 {
        return &mut [];
    }
    // SAFETY: as the caller promises.
    unsafe { core::slice::from_raw_parts_mut(ptr, len) }
}

/// A value as a result buffer, handed to the caller.
fn result(value: &impl serde::Serialize) -> *mut u8 {
    Box::into_raw(framed(value).into_boxed_slice()).cast::<u8>()
}
