// The page's Web Worker: owns the wasm module (hapscope-web) so the page never freezes
// while the network, the libraries or PGD run. Messages: {id, op, args} → {id, ok, result|error}.
import { Rpc } from './rpc.js';
import { rowsKey, readRows, writeRows, sha256Hex } from './store.js';

let model = null;
// This worker's engine and bundle, from its name (rpc.js).
const NAMED = (() => {
  try {
    return JSON.parse(self.name) ?? {};
  } catch {
    return {};
  }
})();
// The engine's wasm-bindgen glue (`pkg/` on the CPU, `pkg-webgpu/` for WebGPU: engine.js),
// fetched as the worker starts; `wasm` once it is here.
const ENGINE = NAMED.engine ?? 'pkg';
const gluing = ['pkg', 'pkg-webgpu'].includes(ENGINE)
  ? import(`./${ENGINE}/hapscope_web.js`)
  : Promise.reject(new Error(`no engine ${ENGINE}`));
gluing.catch(() => {}); // awaited by `load` and `init`
let wasm = null;
async function glue() {
  wasm ??= await gluing;
  return wasm;
}
// The write of this load's libraries for the next visit (resolves to whether they are kept).
let keptWrite = Promise.resolve(false);
const KEEP_AFTER_MS = 500;
let wasmMemory = null;
let input = [1, 28, 28];

// The WebGPU devices the wasm asks for: their loss is reported to the page (which moves to
// the CPU), and `loseDevice` destroys them to simulate a loss in tests.
const devices = [];
if (self.GPUAdapter) {
  const requestDevice = GPUAdapter.prototype.requestDevice;
  GPUAdapter.prototype.requestDevice = async function (...args) {
    const device = await requestDevice.apply(this, args);
    devices.push(device);
    device.lost.then((info) => {
      self.postMessage({ event: 'device-lost', message: info.message || `reason: ${info.reason}` });
    });
    return device;
  };
}

async function fetchBytes(dir, name) {
  const res = await fetch(`${dir}/${name}`);
  if (!res.ok) throw new Error(`${dir}/${name}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/**
 * What a load of bundle `dir` needs before the wasm: its manifest, the download of its files
 * and what an earlier visit kept (store.js). Started as the worker starts, for the bundle
 * named in its name (rpc.js), so that this overlaps with the page compiling the wasm and
 * sending `load`; a load of another bundle starts its own.
 */
async function begin(dir) {
  // What an earlier visit kept is read at once, alongside the manifest's download: it is the
  // slowest part of a return visit (≈ 25 MB for the MNIST page).
  const key = rowsKey(dir);
  const reading = readRows(key);
  const manifestRaw = await fetchBytes(dir, 'manifest.json');
  let manifest;
  try {
    manifest = JSON.parse(new TextDecoder().decode(manifestRaw));
  } catch (e) {
    throw new Error(`${dir}/manifest.json: not JSON or not readable (${e.message})`);
  }
  // The detectors' file (Gaussians) rides along last when the bundle has one.
  const detectorsFile = manifest.detectors?.file?.name;
  const files = [manifest.weights?.name, manifest.exemplars?.name, ...(manifest.layers ?? []).map((l) => l.file?.name),
    ...(manifest.detectors ? [detectorsFile] : [])];
  if (files.some((f) => typeof f !== 'string' || f.includes('/'))) {
    throw new Error(`${dir}/manifest.json: file names missing or invalid`);
  }
  const download = Promise.all(files.map((f) => fetchBytes(dir, f)));
  download.catch(() => {});
  // The node vectors are recomputed from the exemplars (the bundles ship none: they would be
  // most of a download, 13 of the CIFAR-10 mode's 17 MB) — or, on a return visit, read from
  // what the first visit kept, if this manifest is the one they came from.
  const manifestDigest = await sha256Hex(manifestRaw);
  // Rows of another manifest are left for this load's write to replace (store.js).
  const kept = reading.then((k) => (k && k.manifest !== manifestDigest ? null : k));
  return { manifestRaw, manifestDigest, manifest, download, key, kept };
}

const BUNDLES = ['model', 'model-cifar'];
// The bundle this worker was started for, and its `begin` (taken by the first `load` of it).
let early = BUNDLES.includes(NAMED.model) ? { dir: NAMED.model, begun: begin(NAMED.model) } : null;
early?.begun.catch(() => {}); // reported by `load`

// `model` (MNIST, the LeNet) or `model-cifar` (CIFAR-10, ResNet44).
async function load({ backend, model: which = 'model', module: compiled = null }) {
  if (!BUNDLES.includes(which)) throw new Error(`no model ${which}`);
  // Timed from the worker's start (its time origin): the early part of the load counts.
  const t0 = 0;
  // The wasm compiles while the model downloads — and, on a return visit, while the kept
  // libraries are read — the compiled module is shared with the helpers.
  // The page usually compiled it already (engine.js).
  const module = compiled instanceof WebAssembly.Module
    ? Promise.resolve(compiled)
    : WebAssembly.compileStreaming(fetch(new URL(`./${ENGINE}/hapscope_web_bg.wasm`, import.meta.url)));
  module.catch(() => {}); // awaited below; an early failure of another step must not leave it unhandled
  const started = early?.dir === which ? early.begun : begin(which);
  early = null;
  const { manifestRaw, manifestDigest, manifest, download, key, kept: keeping } = await started;
  // Node vectors are shared among helper workers (started as soon as the wasm is compiled,
  // so they initialise during the download) unless an earlier visit kept them.
  const mod = await module;
  const { default: init, Hapscope } = await glue();
  wasmMemory = (await init({ module_or_path: mod })).memory;
  const kept = await keeping;
  const helpers = !kept ? spawnHelpers(mod, manifest.network) : [];
  const downloaded = await download;
  // The files' SHA-256 by WebCrypto (the wasm compares them with the manifest's).
  const digests = await Promise.all(downloaded.map(sha256Hex));
  const [weights, exemplars, ...rest] = downloaded;
  const detectors = manifest.detectors ? rest.pop() : undefined;
  const libraries = rest;
  const t1 = performance.now();
  // The helpers take the network, input shape and taps from the manifest, as the loader does.
  const haps = !kept
    ? await shareHaps([manifestRaw, weights, exemplars, libraries], manifest.exemplar_ids.length, helpers)
    : undefined;
  const th = performance.now();
  let cached = Boolean(kept);
  try {
    model = await Hapscope.load(manifestRaw, weights, exemplars, libraries, backend, haps, detectors,
      kept?.rows, digests, kept?.checksum);
  } catch (err) {
    if (!kept) throw err;
    // Kept rows the wasm refuses (their checksum or values damaged): recompute; the write
    // below replaces them.
    console.warn(`hapscope: ${err.message}; recomputing the libraries`);
    cached = false;
    model = await Hapscope.load(manifestRaw, weights, exemplars, libraries, backend, undefined, detectors, undefined, digests);
  }
  // Kept for the next visit once this one has had time to answer: checksumming and storing
  // ≈ 25 MB would otherwise hold up the first analysis. Not waited for (`kept` can).
  const loaded = model;
  keptWrite = !cached
    ? new Promise((resolve) => setTimeout(resolve, KEEP_AFTER_MS)).then(() => {
      const checksum = loaded.nodeRowsChecksum();
      const rows = loaded.takeNodeRows();
      return rows.length ? writeRows(key, manifestDigest, rows, checksum) : false;
    })
    : Promise.resolve(cached);
  const info = model.info();
  input = info.input;
  const t2 = performance.now();
  // Without helpers the exemplar passes run inside the wasm's load, as its `rows` step.
  const passesInLoad = !cached && !haps ? info.load_phases?.rows ?? 0 : 0;
  return {
    ...info,
    loadMs: t2 - t0,
    phases: {
      downloadAndCompileMs: t1 - t0,
      exemplarHapsMs: th - t1 + passesInLoad,
      librariesMs: t2 - th - passesInLoad,
    },
    // Whether the libraries came from what an earlier visit kept (no exemplar passes).
    keptLibraries: cached,
    // How many helper workers took shares of the exemplar passes.
    helpers: haps ? haps.length - 1 : 0,
    // The page draws the nearest exemplars from these (checked by the load); no second download.
    exemplars: { bytes: exemplars, ids: manifest.exemplar_ids, labels: manifest.exemplar_labels, shape: input },
  };
}

// Loading means a forward pass per library node's exemplar: helper workers take shares of
// them. A helper pays for its start and its own warm-up of the wasm (≈ 0.3 s of CPU here)
// only when the passes are long: ResNet44's 732 (CIFAR-10 mode: 7 s with one helper, 11 s
// without, on two cores), not the LeNet's 1,029 (≈ 0.6 s; first answer 1,410 ms without a
// helper against 1,471 with, medians of 14 runs each, BENCHMARKS.md). So for the LeNet a
// core is left to the browser (the page, V8's optimising compiles, the network): a two-core
// machine has no helper. When a helper fails, this worker computes them all.
const SHORT_PASSES = ['lenet'];
function spawnHelpers(module, network) {
  const asked = Number.parseInt(NAMED.helpers, 10); // `?helpers=N` (boot.js)
  const spare = (navigator.hardwareConcurrency || 1) - (SHORT_PASSES.includes(network) ? 2 : 1);
  const count = Math.min(3, Number.isNaN(asked) ? spare : asked);
  return Array.from({ length: Math.max(0, count) }, () => {
    const h = new Rpc(ENGINE);
    h.ready = h.call('init', { module });
    h.ready.catch(() => {}); // a failed helper only loses its share (see shareHaps)
    return h;
  });
}

async function shareHaps(files, n, helpers) {
  try {
    const ready = (await Promise.allSettled(helpers.map((h) => h.ready)))
      .map((r, i) => (r.status === 'fulfilled' ? helpers[i] : null)).filter(Boolean);
    if (ready.length === 0 || n < 64) return undefined;
    // Interleaved shares of the planned passes (hapscope_models::page::passes): each worker
    // gets a like mix of shallow and deep ones. This worker takes share 0.
    const parts = ready.length + 1;
    const theirs = ready.map((h, k) => h.call('haps', { files, part: k + 1, parts }));
    const mine = await wasm.nodeHaps(...files, 0, parts);
    return [mine, ...(await Promise.all(theirs))];
  } catch (err) {
    console.warn(`helper workers failed (${err.message}); computing the libraries in one worker`);
    return undefined;
  } finally {
    helpers.forEach((h) => h.close());
  }
}

/**
 * An uploaded file (it never leaves the browser) as an ImageBitmap. The header is checked
 * first (hapscope_models::image_header): a 20,000 × 20,000 PNG is refused by its declared
 * size instead of being decoded into 1.6 GB.
 */
async function decodeUpload(file) {
  wasm.checkUpload(new Uint8Array(await file.slice(0, wasm.uploadHeadBytes()).arrayBuffer()), file.size);
  return createImageBitmap(file).catch(() => {
    throw new Error('the image data could not be decoded (corrupt or unsupported)');
  });
}

/** Draws `img` (then closes it) into a `width × height` canvas; its RGBA bytes. */
function pixelsOf(img, width, height, crop = null) {
  const c = new OffscreenCanvas(width, height);
  const g = c.getContext('2d');
  g.imageSmoothingQuality = 'high';
  if (crop) g.drawImage(img, crop.x, crop.y, crop.side, crop.side, 0, 0, width, height);
  else g.drawImage(img, 0, 0, width, height);
  img.close();
  return g.getImageData(0, 0, width, height).data;
}

/** A photo of a handwritten digit → the MNIST-style digit (luminance at ≤ 512 px a side). */
function photoDigit(img) {
  const s = Math.min(1, 512 / Math.max(img.width, img.height));
  const width = Math.max(1, Math.round(img.width * s));
  const height = Math.max(1, Math.round(img.height * s));
  const px = pixelsOf(img, width, height);
  const luma = new Float32Array(width * height);
  for (let i = 0; i < luma.length; i++) {
    luma[i] = (0.299 * px[4 * i] + 0.587 * px[4 * i + 1] + 0.114 * px[4 * i + 2]) / 255;
  }
  return wasm.preprocess(wasm.photoInk(luma), width, height);
}

/** A photo → `side × side` RGB, channel-major, in [0, 1]: its centred square, scaled down
 *  as CIFAR-10's images were. */
function colourImage(img, side) {
  const sq = Math.min(img.width, img.height);
  const crop = { x: (img.width - sq) / 2, y: (img.height - sq) / 2, side: sq };
  const px = pixelsOf(img, side, side, crop);
  const n = side * side;
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < 3; ch++) out[ch * n + i] = px[4 * i + ch] / 255;
  }
  return out;
}

const ops = {
  load,
  init: async ({ module }) => { await (await glue()).default({ module_or_path: module }); return true; },
  haps: ({ files, part, parts }) => wasm.nodeHaps(...files, part, parts),
  analyze: ({ pixels }) => model.analyze(pixels),
  attack: ({ pixels, eps, seed, adaptive, steps }) => model.attack(pixels, eps, seed ?? 1, Boolean(adaptive), steps),
  analyzeInk: async ({ ink, width, height }) => {
    const digit = wasm.preprocess(ink, width, height);
    return { digit, analysis: await model.analyze(digit) };
  },
  analyzeFile: async ({ file }) => {
    const img = await decodeUpload(file);
    // CIFAR-10: the photo itself, 32 × 32 colour; MNIST: its ink, made MNIST-style.
    const digit = input[0] === 3 ? colourImage(img, input[1]) : photoDigit(img);
    return { digit, analysis: await model.analyze(digit) };
  },
  memory: () => ({ wasmBytes: wasmMemory.buffer.byteLength }),
  kept: () => keptWrite,
  loseDevice: () => {
    devices.forEach((d) => d.destroy());
    return devices.length;
  },
};

self.onmessage = async (e) => {
  const { id, op, args } = e.data;
  try {
    if (!['load', 'init', 'haps'].includes(op) && !model) throw new Error('the model is not loaded yet');
    const result = await ops[op](args);
    // A helper's HAPs move to the loading worker without a copy.
    const transfer = op === 'haps' ? result.map((a) => a.buffer) : [];
    self.postMessage({ id, ok: true, result }, transfer);
  } catch (err) {
    // A Rust panic surfaces as a RuntimeError; after it this module instance is unusable.
    const fatal = err instanceof WebAssembly.RuntimeError;
    self.postMessage({ id, ok: false, error: String(err?.message ?? err), fatal, backend: model?.backend });
  }
};
