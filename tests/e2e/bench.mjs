// The page's timing budgets in headless Chromium, printed as JSON for `cargo xtask bench-page`:
// time to first answer after navigation, `analyze` (median of 50 digits) and PGD-40 on one
// digit (median of 5), per backend; the same for the CIFAR-10 mode on the CPU where it was
// built; and each first answer again on a return visit (the same ordinary browser profile,
// after the first visit was kept). WebGPU here is SwiftShader, a software GPU.
//
// A first answer is timed two ways: `firstAnswerMs` by this script's clock, from opening the
// tab to the analysis arriving back here (the tab's creation and the DevTools round trips
// included), and `pageFirstAnswerMs` by the page's own clock, whose origin is the start of the
// navigation — what a visitor waits for. Both ask for the analysis as the page becomes ready,
// in the page, so no round trip to this script sits between the two.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchProfile, BASE, npmDigits } from './browser.mjs';
import { cifarBuilt, cifarTestRecords, cifarPixels } from './cifar.mjs';

const digits = npmDigits();
const sample = Array.from({ length: 50 }, (_, i) => digits[(i * 197) % digits.length]);
const out = {};
// The CIFAR-10 mode (where built): 50 test images, PGD at ε 8/255.
const runs = [['cpu', 'cpu', null, sample, 0.2], ['webgpu', 'webgpu', null, sample, 0.2]];
if (cifarBuilt()) {
  const recs = cifarTestRecords();
  runs.push(['cifar-cpu', 'cpu', 'cifar', Array.from({ length: 50 }, (_, i) => cifarPixels(recs[i])), 8 / 255]);
}
/** Opens the page in `context` and analyses `px` as soon as it is ready: the page, its load
 *  info and both first-answer times (see above). */
async function firstAnswer(context, backend, model, px) {
  const t0 = Date.now();
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`[page ${backend}] ${e.message}`));
  await page.goto(`${BASE}/?backend=${backend}` + (model ? `&model=${model}` : ''));
  const { info, answeredAt } = await page.evaluate(async (px) => {
    const info = await window.hapscope.ready;
    await window.hapscope.analyze(Float32Array.from(px));
    return { info, answeredAt: performance.now() };
  }, px);
  return { page, info, firstAnswerMs: Date.now() - t0, pageFirstAnswerMs: answeredAt };
}

for (const [key, backend, model, sample, eps] of runs) {
  // A fresh browser profile each: the first visit is cold, the second a return visit.
  const profile = mkdtempSync(join(tmpdir(), 'hapscope-bench-'));
  const context = await launchProfile(profile);
  const { page, info, firstAnswerMs, pageFirstAnswerMs } = await firstAnswer(context, backend, model, sample[0]);
  // The visit is kept for the next (service worker install, stored libraries) before the
  // timings below, which that background work would otherwise share the CPU with.
  await page.evaluate(() => window.hapscope.kept());
  const r = await page.evaluate(async ({ sample, eps }) => {
    const median = (v) => v.sort((a, b) => a - b)[v.length >> 1];
    const an = [];
    for (const px of sample) {
      const t = performance.now();
      await window.hapscope.analyze(Float32Array.from(px));
      an.push(performance.now() - t);
    }
    const pgd = [];
    for (const px of sample.slice(0, 5)) {
      const t = performance.now();
      await window.hapscope.attack(Float32Array.from(px), eps);
      pgd.push(performance.now() - t);
    }
    return { analyzeMedianMs: median(an), pgdMedianMs: median(pgd) };
  }, { sample, eps });
  out[key] = { backend: info.backend, loadMs: info.loadMs, phases: info.phases, firstAnswerMs, pageFirstAnswerMs, ...r };
  // The return visit: same browser profile, this visit kept (service worker, libraries).
  await page.close();
  const again = await firstAnswer(context, backend, model, sample[0]);
  out[`${key}-return`] = {
    backend: again.info.backend, loadMs: again.info.loadMs, phases: again.info.phases,
    keptLibraries: again.info.keptLibraries, firstAnswerMs: again.firstAnswerMs,
    pageFirstAnswerMs: again.pageFirstAnswerMs,
  };
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(out));
