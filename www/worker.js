// The page's Web Worker: owns the wasm module (hapscope-web) so the page never freezes
// while the network, the libraries or PGD run. Messages: {id, op, args} → {id, ok, result|error}.
import init, { Hapscope, preprocess, photoInk } from './pkg/hapscope_web.js';

let model = null;

async function fetchBytes(name) {
  const res = await fetch(`model/${name}`);
  if (!res.ok) throw new Error(`model/${name}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

async function load({ backend }) {
  const t0 = performance.now();
  await init();
  const manifestBytes = await fetchBytes('manifest.json');
  let manifest;
  try {
    manifest = JSON.parse(new TextDecoder().decode(manifestBytes));
  } catch (e) {
    throw new Error(`model/manifest.json: not JSON (${e.message})`);
  }
  const files = [manifest.weights?.name, manifest.exemplars?.name, ...(manifest.layers ?? []).map((l) => l.file?.name)];
  if (files.some((f) => typeof f !== 'string' || f.includes('/'))) {
    throw new Error('model/manifest.json: file names missing or invalid');
  }
  const [weights, exemplars, ...libraries] = await Promise.all(files.map(fetchBytes));
  model = await Hapscope.load(manifestBytes, weights, exemplars, libraries, backend);
  return { ...model.info(), loadMs: performance.now() - t0 };
}

const ops = {
  load,
  analyze: ({ pixels }) => model.analyze(pixels),
  attack: ({ pixels, eps, seed }) => model.attack(pixels, eps, seed ?? 1),
  analyzeInk: async ({ ink, width, height }) => {
    const digit = preprocess(ink, width, height);
    return { digit, analysis: await model.analyze(digit) };
  },
  analyzePhoto: async ({ luma, width, height }) => {
    const digit = preprocess(photoInk(luma), width, height);
    return { digit, analysis: await model.analyze(digit) };
  },
};

self.onmessage = async (e) => {
  const { id, op, args } = e.data;
  try {
    if (op !== 'load' && !model) throw new Error('the model is not loaded yet');
    const result = await ops[op](args);
    self.postMessage({ id, ok: true, result });
  } catch (err) {
    // A Rust panic surfaces as a RuntimeError; after it this module instance is unusable.
    const fatal = err instanceof WebAssembly.RuntimeError;
    self.postMessage({ id, ok: false, error: String(err?.message ?? err), fatal, backend: model?.backend });
  }
};
