// The page's side of the worker, and the fallback from WebGPU to the CPU when the GPU fails
// (no adapter, device lost, a shader error): the worker is replaced by one on the CPU and the
// request retried — the libraries are the same, so are the answers.
import { Rpc } from './rpc.js';

export class Engine {
  constructor() {
    this.rpc = null;
    this.info = null;
    this.fallback = null;
    this.onchange = () => {};
  }

  async start(backend) {
    if (this.rpc) this.rpc.close();
    this.rpc = new Rpc();
    this.info = await this.rpc.call('load', { backend });
    if (this.info.fallback) this.fallback = this.info.fallback;
    this.onchange(this.info);
    return this.info;
  }

  /** Runs `op`; a GPU failure moves everything to the CPU and retries once. */
  async run(op, args) {
    try {
      return await this.rpc.call(op, args);
    } catch (err) {
      const gpuFailure = this.info?.backend === 'webgpu' && (err.fatal || /device|gpu|shader/i.test(err.message));
      if (!gpuFailure) throw err;
      this.fallback = `WebGPU failed (${err.message}); running on the CPU`;
      await this.start('cpu');
      this.info.fallback = this.fallback;
      this.onchange(this.info);
      return await this.rpc.call(op, args);
    }
  }
}
