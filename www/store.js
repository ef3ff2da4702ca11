// What a first visit computed, kept for the next: the libraries' node HAPs (one Float32Array
// per layer) in IndexedDB, keyed by this build of the page (its wasm computed them) and the
// SHA-256 of the bundle's manifest (which pins every bundle file by its own SHA-256). Each
// entry carries the SHA-256 of its bytes, checked on read; the wasm checks lengths and
// values again. Any failure — no IndexedDB (some private windows), quota, a damaged entry —
// only costs the exemplar passes: reads answer `null`, writes give up.

// `cargo xtask dist` writes the build's id here (as in sw.js).
const BUILD = 'unbuilt';
const DB = 'hapscope';
const STORE = 'node-rows';

/** SHA-256 of `bytes`, lowercase hex, by the browser (native code, not wasm). */
export async function sha256Hex(bytes) {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The key of a bundle's libraries in this build: from its manifest's bytes. */
export async function rowsKey(manifestBytes) {
  return `${BUILD}:${await sha256Hex(manifestBytes)}`;
}

function open() {
  return new Promise((resolve, reject) => {
    if (!self.indexedDB) {
      reject(new Error('no IndexedDB'));
      return;
    }
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
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

/** SHA-256 over the layers' bytes in order, with each layer's length (so no two different
 *  splits of the same bytes share a digest). */
async function digestOf(rows) {
  const total = rows.reduce((s, r) => s + 8 + r.byteLength, 0);
  const all = new Uint8Array(total);
  const view = new DataView(all.buffer);
  let off = 0;
  for (const r of rows) {
    view.setFloat64(off, r.length, true);
    all.set(new Uint8Array(r.buffer, r.byteOffset, r.byteLength), off + 8);
    off += 8 + r.byteLength;
  }
  return sha256Hex(all);
}

/** The node rows kept under `key`, verified, or `null`. */
export async function readRows(key) {
  let db;
  try {
    db = await open();
    const entry = await request(db, 'readonly', (s) => s.get(key));
    if (!entry) return null;
    const rows = entry.rows?.map((b) => new Float32Array(b));
    if (!rows || rows.length === 0 || (await digestOf(rows)) !== entry.digest) {
      console.warn('hapscope: the stored libraries are damaged; recomputing them');
      await request(db, 'readwrite', (s) => s.delete(key)).catch(() => {});
      return null;
    }
    return rows;
  } catch (err) {
    console.warn(`hapscope: stored libraries unavailable (${err.message}); computing them`);
    return null;
  } finally {
    db?.close();
  }
}

/** Keeps `rows` under `key`, dropping every entry of other builds (stale: their wasm
 *  computed them). This build's other bundle (MNIST beside CIFAR-10) keeps its entry, so a
 *  visitor who switches modes does not recompute either. Never throws. */
export async function writeRows(key, rows) {
  let db;
  try {
    if (rows.length === 0) return false;
    const digest = await digestOf(rows);
    db = await open();
    const keys = await request(db, 'readonly', (s) => s.getAllKeys());
    // One transaction: the older entries go only if the new one is stored.
    await request(db, 'readwrite', (s) => {
      for (const k of keys) {
        if (typeof k !== 'string' || !k.startsWith(`${BUILD}:`)) s.delete(k);
      }
      return s.put({ rows: rows.map((r) => r.buffer), digest }, key);
    });
    return true;
  } catch (err) {
    console.warn(`hapscope: could not keep the libraries for the next visit (${err.message})`);
    return false;
  } finally {
    db?.close();
  }
}

/** Forgets the rows under `key` (the wasm refused them). Never throws. */
export async function dropRows(key) {
  let db;
  try {
    db = await open();
    await request(db, 'readwrite', (s) => s.delete(key));
  } catch {
    // Nothing kept, nothing to forget.
  } finally {
    db?.close();
  }
}
