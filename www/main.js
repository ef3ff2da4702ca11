// The page: drawing pad and upload → worker (wasm) → per-layer predictions, CPL verdict,
// nearest exemplars, attack playground; and `window.hapscope` for automation and embedding.
import { engine, started, params, cifarMode } from './boot.js';
import { Pad } from './pad.js';
import { Exemplars, drawImage } from './exemplars.js';
import { renderLayers, renderVerdict } from './render.js';

const $ = (id) => document.getElementById(id);
const NO_CIFAR = 'The CIFAR-10 mode is not part of this build of the page.';
const exemplars = new Exemplars();
let current = null; // the image on screen (Float32Array, channel-major) and its analysis
const inputShape = () => engine.info?.input ?? [1, 28, 28];
const className = (k) => engine.info?.classes?.[k] ?? String(k);
const blank = () => new Float32Array(inputShape().reduce((a, b) => a * b, 1));

function showBackend(info) {
  const name = info.backend === 'webgpu' ? 'WebGPU' : 'CPU';
  $('backend').textContent = `backend: ${name}` + (engine.fallback ? ` — ${engine.fallback}` : '');
  // The WebGPU engine is a separate, larger download (engine.js): offered, not imposed.
  const other = info.backend === 'webgpu' ? 'cpu' : 'webgpu';
  if (other === 'cpu' || ('gpu' in navigator && !engine.fallback)) {
    const to = new URLSearchParams(params);
    to.set('backend', other);
    $('backend').append(' (', link(`?${to}`, other === 'cpu' ? 'use the CPU' : 'try WebGPU, a larger download'), ')');
  }
}

function show(digit, analysis) {
  current = { digit, analysis };
  drawImage($('preview'), digit, inputShape());
  renderLayers($('layers'), analysis, engine.info, exemplars, { answerCard: true });
  renderVerdict($('verdict'), $('gauge-fill'), $('gauge-mark'), analysis);
  $('attack').disabled = false;
  $('attack-adaptive').disabled = !engine.info?.detectors;
}

// Not `toLocaleString`: its first call loads the locale data, ≈ 20 ms before the first answer.
const thousands = (n) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

const toF32 = (pixels) => (pixels instanceof Float32Array ? pixels : Float32Array.from(pixels ?? []));

// --- the public API -------------------------------------------------------------------------
const ready = (async () => {
  // The engine started in boot.js; later changes (the move to the CPU) come by `onchange`.
  engine.onchange = showBackend;
  const info = await started;
  showBackend(info);
  exemplars.set(info.exemplars, info.classes);
  const images = info.input[0] === 3 ? 'images' : 'digits';
  const d = info.detectors;
  $('calibration').textContent = (d
    ? `Verdict by ${d.verdict}: threshold ${d.threshold.toFixed(2)}, set on clean held-out ${images} for a ` +
      `${(100 * d.false_positive_rate).toFixed(0)} % false-positive rate (measured in hapscope's evaluation: REPORT.md). `
    : '') +
    `CPL threshold ${info.threshold.toFixed(3)}, calibrated on ${thousands(info.calibration_digits)} clean held-out ${images}: ` +
    `${(100 * info.false_positive_rate).toFixed(1)} % of clean ${images} fall below it.`;
  $('status').textContent = `Ready in ${(info.loadMs / 1000).toFixed(1)} s — libraries: ` +
    info.layers.map((l) => `${l.name} ${l.nodes} nodes (θ ${l.theta.toFixed(2)})`).join(', ') +
    (cifarMode ? '. Upload a photo.' : '. Draw a digit.');
  drawImage($('preview'), blank(), info.input);
  return info;
})();

// The figures of the native run (below the fold) wait until a second after the page is
// ready: decoding them takes the main thread for ≈ 0.1 s, which must not hold up the worker's
// start or the first answers (index.html).
ready.catch(() => {}).then(() => setTimeout(() => {
  for (const img of document.querySelectorAll('img[data-src]')) img.src = img.dataset.src;
}, 1000));

ready.catch((err) => {
  // A build without the CIFAR-10 mode has no model-cifar/ to fetch: one line says so.
  const missing = cifarMode && /model-cifar\/manifest\.json: HTTP 404/.test(err.message);
  $('status').textContent = missing ? NO_CIFAR : `Could not load the model: ${err.message}`;
  $('status').classList.add('failed');
});

// After the first answer, the service worker caches this build's files for return visits
// and offline use (sw.js); without one (a private window, an old browser) nothing changes.
const offline = ready.then(async () => {
  if (!('serviceWorker' in navigator)) return false;
  try {
    await navigator.serviceWorker.register('sw.js');
    await navigator.serviceWorker.ready;
    return true;
  } catch (err) {
    console.warn(`hapscope: no offline copy (${err.message})`);
    return false;
  }
});

window.hapscope = {
  ready,
  get backend() { return engine.info?.backend; },
  async analyze(pixels) {
    await ready;
    return engine.run('analyze', { pixels: toF32(pixels) });
  },
  /** PGD, `steps` of them (40 when not given, at most 1,000); `adaptive` also fights the
   *  verdict's detector (see the attack playground). */
  async attack(pixels, eps, seed = 1, adaptive = false, steps = undefined) {
    await ready;
    return engine.run('attack', { pixels: toF32(pixels), eps, seed, adaptive, steps });
  },
  /** Memory in use: the page's JS heap (Chromium only) and the analysing worker's wasm memory. */
  async memory() {
    await ready;
    const { wasmBytes } = await engine.rpc.call('memory');
    return { jsHeapBytes: performance.memory?.usedJSHeapSize ?? null, wasmBytes };
  },
  /** Resolves once this visit is kept for the next: `{ files }` whether the service worker
   *  holds the page's files, `{ libraries }` whether the computed libraries are stored. */
  async kept() {
    await ready;
    const [files, libraries] = await Promise.all([offline, engine.rpc.call('kept')]);
    return { files, libraries };
  },
  /** Resolves to whether the page ran the wasm's warm-up for the worker (engine.js). */
  warmedUp: () => engine.warming,
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
  $('attack-adaptive').disabled = true;
  // A blank pad is not a digit: say so instead of analysing nothing.
  $('input-error').textContent = 'The pad is blank: draw a digit.';
  drawImage($('preview'), blank(), inputShape());
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
// ε in pixel units; CIFAR-10's are shown in 255ths, as the paper gives them.
const epsText = (eps) => (cifarMode ? `${Math.round(eps * 255)}/255` : eps.toFixed(2));
$('eps').oninput = () => { $('eps-out').textContent = epsText(Number($('eps').value)); };
async function runAttack(adaptive) {
  if (!current) return;
  const eps = Number($('eps').value);
  const buttons = [$('attack'), $('attack-adaptive')];
  buttons.forEach((b) => { b.disabled = true; });
  $('attack-error').textContent = '';
  const button = adaptive ? $('attack-adaptive') : $('attack');
  const label = button.textContent;
  button.textContent = 'Attacking…';
  try {
    const r = await engine.run('attack', { pixels: current.digit, eps, seed: 1, adaptive });
    const a = r.analysis;
    $('attack-result').hidden = false;
    drawImage($('adv'), r.adversarial, inputShape());
    const kind = r.adaptive ? `adaptive PGD (also fighting ${a.verdict_by})` : 'PGD';
    $('adv-caption').textContent = `after ${kind}, ε ${epsText(eps)}: the network answers ${className(a.answer)}` +
      (a.answer === r.label ? ' (unchanged)' : ` (was ${className(r.label)})`);
    renderLayers($('adv-layers'), a, engine.info, exemplars, { answerCard: true });
    renderVerdict($('adv-verdict'), null, null, a);
  } catch (err) {
    $('attack-error').textContent = err.message;
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
    $('attack-adaptive').disabled = !engine.info?.detectors;
    button.textContent = label;
  }
}
$('attack').onclick = () => runAttack(false);
$('attack-adaptive').onclick = () => runAttack(true);

// --- the CIFAR-10 mode ----------------------------------------------------------------------
function setUpCifarMode() {
  document.body.classList.add('cifar');
  document.title = 'hapscope — CIFAR-10 (ResNet44), layer by layer';
  $('tagline').textContent = 'Upload a photo (its centre square becomes a 32 × 32 CIFAR-10 image). ' +
    'Each hidden layer of ResNet44 keeps a library of the activity patterns it saw in training; ' +
    'from it, each layer predicts what the network will answer. When the layers disagree, the input may be fooling the network.';
  $('preview-caption').textContent = 'what the network sees (32 × 32)';
  Object.assign($('eps'), { min: String(1 / 255), max: String(16 / 255), step: String(1 / 255), value: String(8 / 255) });
  $('eps').oninput();
  $('attack').textContent = 'Run PGD on this image';
  $('cifar').replaceChildren('This is the CIFAR-10 mode. ', link('./', 'Back to the MNIST digits.'));
  $('source').textContent = 'CIFAR-10 images and ResNet44 weights (akamaster/pytorch_resnet_cifar10, BSD-2-Clause)';
}

/** Links the CIFAR-10 mode when the build made it; otherwise says, in one line, that it is not
 *  there (building it is the README's business, not a visitor's). */
async function offerCifarMode() {
  const res = await fetch('model-cifar/manifest.json', { method: 'GET' }).catch(() => null);
  if (res?.ok) {
    $('cifar').replaceChildren(link('?model=cifar', 'Open the CIFAR-10 mode'),
      ': upload a photo and see how ResNet44\'s layers vote (its libraries are downloaded when you open it).');
  }
}

function link(href, text) {
  const a = document.createElement('a');
  a.href = href;
  a.textContent = text;
  return a;
}

// The CIFAR-10 mode is looked for once the model has loaded (or failed), not during its downloads.
if (cifarMode) setUpCifarMode();
else ready.catch(() => {}).then(offerCifarMode);
