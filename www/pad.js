// The drawing pad: mouse, touch and pen through pointer events; white ink on black, like MNIST.
export class Pad {
  constructor(canvas, { onchange, debounceMs }) {
    this.c = canvas;
    this.g = canvas.getContext('2d', { willReadFrequently: true });
    this.onchange = onchange;
    this.debounceMs = debounceMs;
    this.timer = 0;
    this.last = null;
    this.clear();
    canvas.addEventListener('pointerdown', (e) => {
      canvas.setPointerCapture(e.pointerId);
      this.last = this.pos(e);
      this.dot(this.last);
    });
    canvas.addEventListener('pointermove', (e) => {
      if (!this.last) return;
      for (const ev of e.getCoalescedEvents?.() ?? [e]) {
        const p = this.pos(ev);
        this.stroke(this.last, p);
        this.last = p;
      }
      this.schedule();
    });
    const end = () => { if (this.last) { this.last = null; this.schedule(0); } };
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointercancel', end);
  }

  pos(e) {
    const r = this.c.getBoundingClientRect();
    return [(e.clientX - r.left) * (this.c.width / r.width), (e.clientY - r.top) * (this.c.height / r.height)];
  }

  stroke(a, b) {
    const g = this.g;
    g.strokeStyle = '#fff';
    g.lineWidth = this.c.width / 14;
    g.lineCap = 'round';
    g.lineJoin = 'round';
    g.beginPath();
    g.moveTo(a[0], a[1]);
    g.lineTo(b[0], b[1]);
    g.stroke();
  }

  // A tap leaves a round dot (a zero-length stroke draws nothing).
  dot([x, y]) {
    this.g.fillStyle = '#fff';
    this.g.beginPath();
    this.g.arc(x, y, this.c.width / 28, 0, 2 * Math.PI);
    this.g.fill();
  }

  schedule(ms = this.debounceMs) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.onchange(), ms);
  }

  clear() {
    clearTimeout(this.timer);
    this.g.fillStyle = '#000';
    this.g.fillRect(0, 0, this.c.width, this.c.height);
  }

  /** Ink in [0, 1] (the red channel of white-on-black), row-major. */
  ink() {
    const { width, height } = this.c;
    const px = this.g.getImageData(0, 0, width, height).data;
    const ink = new Float32Array(width * height);
    for (let i = 0; i < ink.length; i++) ink[i] = px[4 * i] / 255;
    return { ink, width, height };
  }
}
