// The page's service worker: this build's files, cached when it installs (after the first
// visit has answered: main.js registers it then) and served from that cache first — a
// return visit downloads nothing, and the page works offline after one visit. The CIFAR-10
// mode's files and the WebGPU engine are cached when first used, not before.
//
// `cargo xtask dist` writes the build's id and file list over the two lines below; a new
// build is a new cache, and the old one goes when the new worker takes over (once no page
// of the old build is open, so a page never mixes two builds' files).
const BUILD = 'unbuilt';
const FILES = [];

const CACHE = `hapscope-${BUILD}`;
// This build's cache, opened by the first request this worker serves.
let opened = null;
const LAZY = /\/(model-cifar|pkg-webgpu)\//;

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(FILES)));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith('hapscope-') && key !== CACHE) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin) return;
  event.respondWith((async () => {
    opened ??= caches.open(CACHE).catch((err) => {
      opened = null; // tried again by the next request
      throw err;
    });
    const cache = await opened;
    // `?backend=cpu`, `?model=cifar`: the same files. Looked up by the URL without its query
    // rather than with `ignoreSearch`, which compares the request with every entry.
    const hit = await cache.match(url.origin + url.pathname);
    if (hit) return hit;
    const res = await fetch(req);
    if (res.ok && LAZY.test(url.pathname)) {
      await cache.put(url.pathname, res.clone()).catch(() => {});
    }
    return res;
  })());
});
