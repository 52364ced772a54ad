// Caravan's offline verification in the browser: the sdk compiled to WebAssembly (caravan.wasm,
// built by scripts/build-wasm), behind a small wrapper of its C ABI. No dependencies, no build
// step, and no call to a node: files are checked against the genesis given.
//
//   import { loadCaravan } from "/explorer/caravan.js";
//   const caravan = await loadCaravan();
//   const report = caravan.verify(genesisBytes, fileBytes);
//   // report: {ok, kind, links: [{name, part, status, detail}], proven, error, genesis_hash, chain_name}
//   const { public_key, signature, error } = caravan.signRead(keyFileText, "GET", "/v1/sco/SCO-CN-000123-X", Date.now());
//
// The ABI (wasm/src/lib.rs): inputs are written into buffers from alloc(len) and freed with
// dealloc(ptr, len) after the call; each function returns a result buffer, a u32 little-endian
// length n then n bytes of JSON, freed with dealloc(ptr, 4 + n).

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Loads caravan.wasm from `url`; resolves to {verify, signRead}. */
export async function loadCaravan(url = "/explorer/caravan.wasm") {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`loading ${url}: HTTP ${response.status}`);
  const module = await WebAssembly.compile(await response.arrayBuffer());
  let wasm = null;

  // A trap (which the module is built never to raise on any input) leaves its memory in an
  // unknown state: the next call starts from a fresh instance.
  async function fresh() {
    wasm = (await WebAssembly.instantiate(module, {})).exports;
  }
  await fresh();
  const reload = () => fresh().catch(() => {});

  /** Copies `bytes` into a new buffer of the module; returns [ptr, len]. */
  function put(bytes) {
    const ptr = wasm.alloc(bytes.length) >>> 0;
    if (ptr === 0) throw new Error(`an input of ${bytes.length} bytes is too large to verify`);
    new Uint8Array(wasm.memory.buffer, ptr, bytes.length).set(bytes);
    return [ptr, bytes.length];
  }

  /** Reads and frees a result buffer. */
  function take(ptr) {
    ptr >>>= 0;
    const length = new DataView(wasm.memory.buffer).getUint32(ptr, true);
    const json = decoder.decode(new Uint8Array(wasm.memory.buffer, ptr + 4, length));
    wasm.dealloc(ptr, 4 + length);
    return JSON.parse(json);
  }

  /** Calls `fn` with buffers holding `inputs` (and any `rest` arguments), then frees them. */
  function call(fn, inputs, rest = [], wipe = []) {
    if (!wasm) throw new Error("caravan.wasm failed earlier and is reloading; try again");
    const buffers = [];
    try {
      for (const bytes of inputs) buffers.push(put(bytes));
      return take(wasm[fn](...buffers.flat(), ...rest));
    } catch (error) {
      if (error instanceof WebAssembly.RuntimeError) {
        wasm = null;
        reload();
      }
      throw error;
    } finally {
      for (const bytes of wipe) bytes.fill(0);
      if (wasm) for (const [ptr, len] of buffers) wasm.dealloc(ptr, len);
    }
  }

  return {
    /**
     * Verifies a proof bundle (CBOR or JSON) or a credential against a genesis (its JSON bytes).
     * Returns the report; `ok` says whether every link holds.
     */
    verify(genesisBytes, fileBytes) {
      return call("verify", [genesisBytes, fileBytes]);
    },

    /**
     * Signs a read request with a key file's text: returns {public_key, signature} (hex), or
     * {error} saying why the key file or request is not valid. `timeMs` is the time sent in
     * x-caravan-time, milliseconds since the Unix epoch.
     */
    signRead(keyFileText, method, pathAndQuery, timeMs) {
      if (!Number.isSafeInteger(timeMs) || timeMs < 0) {
        throw new Error(`the time must be milliseconds since the Unix epoch, found ${timeMs}`);
      }
      // The module wipes its copy of the key file; this one is wiped here. The string itself
      // stays with the caller: JavaScript strings cannot be wiped.
      const key = encoder.encode(keyFileText);
      const request = [key, encoder.encode(method), encoder.encode(pathAndQuery)];
      return call("sign_read", request, [BigInt(timeMs)], [key]);
    },
  };
}
