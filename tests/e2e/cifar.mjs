// The CIFAR-10 mode's test data: the test images from the data directory (data.mjs: as the
// CLI finds it, ../shared/data by default; read by path, never copied),
// as the native golden file (`hapscope page-golden --bundle dist/model-cifar`) saw them.
import { readFileSync, existsSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { pngOf } from './images.mjs';
import { DATA } from './data.mjs';

const RECORD = 1 + 3 * 32 * 32;

/** Whether the build made the CIFAR-10 mode. */
export const cifarBuilt = () => existsSync('dist/model-cifar/manifest.json');

/** The CIFAR-10 test images as bytes (label first, then 3 × 32 × 32, channel-major). */
export function cifarTestRecords() {
  const dir = `${DATA}/cifar10`;
  const name = ['test_batch.bin', 'test_batch.bin.gz', 'test_batch.first1000.bin.gz'].find((n) => existsSync(`${dir}/${n}`));
  if (!name) throw new Error(`no CIFAR-10 test batch in ${dir}`);
  let raw = readFileSync(`${dir}/${name}`);
  if (name.endsWith('.gz')) raw = gunzipSync(raw);
  return Array.from({ length: raw.length / RECORD }, (_, i) => raw.subarray(i * RECORD, (i + 1) * RECORD));
}

/** Record → the values the page takes: 3072 in [0, 1], channel-major. */
export const cifarPixels = (rec) => Array.from(rec.subarray(1), (b) => b / 255);

/** Record → an RGB PNG of the image scaled up `scale` times (a "photo" to upload). */
export function cifarPng(rec, scale = 4) {
  const side = 32 * scale;
  const raw = Buffer.alloc(side * (1 + 3 * side));
  for (let y = 0; y < side; y++) {
    raw[y * (1 + 3 * side)] = 0;
    for (let x = 0; x < side; x++) {
      const p = Math.floor(y / scale) * 32 + Math.floor(x / scale);
      for (let c = 0; c < 3; c++) raw[y * (1 + 3 * side) + 1 + 3 * x + c] = rec[1 + c * 1024 + p];
    }
  }
  return pngOf(side, side, 2, raw);
}
