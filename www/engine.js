// The page's side of the worker, and the fallback from WebGPU to the CPU when the GPU fails
// (no adapter, device lost, a shader error): the worker is replaced by one on the CPU and the
// requests retried — the libraries are the same, so are the answers.
//
// Two builds of the wasm: the CPU engine (`pkg/`), which every visit loads, and the WebGPU
// engine (`pkg-webgpu/`, three times the code: burn-wgpu and its shader compiler), fetched only
// when a visitor asks for WebGPU (`?backend=webgpu`; without an adapter it falls back to its
// CPU, saying why). "auto" is the CPU engine: for these small networks the CPU answers about as
// fast, and a phone should not download a GPU shader compiler before its first answer.
import { Rpc } from './rpc.js';

/** The engine (build directory) that runs `backend`. */
export const engineFor = (backend) => (backend === 'webgpu' ? 'pkg-webgpu' : 'pkg');

export class Engine {
  /** `model`: the bundle directory, `model` (MNIST) or `model-cifar` (CIFAR-10); `helpers`:
   *  the helper workers of its loads (worker.js), `null` to let the worker choose. */
  constructor(model = 'model', helpers = null) {
    this.model = model;
    this.helpers = helpers;
    this.modules = new Map();
    this.rpc = null;
    this.info = null;
    this.fallback = null;
    this.switching = null; // the move to the CPU, while it runs
    this.onchange = () => {};
    // Whether the page compiled the first answer's forward pass for the worker (`warmUp`).
    this.warmStarted = false;
    this.warming = Promise.resolve(false);
  }

  /**
   * Runs the wasm's `warmUp` here once — the first answer's forward pass on an untrained
   * LeNet — while the worker loads: V8 compiles a wasm function at its first call once for
   * every instance of a module, and the worker has this module, so its first answer finds
   * the pass compiled (≈ 40 ms of a return visit's first answer; BENCHMARKS.md). The CPU
   * engine and the LeNet only (ResNet44's pass would hold the page for longer than the
   * compiling it saves). Best effort: `warming` resolves to whether it ran.
   */
  warmUp(engine, module) {
    if (engine !== 'pkg' || this.model !== 'model' || !module || this.warmStarted) return;
    this.warmStarted = true;
    this.warming = import(new URL(`./${engine}/hapscope_web.js`, import.meta.url))
      .then(async ({ default: init, warmUp }) => {
        await init({ module_or_path: module });
        await warmUp('lenet');
        return true;
      })
      .catch((err) => {
        console.warn(`hapscope: no warm-up (${err.message})`);
        return false;
      });
  }

  /** The engine's wasm, compiled here while it downloads (and while the worker starts and
   *  loads its scripts); the compiled module goes to the worker. `null` (the worker then
   *  compiles it itself) when this fails. */
  compiled(engine) {
    if (!this.modules.has(engine)) {
      this.modules.set(engine, WebAssembly.compileStreaming(fetch(new URL(`./${engine}/hapscope_web_bg.wasm`, import.meta.url)))
        .catch(() => null));
    }
    return this.modules.get(engine);
  }

  async start(backend) {
    const engine = engineFor(backend);
    if (engine === 'pkg-webgpu') {
      // The WebGPU engine may be missing (a server still building it) or fail to download:
      // the CPU engine answers instead, saying why.
      return this.startEngine(engine, backend).catch(async (err) => {
        await this.toCpu(`the WebGPU engine could not be loaded: ${err.message}`);
        return this.info;
      });
    }
    return this.startEngine(engine, backend);
  }

  async startEngine(engine, backend) {
    const compiling = this.compiled(engine);
    // Requests still pending on the old worker are retried by `run` on the new one.
    if (this.rpc) this.rpc.close(Object.assign(new Error('the GPU worker was replaced'), { gpuLost: true }));
    this.rpc = new Rpc(engine, this.model, this.helpers);
    this.rpc.onevent = (ev) => {
      if (ev.event === 'device-lost' && this.info?.backend === 'webgpu') {
        this.toCpu(`the device was lost: ${ev.message}`).catch(() => {});
      }
    };
    const module = await compiling;
    this.warmUp(engine, module);
    // The WebGPU engine is asked for "auto": without an adapter it answers on its CPU, saying why.
    const wants = engine === 'pkg-webgpu' ? 'auto' : backend;
    this.info = await this.rpc.call('load', { backend: wants, model: this.model, module });
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
