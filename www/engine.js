// The page's side of the worker, and the fallback from WebGPU to the CPU when the GPU fails
// (no adapter, device lost, a shader error): the worker is replaced by one on the CPU and the
// requests retried — the libraries are the same, so are the answers.
import { Rpc } from './rpc.js';

export class Engine {
  /** `model`: the bundle directory, `model` (MNIST) or `model-cifar` (CIFAR-10). */
  constructor(model = 'model') {
    this.model = model;
    // The wasm compiles here, from the first moment, while the worker starts and loads its
    // scripts; the compiled module goes to it (and to a CPU worker that replaces it). A
    // failure here only means the worker compiles it itself.
    this.module = WebAssembly.compileStreaming(fetch(new URL('./pkg/hapscope_web_bg.wasm', import.meta.url)))
      .catch(() => null);
    this.rpc = null;
    this.info = null;
    this.fallback = null;
    this.switching = null; // the move to the CPU, while it runs
    this.onchange = () => {};
  }

  async start(backend) {
    // Requests still pending on the old worker are retried by `run` on the new one.
    if (this.rpc) this.rpc.close(Object.assign(new Error('the GPU worker was replaced'), { gpuLost: true }));
    this.rpc = new Rpc();
    this.rpc.onevent = (ev) => {
      if (ev.event === 'device-lost' && this.info?.backend === 'webgpu') {
        this.toCpu(`the device was lost: ${ev.message}`).catch(() => {});
      }
    };
    const module = await this.module;
    this.info = await this.rpc.call('load', { backend, model: this.model, module });
    if (this.info.fallback) this.fallback = this.info.fallback;
    this.onchange(this.info);
    return this.info;
  }

  /** Moves to a CPU worker once, however many requests or events report the failure. */
  toCpu(reason) {
    if (!this.switching) {
      this.fallback = `WebGPU failed (${reason}); running on the CPU`;
      this.switching = this.start('cpu')
        .then((info) => {
          info.fallback = this.fallback;
          this.onchange(info);
        })
        .finally(() => { this.switching = null; });
    }
    return this.switching;
  }

  /** Runs `op`; a GPU failure moves everything to the CPU and retries once. */
  async run(op, args) {
    if (this.switching) await this.switching;
    const onGpu = this.info?.backend === 'webgpu';
    try {
      return await this.rpc.call(op, args);
    } catch (err) {
      const gpuFailure = onGpu && (err.fatal || err.gpuLost || /device|gpu|shader/i.test(err.message));
      if (!gpuFailure) throw err;
      await this.toCpu(err.message);
      return await this.rpc.call(op, args);
    }
  }
}
