// The page: drawing pad and upload → worker (wasm) → per-layer predictions, CPL verdict,
// nearest exemplars, attack playground; and `window.hapscope` for automation and embedding.
import { Engine } from './engine.js';
import { Pad } from './pad.js';
import { Exemplars, drawDigit } from './exemplars.js';
import { renderLayers, renderVerdict } from './render.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const engine = new Engine();
const exemplars = new Exemplars();
let current = null; // the digit on screen (Float32Array of 784) and its analysis

function showBackend(info) {
  const name = info.backend === 'webgpu' ? 'WebGPU' : 'CPU';
  $('backend').textContent = `backend: ${name}` + (engine.fallback ? ` — ${engine.fallback}` : '');
}

function show(digit, analysis) {
  current = { digit, analysis };
  drawDigit($('preview'), digit);
  renderLayers($('layers'), analysis, engine.info, exemplars, { answerCard: true });
  renderVerdict($('verdict'), $('gauge-fill'), $('gauge-mark'), analysis);
  $('attack').disabled = false;
}

const toF32 = (pixels) => (pixels instanceof Float32Array ? pixels : Float32Array.from(pixels ?? []));

// --- the public API -------------------------------------------------------------------------
const ready = (async () => {
  const backend = params.get('backend') ?? 'auto';
  engine.onchange = showBackend;
  const info = await engine.start(backend);
  exemplars.set(info.exemplars);
  const c = info;
  $('calibration').textContent =
    `Threshold ${c.threshold.toFixed(3)}, calibrated on ${c.calibration_digits.toLocaleString('en')} clean held-out digits: ` +
    `${(100 * c.false_positive_rate).toFixed(1)} % of clean digits fall below it (false-positive rate).`;
  $('status').textContent = `Ready in ${(info.loadMs / 1000).toFixed(1)} s — libraries: ` +
    info.layers.map((l) => `${l.name} ${l.nodes} nodes (θ ${l.theta.toFixed(2)})`).join(', ') + '. Draw a digit.';
  return info;
})();
ready.catch((err) => {
  $('status').textContent = `Could not load the model: ${err.message}`;
  $('status').classList.add('failed');
});

window.hapscope = {
  ready,
  get backend() { return engine.info?.backend; },
  async analyze(pixels) {
    await ready;
    return engine.run('analyze', { pixels: toF32(pixels) });
  },
  async attack(pixels, eps, seed = 1) {
    await ready;
    return engine.run('attack', { pixels: toF32(pixels), eps, seed });
  },
  /** Memory in use: the page's JS heap (Chromium only) and the analysing worker's wasm memory. */
  async memory() {
    await ready;
    const { wasmBytes } = await engine.rpc.call('memory');
    return { jsHeapBytes: performance.memory?.usedJSHeapSize ?? null, wasmBytes };
  },
  /** Test hook: destroys the worker's WebGPU device, as a driver reset would (0 on the CPU). */
  async simulateDeviceLoss() {
    await ready;
    return engine.rpc.call('loseDevice');
  },
};

// --- drawing and upload ---------------------------------------------------------------------
let seq = 0;
async function analyzeInk() {
  const mine = ++seq;
  const { ink, width, height } = pad.ink();
  $('input-error').textContent = '';
  try {
    await ready;
    const r = await engine.run('analyzeInk', { ink, width, height });
    if (mine === seq) show(r.digit, r.analysis);
  } catch (err) {
    if (mine === seq) $('input-error').textContent = err.message;
  }
}
const pad = new Pad($('pad'), { onchange: analyzeInk, debounceMs: 120 });
$('clear').onclick = () => {
  pad.clear();
  seq++;
  current = null;
  $('layers').replaceChildren();
  $('verdict').textContent = '–';
  $('verdict').className = 'verdict';
  $('attack').disabled = true;
  $('input-error').textContent = '';
  drawDigit($('preview'), new Float32Array(784));
};

// The file goes to the worker, which checks its header before decoding it (see worker.js).
$('upload').onchange = async (e) => {
  const file = e.target.files[0];
  e.target.value = '';
  if (!file) return;
  $('input-error').textContent = '';
  try {
    await ready;
    const r = await engine.run('analyzeFile', { file });
    pad.clear();
    show(r.digit, r.analysis);
  } catch (err) {
    $('input-error').textContent = `Upload: ${file.name}: ${err.message}`;
  }
};

// --- attack playground ----------------------------------------------------------------------
$('eps').oninput = () => { $('eps-out').textContent = Number($('eps').value).toFixed(2); };
$('attack').onclick = async () => {
  if (!current) return;
  const eps = Number($('eps').value);
  $('attack').disabled = true;
  $('attack-error').textContent = '';
  $('attack').textContent = 'Attacking…';
  try {
    const r = await engine.run('attack', { pixels: current.digit, eps, seed: 1 });
    const a = r.analysis;
    $('attack-result').hidden = false;
    drawDigit($('adv'), r.adversarial);
    $('adv-caption').textContent = `after PGD (ε ${eps.toFixed(2)}): the network answers ${a.answer}` +
      (a.answer === r.label ? ' (unchanged)' : ` (was ${r.label})`);
    renderLayers($('adv-layers'), a, engine.info, exemplars, { answerCard: true });
    renderVerdict($('adv-verdict'), null, null, a);
  } catch (err) {
    $('attack-error').textContent = err.message;
  } finally {
    $('attack').disabled = false;
    $('attack').textContent = 'Run PGD on this digit';
  }
};
drawDigit($('preview'), new Float32Array(784));
