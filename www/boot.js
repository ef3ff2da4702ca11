// Starts the engine the moment this module arrives: index.html loads it as an async module
// script, which runs without waiting for the document to be parsed and main.js's imports
// to load (≈ 0.1–0.2 s before main.js could start it). main.js takes the engine from here.
import { Engine } from './engine.js';

export const params = new URLSearchParams(location.search);
// `?model=cifar`: the CIFAR-10 mode (ResNet44), where the build made it (dist/model-cifar).
export const cifarMode = params.get('model') === 'cifar';
// `?helpers=N` (0–3): helper workers for the load's exemplar passes, whatever the cores
// (worker.js picks by them otherwise) — so a two-core test machine still runs that path.
export const engine = new Engine(cifarMode ? 'model-cifar' : 'model', params.get('helpers'));
/** The engine's first start (`engine.start`'s promise): main.js reports its outcome. */
export const started = engine.start(params.get('backend') ?? 'auto');
started.catch(() => {}); // main.js handles it
