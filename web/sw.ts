// Service worker: precaches the pages, their scripts, the library bundles and the shipped model at
// install, then answers those from the cache (cache first), so the draw page works offline after its
// first load. MNIST data (/data/…) and anything else go to the network. The build fills in
// __VERSION__ (a hash of the cached files) and __ASSETS__; a new build means a new cache.
declare const __VERSION__: string;
declare const __ASSETS__: string[];

const sw = self as unknown as ServiceWorkerGlobalScope;
const CACHE = `simdnet-${__VERSION__}`;

sw.addEventListener('install', (e) => {
  e.waitUntil(
    caches
      .open(CACHE)
      .then((c) => c.addAll(__ASSETS__))
      .then(() => sw.skipWaiting()),
  );
});

sw.addEventListener('activate', (e) => {
  e.waitUntil(
    (async () => {
      for (const k of await caches.keys()) if (k.startsWith('simdnet-') && k !== CACHE) await caches.delete(k);
      await sw.clients.claim();
    })(),
  );
});

sw.addEventListener('fetch', (e) => {
  const req = e.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== sw.location.origin || url.pathname.startsWith('/data/')) return;
  e.respondWith(
    (async () => {
      const cache = await caches.open(CACHE);
      const hit = await cache.match(req, { ignoreSearch: true });
      return hit ?? fetch(req);
    })(),
  );
});
