// Request/response over a Web Worker: {id, op, args} → {id, ok, result | error, fatal}; a
// message without an id is an event for `onevent` (the worker's GPU device was lost).
// Used by the page for its worker and by that worker for its helpers.
export class Rpc {
  /** `engine`: the wasm build the worker will run (engine.js); `model`: the bundle it will
   *  load, if any; `helpers`: how many helper workers its loads use (`null`: its choice).
   *  They travel in the worker's name so that it fetches that build's glue, the bundle's
   *  files and what an earlier visit kept as it starts, not when asked to load. (Not in its
   *  URL: a script the service worker serves from its cache takes the cached URL, without
   *  the query.) */
  constructor(engine = 'pkg', model = null, helpers = null) {
    this.worker = new Worker(new URL('./worker.js', import.meta.url), {
      type: 'module',
      name: JSON.stringify({ engine, model, helpers }),
    });
    this.pending = new Map();
    this.next = 1;
    this.onevent = () => {};
    this.worker.onmessage = (e) => {
      if (e.data.event) {
        this.onevent(e.data);
        return;
      }
      const p = this.pending.get(e.data.id);
      if (!p) return;
      this.pending.delete(e.data.id);
      if (e.data.ok) p.resolve(e.data.result);
      else p.reject(Object.assign(new Error(e.data.error), { fatal: e.data.fatal, backend: e.data.backend }));
    };
    this.worker.onerror = (e) => {
      e.preventDefault();
      this.fail(Object.assign(new Error(`the worker failed: ${e.message || 'unknown error'}`), { fatal: true }));
    };
  }

  /** Rejects every pending request with `err`. */
  fail(err) {
    for (const { reject } of this.pending.values()) reject(err);
    this.pending.clear();
  }

  call(op, args = {}) {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, op, args });
    });
  }

  /** Stops the worker; pending requests fail with `err`. */
  close(err = new Error('the worker was stopped')) {
    this.worker.terminate();
    this.fail(err);
  }
}
