// The page's side of the worker: request/response over postMessage, and the fallback from
// WebGPU to the CPU when the GPU fails (no adapter, device lost, a shader error): the worker is
// replaced by one on the CPU and the request retried — the libraries are the same, so are the answers.

export class Engine {
  constructor() {
    this.pending = new Map();
    this.next = 1;
    this.info = null;
    this.fallback = null;
    this.onchange = () => {};
  }

  async start(backend) {
    if (this.worker) this.worker.terminate();
    for (const { reject } of this.pending.values()) reject(new Error('the worker was restarted'));
    this.pending.clear();
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    this.worker.onmessage = (e) => {
      const p = this.pending.get(e.data.id);
      if (!p) return;
      this.pending.delete(e.data.id);
      if (e.data.ok) p.resolve(e.data.result);
      else p.reject(Object.assign(new Error(e.data.error), { fatal: e.data.fatal, backend: e.data.backend }));
    };
    this.worker.onerror = (e) => {
      e.preventDefault();
      const err = Object.assign(new Error(`the worker failed: ${e.message || 'unknown error'}`), { fatal: true });
      for (const { reject } of this.pending.values()) reject(err);
      this.pending.clear();
    };
    this.info = await this.call('load', { backend });
    if (this.info.fallback) this.fallback = this.info.fallback;
    this.onchange(this.info);
    return this.info;
  }

  call(op, args = {}) {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, op, args });
    });
  }

  /** Runs `op`; a GPU failure moves everything to the CPU and retries once. */
  async run(op, args) {
    try {
      return await this.call(op, args);
    } catch (err) {
      const gpuFailure = this.info?.backend === 'webgpu' && (err.fatal || /device|gpu|shader/i.test(err.message));
      if (!gpuFailure) throw err;
      this.fallback = `WebGPU failed (${err.message}); running on the CPU`;
      await this.start('cpu');
      this.info.fallback = this.fallback;
      this.onchange(this.info);
      return await this.call(op, args);
    }
  }
}
