// PNG files made in the test (no binary fixtures): a real encoder — signature, IHDR, IDAT
// (zlib), IEND, each chunk with its CRC — so the browser would decode what we upload.
import { deflateSync } from 'node:zlib';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** An 8-bit greyscale PNG; `raw` holds `height` rows of (filter byte 0, `width` bytes). */
export const greyPng = (width, height, raw) => pngOf(width, height, 0, raw);

/** An 8-bit PNG of colour type `colour` (0 grey, 2 RGB); `raw` holds the filtered rows. */
export function pngOf(width, height, colour, raw) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, colour, 0, 0, 0], 8); // 8 bits, colour type, deflate, no filter, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A photo-like PNG of a 28 × 28 digit (values in [0, 1], 1 = ink) drawn dark on light
 *  paper, scaled up `scale` times. */
export function digitPng(digit, scale = 4) {
  const side = 28 * scale;
  const raw = Buffer.alloc(side * (side + 1));
  for (let y = 0; y < side; y++) {
    raw[y * (side + 1)] = 0;
    for (let x = 0; x < side; x++) {
      const v = digit[Math.floor(y / scale) * 28 + Math.floor(x / scale)];
      raw[y * (side + 1) + 1 + x] = Math.round(235 - 200 * v);
    }
  }
  return greyPng(side, side, raw);
}

/** A genuine all-black 20,000 × 20,000 PNG: ≈ 0.4 MB on disk, 1.6 GB once decoded to RGBA. */
export function hugePng() {
  const side = 20_000;
  return greyPng(side, side, Buffer.alloc(side * (side + 1)));
}
