// Library nodes are stored training digits: their 28 × 28 bytes come with the model, so the
// page can show the nearest exemplars behind each layer's prediction.
export class Exemplars {
  /** Takes the exemplars the worker loaded (and checked): `{bytes, ids, labels}`. */
  set({ bytes, ids, labels }) {
    this.bytes = bytes;
    this.ids = ids;
    this.labels = labels;
  }

  /** Row of source id `id` (binary search), or -1. */
  row(id) {
    let lo = 0, hi = (this.ids?.length ?? 0) - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.ids[mid] === id) return mid;
      if (this.ids[mid] < id) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
  }

  /** A canvas showing exemplar `id`. */
  thumb(id, similarity) {
    const c = document.createElement('canvas');
    c.width = c.height = 28;
    c.className = 'digit thumb';
    const r = this.row(id);
    if (r >= 0) {
      drawDigit(c, this.bytes.subarray(r * 784, (r + 1) * 784), 255);
      c.title = `training digit #${id} (a ${this.labels[r]}), cosine ${similarity.toFixed(3)}`;
    }
    return c;
  }
}

/** Draws 784 values (in [0, scale]) as a grey 28 × 28 image. */
export function drawDigit(canvas, values, scale = 1) {
  const g = canvas.getContext('2d');
  const img = g.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = Math.max(0, Math.min(255, Math.round((values[i] / scale) * 255)));
    img.data.set([v, v, v, 255], 4 * i);
  }
  g.putImageData(img, 0, 0);
}
