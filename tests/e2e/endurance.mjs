// Endurance: many analyses in a row on one page, with the memory in use sampled as they go.
// Used by the end-to-end test (500 analyses, in CI) and by `cargo xtask endurance [N]`
// (10,000 by default), which prints the samples as a table.
import { launch, open, npmDigits } from './browser.mjs';
import { readFileSync } from 'node:fs';

/** Memory may grow by at most this much between the first and the last sample (after 50
 *  warm-up analyses; the page's JS heap after a full GC). */
export const BOUND = { wasmBytes: 16 << 20, jsHeapBytes: 8 << 20 };

/**
 * Runs `n` analyses of `inputs` (cycled, each with fresh ±0.05 noise so no two are alike)
 * through `window.hapscope.analyze`; returns memory samples before and every n/10 analyses.
 */
export async function endurance(page, n, inputs) {
  return page.evaluate(async ({ n, inputs }) => {
    const mem = async () => {
      window.gc?.();
      return window.hapscope.memory();
    };
    let seed = 1;
    const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const px = new Float32Array(784);
    const one = (i) => {
      const src = inputs[i % inputs.length];
      for (let k = 0; k < 784; k++) px[k] = Math.min(1, Math.max(0, src[k] + (rand() - 0.5) * 0.1));
      return window.hapscope.analyze(px);
    };
    for (let i = 0; i < 50; i++) await one(i);
    const samples = [{ done: 0, seconds: 0, ...(await mem()) }];
    const every = Math.max(1, Math.ceil(n / 10));
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const a = await one(i);
      if (a.layers.length !== 4) throw new Error(`analysis ${i}: ${a.layers.length} layers`);
      if ((i + 1) % every === 0 || i + 1 === n) {
        samples.push({ done: i + 1, seconds: (performance.now() - t0) / 1000, ...(await mem()) });
      }
    }
    return samples;
  }, { n, inputs });
}

/** Growth between the first and last sample, and whether it is within [`BOUND`]. */
export function growth(samples) {
  const [first, last] = [samples[0], samples[samples.length - 1]];
  const g = {
    wasmBytes: last.wasmBytes - first.wasmBytes,
    jsHeapBytes: last.jsHeapBytes - first.jsHeapBytes,
  };
  return { ...g, ok: g.wasmBytes <= BOUND.wasmBytes && g.jsHeapBytes <= BOUND.jsHeapBytes };
}

const mb = (b) => (b / 2 ** 20).toFixed(2);

export function table(samples) {
  const rows = samples.map((s) =>
    `| ${s.done.toLocaleString('en')} | ${s.seconds.toFixed(1)} | ${mb(s.jsHeapBytes)} | ${mb(s.wasmBytes)} |`);
  return ['| analyses | seconds | page JS heap (MiB, after GC) | worker wasm memory (MiB) |',
    '|---:|---:|---:|---:|', ...rows].join('\n');
}

// `node tests/e2e/endurance.mjs N [backend]`: the full run, as a table.
if (import.meta.url === `file://${process.argv[1]}`) {
  const n = Number(process.argv[2] ?? 10_000);
  const backend = process.argv[3] ?? 'cpu';
  const golden = JSON.parse(readFileSync('tests/fixtures/page/golden.json', 'utf8'));
  const digits = npmDigits();
  const browser = await launch();
  try {
    const { page, info } = await open(browser, backend);
    const samples = await endurance(page, n, golden.digits.map((g) => digits[g.id]));
    const g = growth(samples);
    console.log(`\n${n.toLocaleString('en')} analyses on ${info.backend} (headless Chromium):\n`);
    console.log(table(samples));
    console.log(`\ngrowth first → last sample: page JS heap ${mb(g.jsHeapBytes)} MiB (bound ${mb(BOUND.jsHeapBytes)}), ` +
      `wasm memory ${mb(g.wasmBytes)} MiB (bound ${mb(BOUND.wasmBytes)})`);
    if (!g.ok) process.exitCode = 1;
  } finally {
    await browser.close();
  }
}
