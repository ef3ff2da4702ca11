// Library nodes are stored training images (28 × 28 digits, or 3 × 32 × 32 CIFAR-10
// photos): their bytes come with the model, so the page can show the nearest exemplars
// behind each layer's prediction.
export class Exemplars {
  /** Takes the exemplars the worker loaded (and checked): `{bytes, ids, labels, shape}`. */
  set({ bytes, ids, labels, shape }, classes) {
    this.bytes = bytes;
    this.ids = ids;
    this.labels = labels;
    this.shape = shape ?? [1, 28, 28];
    this.classes = classes;
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
    c.className = 'digit thumb';
    const r = this.row(id);
    const per = this.shape[0] * this.shape[1] * this.shape[2];
    if (r >= 0) {
      drawImage(c, this.bytes.subarray(r * per, (r + 1) * per), this.shape, 255);
      const what = this.shape[0] === 1 ? 'digit' : 'image';
      c.title = `training ${what} #${id} (${this.classes?.[this.labels[r]] ?? this.labels[r]}), cosine ${similarity.toFixed(3)}`;
    }
    return c;
  }
}

/** Draws `c × h × w` values (in [0, scale], channel-major; grey for one channel, RGB for
 *  three) into `canvas`, which takes the image's size. */
export function drawImage(canvas, values, [c, h, w] = [1, 28, 28], scale = 1) {
  canvas.width = w;
  canvas.height = h;
  const g = canvas.getContext('2d');
  const img = g.createImageData(w, h);
  const n = w * h;
  const byte = (x) => Math.max(0, Math.min(255, Math.round((x / scale) * 255)));
  for (let i = 0; i < n; i++) {
    const rgb = c === 3 ? [values[i], values[n + i], values[2 * n + i]] : [values[i], values[i], values[i]];
    img.data.set([...rgb.map(byte), 255], 4 * i);
  }
  g.putImageData(img, 0, 0);
}
