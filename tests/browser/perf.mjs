// Render time of the dashboard for a 262,144-slot slab: synthetic memory
// documents (a 262,144-slot handle slab and a 262,144-slot bitmap slab,
// about 1 % of slots changing per document) go through the page's own
// update function; each update is timed up to a forced layout. The figure
// is printed beside its target, one 60 Hz frame (16.7 ms), and never
// judged here: the suite runs this for the page's correctness on large
// slabs, `make bench` for the figure (the `render` line).
import { launch, serveWeb, check, done, watchErrors } from './lib.mjs';

const SLOTS = 262144;
const UPDATES = 20;
const BUDGET_MS = 16.7;

const browser = await launch();
const web = await serveWeb();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = watchErrors(page);
  await page.goto(web.url);
  await page.waitForFunction(() => window.vtDashboard);
  const times = await page.evaluate(async ([slots, updates]) => {
    window.vtDashboard.stop();
    let seed = 42;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const letters = 'FFFFFFAAIICNTKMU';
    const states = new Uint8Array(slots).map(() => letters.charCodeAt(Math.floor(rnd() * letters.length)));
    const bits = new Uint8Array(slots / 8).map(() => Math.floor(rnd() * 256));
    const hex = b => Array.from(b, x => x.toString(16).padStart(2, '0')).join('');
    const dec = new TextDecoder();
    const docs = [];
    for (let n = 0; n <= updates; n++) {
      for (let k = 0; k < slots / 100; k++) {
        const i = Math.floor(rnd() * slots);
        states[i] = letters.charCodeAt(Math.floor(rnd() * letters.length));
        bits[i >> 3] ^= 1 << (i & 7);
      }
      const used = states.reduce((u, c) => u + (c !== 70), 0);
      docs.push({
        seq: n, ts_ms: 1763800000000 + n * 100,
        target: { pid: 1, binary: 'synthetic', build_id: 'none', uptime_s: n },
        slabs: [
          { name: 'handles', system: 0, total: slots, used, hwm: used, overflow: 0, acquires: n, releases: n,
            states: dec.decode(states), by_owner: { 0: { A: used } } },
          { name: 'tcp_buffers', system: 0, total: slots, used: slots / 2, hwm: slots / 2, overflow: 0,
            acquires: n, releases: n, bitmap: hex(bits) },
        ],
        arenas: [{ name: 'scratch', capacity: 4 << 20, used: n << 16, hwm: n << 16, overflow: 0, overflow_bytes: 0 }],
        gc: { heap_used_bytes: 1 << 20, heap_total_bytes: 8 << 20, size_classes: [] },
        owner_map: [':8080'], leaks: [],
        tracer: { mode: 'events', attached_ms: 0, events: n * 1000, lost: 0, resyncs: 0, probes: [] },
      });
    }
    const frame = () => new Promise(r => requestAnimationFrame(r));
    window.vtDashboard.update(docs[0]);   // builds the views: not timed
    await frame();
    const out = [];
    for (let n = 1; n <= updates; n++) {
      const t0 = performance.now();
      window.vtDashboard.update(docs[n]);
      document.body.getBoundingClientRect();   // include style and layout
      out.push(performance.now() - t0);
      await frame();
    }
    return out;
  }, [SLOTS, UPDATES]);
  const sorted = [...times].sort((a, b) => a - b);
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  console.log(`render slots ${SLOTS} updates ${times.length} mean_ms ${mean.toFixed(2)} ` +
    `median_ms ${sorted[sorted.length >> 1].toFixed(2)} max_ms ${sorted[sorted.length - 1].toFixed(2)} target_ms ${BUDGET_MS}`);
  check(await page.locator('canvas.heat').count() === 2, 'both slabs drawn as heat maps');
  check(times.length === UPDATES, `${UPDATES} updates timed`);
  check(times.every(Number.isFinite), 'every update finished');
  check(errors.length === 0, `no page errors${errors.length ? ': ' + errors.join('; ') : ''}`);
} finally {
  await browser.close();
  web.close();
}
done('browser_perf');
