// What a first visit computed, kept for the next: the unit node vectors of the libraries it
// computed from the exemplars ("rows"), in IndexedDB, one entry per bundle of this build of
// the page (its wasm computed them), read as the worker starts — before the bundle's manifest
// arrives — and used only if the manifest is the one they were computed from (its SHA-256 is
// in the entry). A return visit takes them as a bundle's stored vectors: no exemplar passes,
// no normalisation.
//
// The rows are one Blob (all layers, in order) beside their lengths and XXH64 checksum: a Blob
// comes back from IndexedDB as a reference and is read off the thread, about twice as fast
// here as the same bytes stored as ArrayBuffers; the wasm checks the checksum as it takes the
// rows in (≈ 5 ms for 25 MB, where WebCrypto's SHA-256 took ≈ 40 ms) and their lengths and
// values. Any failure — no IndexedDB (some private windows), quota, a damaged entry — only
// costs the exemplar passes: reads answer `null`, writes give up.
//
// A refused entry is not deleted when it is read: the recomputed rows overwrite it in one
// `put`. Deleting a key and putting it again in a later transaction left the new Blob
// unreadable ("the requested file could not be read") in about one of ten return visits of
// Chromium's private contexts on a busy machine (0 of 48 with the overwrite).

// `cargo xtask dist` writes the build's id here (as in sw.js).
const BUILD = 'unbuilt';
const DB = 'hapscope';
const STORE = 'node-rows';

/** SHA-256 of `bytes`, lowercase hex, by the browser (native code, not wasm). */
export async function sha256Hex(bytes) {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The key of bundle `dir`'s libraries in this build. */
export const rowsKey = (dir) => `${BUILD}:${dir}`;

function open() {
  return new Promise((resolve, reject) => {
    if (!self.indexedDB) {
      reject(new Error('no IndexedDB'));
      return;
    }
    // Version 2: entries hold one Blob; version 1's (ArrayBuffers, SHA-256) are dropped.
    const req = indexedDB.open(DB, 2);
    req.onupgradeneeded = () => {
      if (req.result.objectStoreNames.contains(STORE)) req.result.deleteObjectStore(STORE);
      req.result.createObjectStore(STORE);
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB open failed'));
    req.onblocked = () => reject(new Error('IndexedDB blocked'));
  });
}

function request(db, mode, fn) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const req = fn(tx.objectStore(STORE));
    let result;
    req.onsuccess = () => { result = req.result; };
    tx.oncomplete = () => resolve(result);
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
  });
}

/**
 * The node rows kept under `key` — `{ manifest, rows, checksum }`: the SHA-256 (hex) of the
 * manifest they came from, one Float32Array per layer, and the checksum to hand to the wasm
 * with them — or `null`. Rows whose lengths do not add up are refused here (the load's
 * write replaces them); the wasm checks the rest.
 */
export async function readRows(key) {
  let db;
  try {
    db = await open();
    const entry = await request(db, 'readonly', (s) => s.get(key));
    if (!entry) return null;
    const { manifest, lengths, checksum, blob } = entry;
    const bytes = blob instanceof Blob ? await blob.arrayBuffer() : null;
    const counts = Array.isArray(lengths) && lengths.length > 0 && lengths.every((n) => Number.isSafeInteger(n) && n > 0);
    const total = counts ? lengths.reduce((a, n) => a + n, 0) : NaN;
    if (!bytes || typeof manifest !== 'string' || typeof checksum !== 'string' || 4 * total !== bytes.byteLength) {
      console.warn('hapscope: the stored libraries are damaged; recomputing them');
      return null;
    }
    let offset = 0;
    const rows = lengths.map((n) => {
      const view = new Float32Array(bytes, offset, n);
      offset += 4 * n;
      return view;
    });
    return { manifest, rows, checksum };
  } catch (err) {
    console.warn(`hapscope: stored libraries unavailable (${err.message}); computing them`);
    return null;
  } finally {
    db?.close();
  }
}

/** Keeps `rows` (one Float32Array per layer) under `key` with the SHA-256 of their manifest
 *  and their checksum (from the wasm), replacing what was there and dropping every entry of
 *  other builds (stale: their wasm computed them); resolves to `true` once the stored rows
 *  read back. This build's other bundle (MNIST beside
 *  CIFAR-10) keeps its entry, so a visitor who switches modes does not recompute either.
 *  Where the rows cannot be stored, the old entry under `key` is forgotten (it was refused
 *  or is stale, and would only be read and refused again). Never throws. */
export async function writeRows(key, manifest, rows, checksum) {
  let db;
  try {
    if (rows.length === 0 || typeof checksum !== 'string') return false;
    const entry = { manifest, lengths: rows.map((r) => r.length), checksum, blob: new Blob(rows) };
    db = await open();
    const keys = await request(db, 'readonly', (s) => s.getAllKeys());
    // One transaction: the older entries go only if the new one is stored.
    await request(db, 'readwrite', (s) => {
      for (const k of keys) {
        if (typeof k !== 'string' || !k.startsWith(`${BUILD}:`)) s.delete(k);
      }
      return s.put(entry, key);
    });
    // Read back, last bytes only. In Chromium's private windows IndexedDB keeps a reference to
    // the Blob, not its bytes, and completes the transaction before the browser has them all:
    // a page closed then left the entry unreadable ("the requested file could not be read") in
    // 14 of 35 tries of 50 MB here. A read waits for the bytes (0 of 35 with it), so the visit
    // may end once this resolves.
    const stored = await request(db, 'readonly', (s) => s.get(key));
    const tail = stored?.blob instanceof Blob ? await stored.blob.slice(-4).arrayBuffer() : null;
    if (tail?.byteLength !== 4) throw new Error('the stored rows do not read back');
    return true;
  } catch (err) {
    console.warn(`hapscope: could not keep the libraries for the next visit (${err.message})`);
    if (db) await request(db, 'readwrite', (s) => s.delete(key)).catch(() => {});
    return false;
  } finally {
    db?.close();
  }
}
