// End-to-end test of the page in headless Chromium (run by `cargo xtask test` against dist/
// served on 127.0.0.1): draw a digit with the mouse, read the per-layer predictions, run an
// attack, save a screenshot; fidelity of both backends against the native golden file
// (tests/fixtures/page/golden.json, made by `hapscope page-golden`); bad input through
// window.hapscope; every request stays on the page's origin.
import assert from 'node:assert/strict';
import { readFileSync, mkdirSync } from 'node:fs';
import { BASE, launch, open, npmDigits, drawSeven } from './browser.mjs';

const OUT = process.env.HAPSCOPE_E2E_OUT ?? 'target-e2e';
mkdirSync(OUT, { recursive: true });
const golden = JSON.parse(readFileSync('tests/fixtures/page/golden.json', 'utf8'));
const manifest = JSON.parse(readFileSync('dist/model/manifest.json', 'utf8'));
const digits = npmDigits();
const origin = new URL(BASE).origin;
let failures = 0;

async function check(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    console.log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    failures++;
    console.log(`FAIL ${name}: ${e.stack ?? e}`);
  }
}

// The golden file belongs to this bundle: same libraries, same weights.
await check('golden file matches the bundle', async () => {
  assert.deepEqual(golden.bundle, manifest.layers.map((l) => ({ name: l.name, sha256: l.file.sha256 })),
    'stale golden: run `hapscope page-golden` after `hapscope page`');
  assert.equal(golden.weights_sha256, manifest.weights.sha256);
});

const browser = await launch();
const requests = [];

await check('draw, predictions per layer, attack, screenshot (CPU)', async () => {
  const { page, info } = await open(browser, 'cpu', requests);
  assert.equal(info.backend, 'cpu');
  await drawSeven(page);
  await page.locator('#layers li[data-layer="answer"]').waitFor({ timeout: 30_000 }).catch(async (e) => {
    await page.screenshot({ path: `${OUT}/draw-failed.png` });
    throw new Error(`no prediction after drawing; the page says: "${await page.locator('#input-error').textContent()}" (${e.message})`);
  });
  const layers = await page.locator('#layers li').evaluateAll((els) => els.map((e) => e.dataset.layer));
  assert.deepEqual(layers, ['CN1', 'CN2', 'FC1', 'FC2', 'answer']);
  const answer = await page.locator('#layers li[data-layer="answer"] .answer').textContent();
  assert.match(answer, /^[0-9]$/);
  assert.equal(await page.locator('#layers li[data-layer="CN1"] .bar').count(), 3);
  assert.ok(await page.locator('#layers li[data-layer="FC1"] canvas.thumb').count() >= 1, 'exemplar thumbnails');
  assert.match(await page.locator('#verdict').textContent(), /CPL \d\.\d{3}/);
  await page.screenshot({ path: `${OUT}/page.png` });
  await page.locator('#eps').fill('0.3');
  await page.locator('#attack').click();
  await page.locator('#attack-result').waitFor({ state: 'visible', timeout: 60_000 });
  assert.match(await page.locator('#adv-caption').textContent(), /after PGD \(ε 0\.30\): the network answers \d/);
  assert.equal(await page.locator('#adv-layers li').count(), 5);
  await page.screenshot({ path: `${OUT}/attack.png`, fullPage: true });
  // A blank canvas: Clear leaves no stale prediction; a single dot still gets an answer.
  await page.locator('#clear').click();
  assert.equal(await page.locator('#layers li').count(), 0);
  await page.locator('#pad').scrollIntoViewIfNeeded();
  const box = await page.locator('#pad').boundingBox();
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  await page.locator('#layers li[data-layer="answer"]').waitFor({ timeout: 30_000 });
  await page.close();
});

await check('window.hapscope rejects bad input with a message and stays usable', async () => {
  const { page } = await open(browser, 'cpu', requests);
  const r = await page.evaluate(async () => {
    const msg = async (p) => { try { await p; return 'resolved'; } catch (e) { return e.message; } };
    return {
      short: await msg(window.hapscope.analyze(new Float32Array(10))),
      nan: await msg(window.hapscope.analyze(new Float32Array(784).fill(NaN))),
      inf: await msg(window.hapscope.analyze(new Float32Array(784).fill(Infinity))),
      eps: await msg(window.hapscope.attack(new Float32Array(784), -1)),
      after: (await window.hapscope.analyze(new Float32Array(784))).layers.length,
    };
  });
  assert.match(r.short, /784 values/);
  assert.match(r.nan, /finite/);
  assert.match(r.inf, /finite/);
  assert.match(r.eps, /ε must be/);
  assert.equal(r.after, 4);
  await page.close();
});

await check('uploads that are not images get a message; the page stays usable', async () => {
  const { page } = await open(browser, 'cpu', requests);
  await page.setInputFiles('#upload', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
  await page.locator('#input-error', { hasText: 'notes.txt is not an image' }).waitFor({ timeout: 10_000 });
  await page.setInputFiles('#upload', { name: 'broken.png', mimeType: 'image/png', buffer: Buffer.from('\x89PNG not really') });
  await page.locator('#input-error', { hasText: 'broken.png could not be decoded' }).waitFor({ timeout: 10_000 });
  await drawSeven(page);
  await page.locator('#layers li[data-layer="answer"]').waitFor({ timeout: 30_000 });
  await page.close();
});

await check('a corrupted or truncated library file is named on the page', async () => {
  for (const [how, mangle] of [['corrupted', (b) => { b[b.length >> 1] ^= 0x40; return b; }], ['truncated', (b) => b.subarray(0, b.length >> 1)]]) {
    const page = await browser.newPage();
    await page.route('**/model/CN2.haplib', async (route) => {
      const res = await route.fetch();
      await route.fulfill({ response: res, body: Buffer.from(mangle(new Uint8Array(await res.body()))) });
    });
    await page.goto(`${BASE}/?backend=cpu`);
    await page.locator('#status.failed').waitFor({ timeout: 30_000 });
    const status = await page.locator('#status').textContent();
    assert.match(status, /Could not load the model: CN2\.haplib/, `${how}: ${status}`);
    await page.close();
  }
});

await check('without a WebGPU adapter the page falls back to the CPU with the same answers', async () => {
  const plain = await launch({ webgpu: false });
  try {
    const { page, info } = await open(plain, 'auto', requests);
    assert.equal(info.backend, 'cpu');
    assert.match(info.fallback ?? '', /WebGPU/);
    assert.match(await page.locator('#backend').textContent(), /CPU — .*WebGPU/);
    const g = golden.digits[0];
    const a = await page.evaluate((px) => window.hapscope.analyze(Float32Array.from(px)), digits[g.id]);
    assert.equal(a.answer, g.answer);
    assert.deepEqual(a.layers.map((l) => l.top3[0][0]), g.top1);
  } finally {
    await plain.close();
  }
});

for (const backend of ['cpu', 'webgpu']) {
  await check(`fidelity against the native pipeline, ${backend}`, async () => {
    const { page, info } = await open(browser, backend, requests);
    assert.equal(info.backend, backend, `asked for ${backend}, got ${info.backend} (${info.fallback ?? ''})`);
    const inputs = golden.digits.map((g) => digits[g.id]);
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
      const want = golden.digits[i];
      if (g.answer === want.answer && g.top1.every((t, l) => t === want.top1[l])) same++;
      maxCpl = Math.max(maxCpl, Math.abs(g.cpl - want.cpl));
      assert.equal(g.backend, backend);
    });
    const rate = same / got.length;
    console.log(`     ${backend}: ${same}/${got.length} digits agree with native on the answer and every layer's top-1 (${(100 * rate).toFixed(1)} %), max |ΔCPL| ${maxCpl.toExponential(2)}`);
    assert.ok(got.length >= 200 && rate >= 0.995, `${same}/${got.length} < 99.5 %`);
    await page.close();
  });
}

await check('every request stays on the page\'s origin', async () => {
  const off = requests.filter((u) => !u.startsWith(origin) && !u.startsWith('data:') && !u.startsWith('blob:'));
  assert.deepEqual(off, []);
  assert.ok(requests.length > 5);
});

await browser.close();
if (failures) {
  console.log(`${failures} end-to-end check(s) failed`);
  process.exit(1);
}
console.log('end-to-end: all checks passed');
