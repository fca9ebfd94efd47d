// The dashboard fed synthetic memory documents through its own update
// function (window.vtDashboard.update): grid cells against the document,
// flashes, warnings, owner bars, tooltips, heat-map zoom, bad input,
// responsive columns, and screenshots. Needs no tracer.
import path from 'node:path';
import { launch, serveWeb, check, done, until, watchErrors, shotsDir, gridLetters, truthLetters, sleep } from './lib.mjs';

// Deterministic pseudo-random slab contents.
function rng(seed) {
  return () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
}
function bitmapOf(total, usedFrac, rnd) {
  const bytes = new Uint8Array((total + 7) >> 3);
  let used = 0;
  for (let i = 0; i < total; i++) if (rnd() < usedFrac) { bytes[i >> 3] |= 1 << (i & 7); used++; }
  return { bitmap: Array.from(bytes, b => b.toString(16).padStart(2, '0')).join(''), used };
}
function statesOf(total, rnd) {
  const pick = 'FFFFFFFFAAAIICNTKMU';
  let s = '';
  for (let i = 0; i < total; i++) s += pick[Math.floor(rnd() * pick.length)];
  return s;
}
function summaryOf(states) {
  const sum = {};
  for (const c of states) sum[c] = (sum[c] || 0) + 1;
  return sum;
}
// Owner index per connection slot: slot 8 (the leak) is :8080, the others by slot.
function ownersOf(states) {
  return [...states].map((c, i) => ('AICN'.includes(c) ? (i === 8 ? 0 : i % 3).toString(16) : '-')).join('');
}
function slab(name, total, extra) {
  return { name, system: 0, total, used: 0, hwm: 0, overflow: 0, acquires: 0, releases: 0, ...extra };
}

function makeDoc(seq, { states, tcp, overflow = 0 }) {
  const rnd = rng(seq);
  const used = [...states].filter(c => c !== 'F').length;
  const buf = tcp ?? bitmapOf(576, 0.3, rnd);
  return {
    seq, ts_ms: 1763800000000 + seq * 100, pid: 4242,
    target: { pid: 4242, binary: '/usr/local/bin/valk', build_id: '0123456789abcdef0123', uptime_s: 185 },
    slabs: [
      slab('handles', states.length, { used, hwm: used + 5, states, summary: summaryOf(states), owners: ownersOf(states),
        by_owner: { 0: { A: 30, I: 2 }, 1: { A: 10, C: 2 }, 2: { N: 3 } } }),
      slab('tcp_buffers', 576, { used: buf.used, hwm: buf.used, overflow, bitmap: buf.bitmap }),
      slab('stream_arenas', 512, bitmapOf(512, 0.1, rnd)),
      slab('http_servers', 8, { used: 2, hwm: 2, bitmap: '03' }),
      slab('http_clients', 8, { used: 0, hwm: 0, bitmap: '00' }),
    ],
    arenas: [
      { name: 'scratch', capacity: 4194200, used: 1048576, hwm: 3145728, overflow: 0, overflow_bytes: 0 },
      { name: 'stream_arena/3', capacity: 4194304, used: 3355443, hwm: 3355443, overflow: 0, overflow_bytes: 0 },
      { name: 'stream_arena/7', capacity: 4194304, used: 4000000, hwm: 4194304, overflow: 2, overflow_bytes: 8192 },
      { name: 'stream_arena/9', capacity: 65536, used: 118, hwm: 118, overflow: 1, overflow_bytes: 763901 },
    ],
    gc: { heap_used_bytes: 12 << 20, heap_total_bytes: 64 << 20,
      size_classes: [{ size: 16, used: 900, total: 1024 }, { size: 32, used: 10, total: 512 }] },
    owner_map: [':8080', ':9090', ':3000'],
    leaks: [{ slab: 'handles', slot: 8, age_ms: 185000, state: states[8], owner: ':8080' },
      { slab: 'tcp_buffers', slot: 0, age_ms: 61000, state: 'U', owner: null, since: 'attach' }],
    tracer: { mode: 'events', attached_ms: 1763799000000, events: seq * 1000, lost: 0, resyncs: 1, probes: [] },
  };
}

// The flash classes of a grid's cells, in slot order.
const flashes = (page, slabName) => page.evaluate(s =>
  Array.from(document.querySelector(`.pool-canvas[data-slab="${s}"] .cells`).children,
    c => /\bf[ab]\b/.test(c.className)), slabName);

const browser = await launch();
const web = await serveWeb();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = watchErrors(page);
  // the page's clock, faked: time runs on its own until the flashes are
  // checked, when it is paused and run by hand
  await page.clock.install();
  await page.goto(web.url + 'debug/');
  await page.waitForFunction(() => window.vtDashboard);

  // No tracer behind this server: the stream fails and the dot is red.
  check(await until(() => page.$eval('#sse-dot', d => d.classList.contains('down')), 3000), 'SSE dot red without a stream');

  const rnd = rng(7);
  // slot 8 is a long-lived active connection (it is in the leak list)
  let states = statesOf(2056, rnd).replace(/^(.{8})./, '$1A');
  const doc1 = makeDoc(1, { states });
  await page.evaluate(d => window.vtDashboard.update(d), doc1);

  for (const s of doc1.slabs) {
    const shown = await gridLetters(page, 0, s.name);
    check(shown && shown.length === s.total, `${s.name}: ${s.total} cells (got ${shown?.length})`);
    check(shown === truthLetters(s), `${s.name}: every cell shows its slot's state`);
  }
  check((await flashes(page, 'handles')).every(f => !f), 'first document: no cell flashes');

  // Change 25 handle slots and the tcp bitmap: exactly those cells flash.
  const chars = [...states], changed = new Set();
  while (changed.size < 25) {
    const i = Math.floor(rnd() * chars.length);
    if (i === 8) continue;
    chars[i] = chars[i] === 'A' ? 'F' : 'A';
    changed.add(i);
  }
  states = chars.join('');
  const tcp2 = bitmapOf(576, 0.3, rng(99));
  const doc2 = makeDoc(2, { states, tcp: tcp2 });
  // Paused from here: each check sees the page at an exact instant of its
  // clock after doc2 (0, 100, 450, 750 ms), however busy the machine is.
  await page.clock.pauseAt(await page.evaluate(() => Date.now()) + 1000);
  await page.evaluate(d => window.vtDashboard.update(d), doc2);
  const fl = await flashes(page, 'handles');
  check(fl.every((f, i) => f === changed.has(i)), `handles: exactly the ${changed.size} changed cells flash`);
  check(await gridLetters(page, 0, 'handles') === truthLetters(doc2.slabs[0]), 'handles: cells follow the new states');
  const tcpPrev = truthLetters(doc1.slabs[1]), tcpNow = truthLetters(doc2.slabs[1]);
  const tfl = await flashes(page, 'tcp_buffers');
  check(tfl.every((f, i) => f === (tcpPrev[i] !== tcpNow[i])), 'tcp_buffers: exactly the flipped bits flash');
  // A slot changing again while it flashes flashes anew (the class alternates).
  const again = [...changed][0];
  const before = await page.evaluate(i => document.querySelector('.pool-canvas[data-slab="handles"] .cells').children[i].className, again);
  const chars3 = [...states];
  chars3[again] = chars3[again] === 'A' ? 'I' : 'A';
  await page.clock.runFor(100);
  await page.evaluate(d => window.vtDashboard.update(d), makeDoc(3, { states: chars3.join(''), tcp: tcp2 }));
  const after = await page.evaluate(i => document.querySelector('.pool-canvas[data-slab="handles"] .cells').children[i].className, again);
  check(/\bfa\b/.test(before) !== /\bfa\b/.test(after) && /\bf[ab]\b/.test(after), `re-changed slot restarts its flash (${before} -> ${after})`);
  await page.clock.runFor(350);
  check((await flashes(page, 'handles')).every((f, i) => !f || i === again), 'flashes end after 300 ms');
  await page.clock.runFor(300);
  check((await flashes(page, 'handles')).every(f => !f), 'the re-changed slot stops flashing too');
  await page.clock.resume();
  states = chars3.join('');

  // Owner bars, breakdown, header.
  const owners = await page.$$eval('.pool-panel[data-slab="handles"] .owner-row', rows => rows.map(r => r.title));
  check(owners[0] === ':8080 ████████████████ 32 (68%)' && owners.length === 3, `owner bars (${owners.join(' | ')})`);
  check(await page.$eval('#t-pid', e => e.textContent) === '4242', 'header shows the pid');
  check(await page.$eval('#t-uptime', e => e.textContent) === '3m 05s', 'header shows the uptime');
  check(await page.$eval('#tr-rate', e => e.textContent) === '10,000', 'events/s from tracer.events deltas');

  // Tooltip: slot 8 is in the leak list with owner and age.
  const cell8 = page.locator('.pool-canvas[data-slab="handles"] .cells > .c').nth(8);
  await cell8.hover();
  const tip = await page.$eval('#tip', t => (t.hidden ? '' : t.textContent));
  check(tip.includes('handles slot 8') && tip.includes('owner :8080') && tip.includes('3m 05s'), `tooltip of a long-lived slot (${JSON.stringify(tip)})`);
  // Another connection slot: owner from the per-slot owners, age as seen.
  const conn = [...states].findIndex((c, i) => i > 8 && 'AICN'.includes(c));
  await page.locator('.pool-canvas[data-slab="handles"] .cells > .c').nth(conn).hover();
  const tipc = await page.$eval('#tip', t => t.textContent);
  const owner = [':8080', ':9090', ':3000'][conn % 3];
  const label = { A: 'Active', I: 'Idle', C: 'Closing', N: 'Connecting' }[states[conn]];
  check(tipc.startsWith(`handles slot ${conn}: ${label}\n`) && tipc.includes(`owner ${owner}`) && tipc.includes('seen by this page'),
    `tooltip of slot ${conn} (${JSON.stringify(tipc)})`);
  await page.mouse.move(0, 0);

  // Capacity warnings: 70 % warning, 90 % critical; an overflow, a counted
  // past event, a warning.
  const level = () => page.$eval('.pool-panel[data-slab="tcp_buffers"]', p => [p.className.match(/level-\w+/)[0],
    p.querySelector('.pool-badge').textContent, p.querySelector('.overflow').textContent]);
  const full = frac => {
    const used = Math.round(576 * frac), bytes = new Uint8Array(72);
    for (let i = 0; i < used; i++) bytes[i >> 3] |= 1 << (i & 7);
    return { bitmap: Array.from(bytes, x => x.toString(16).padStart(2, '0')).join(''), used };
  };
  for (const [frac, want] of [[0.5, 'level-ok'], [0.75, 'level-warning'], [0.95, 'level-critical']]) {
    await page.evaluate(d => window.vtDashboard.update(d), makeDoc(4, { states, tcp: full(frac) }));
    const [lv, badge] = await level();
    check(lv === want, `tcp_buffers at ${frac * 100}%: ${lv} (${badge})`);
  }
  await page.evaluate(d => window.vtDashboard.update(d), makeDoc(5, { states, tcp: full(0.1), overflow: 3 }));
  const [lv, badge, ovf] = await level();
  check(lv === 'level-warning' && badge === 'OVERFLOWED' && ovf === '⚠ 3 acquires refused: slab full',
    `overflow>0 at 10 % is a warning (${lv}, ${badge}, ${ovf})`);
  await sleep(150);   // the border's 100 ms transition
  const borders = await page.$eval('.pool-panel[data-slab="tcp_buffers"]', p => getComputedStyle(p).borderColor);
  check(borders === 'rgb(210, 153, 34)', `overflowed panel border is the warning colour (${borders})`);
  await page.evaluate(d => window.vtDashboard.update(d), makeDoc(5, { states, tcp: full(0.95), overflow: 1 }));
  const [lv2, badge2, ovf2] = await level();
  await sleep(150);
  const border2 = await page.$eval('.pool-panel[data-slab="tcp_buffers"]', p => getComputedStyle(p).borderColor);
  check(lv2 === 'level-critical' && badge2 === 'CRITICAL 95%' && ovf2 === '⚠ 1 acquire refused: slab full' && border2 === 'rgb(248, 81, 73)',
    `95 % full and overflowed is critical, red (${lv2}, ${badge2}, ${ovf2}, ${border2})`);

  // Arena gauges: green/yellow/red by fill, overflow highlighted.
  const gauges = await page.$$eval('#arenas .arena-gauge', gs => gs.map(g => [g.querySelector('.arena-name').textContent,
    g.querySelector('.arena-bar').className, g.querySelector('.arena-overflow')?.textContent ?? '', getComputedStyle(g).borderColor]));
  const clear = 'rgba(0, 0, 0, 0)';
  check(JSON.stringify(gauges) === JSON.stringify([['scratch', 'arena-bar ok', '', clear],
    ['stream_arena/3', 'arena-bar warning', '', clear],
    ['stream_arena/7', 'arena-bar critical', '⚠ 2 allocations spilled to the GC heap (8.0KB)', 'rgb(248, 81, 73)'],
    ['stream_arena/9', 'arena-bar ok', '⚠ 1 allocation spilled to the GC heap (746.0KB)', 'rgb(158, 106, 3)']]),
  `arena gauges: red only when nearly full, a spill is a warning ${JSON.stringify(gauges)}`);
  check((await page.$$('.leaks tbody tr')).length === 2, 'long-lived list has both entries');

  // Sparklines span the panel from the first document.
  const spark = await page.$$eval('.pool-panel .spark polyline', ps => ps.map(p => p.getAttribute('points').split(' ')));
  check(spark.length === 5 && spark.every(pts => pts[0].startsWith('0.0,') && pts[pts.length - 1].startsWith('300.0,')),
    `every sparkline runs edge to edge (${spark.map(p => `${p[0]}…${p[p.length - 1]}`).join(' ')})`);

  // A long binary path is cut in the middle: its file name stays.
  const longBin = '/srv/deploy/releases/2026-12-01T17-30-00Z/opt/valk/lib/x86_64-linux-gnu/libvalkyria.so';
  const docBin = makeDoc(9, { states });
  docBin.target.binary = longBin;
  await page.evaluate(d => window.vtDashboard.update(d), docBin);
  const [binText, binTitle] = await page.$eval('#t-binary', e => [e.textContent, e.title]);
  check(binText.includes('…') && binText.endsWith('/libvalkyria.so') && binText.startsWith('/srv/') && binTitle === longBin,
    `binary path elided in the middle (${binText})`);

  // Screenshots of the normal view.
  const dir = shotsDir();
  await page.screenshot({ path: path.join(dir, 'synthetic-1280.png'), fullPage: true });

  // Responsive columns: 3, then 2 below 900 px, 1 below 600 px.
  // Slot grids: no orphan row where the slab's size has a divisor that fits.
  for (const [w, n] of [[1280, 3], [880, 2], [500, 1]]) {
    await page.setViewportSize({ width: w, height: 900 });
    await sleep(100);   // the grids refit on their ResizeObserver
    const cols = await page.$eval('.pool-columns', g => getComputedStyle(g).gridTemplateColumns.split(' ').length);
    check(cols === n, `${w} px wide: ${cols} columns`);
    const grids = await page.$$eval('.pool-canvas .cells', gs => gs.map(g => [g.parentNode.dataset.slab, g.children.length,
      getComputedStyle(g).gridTemplateColumns.split(' ').length, g.scrollWidth <= g.clientWidth]));
    const short = grids.filter(([, total, c]) => total % c !== 0 && total % c < c / 2);
    check(grids.length === 5 && !short.length && grids.every(g => g[3]),
      `${w} px: grids fit with full rows (${grids.map(([s, t, c]) => `${s} ${t}=${Math.floor(t / c)}x${c}+${t % c}`).join(', ')})`);
  }
  await page.screenshot({ path: path.join(dir, 'synthetic-500.png'), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });

  // Bad input: reported, nothing breaks, the next good document renders.
  await page.evaluate(() => window.vtDashboard.update(null));
  check(/not a JSON object/.test(await page.$eval('#error', e => e.textContent)), 'a non-object document is reported');
  const bad = makeDoc(6, { states });
  bad.slabs[1].bitmap = 'zz';
  await page.evaluate(d => window.vtDashboard.update(d), bad);
  const perr = await page.$eval('.pool-panel[data-slab="tcp_buffers"] .pool-error', e => e.textContent);
  check(/non-hex character/.test(perr), `a bad bitmap is reported in its panel (${perr})`);
  check(await gridLetters(page, 0, 'handles') === states, 'other slabs still render next to a bad one');
  await page.evaluate(d => window.vtDashboard.update(d), makeDoc(7, { states }));
  check(await page.$eval('.pool-panel[data-slab="tcp_buffers"] .pool-error', e => e.textContent) === '', 'the error clears with the next good document');

  // A large handle slab becomes a heat map that zooms on click.
  const big = statesOf(262144, rng(3));
  await page.evaluate(d => window.vtDashboard.update(d), makeDoc(8, { states: big }));
  const heat = page.locator('.pool-canvas[data-slab="handles"] canvas.heat');
  check(await heat.count() === 1 && await page.locator('.pool-canvas[data-slab="handles"] .cells').count() === 0, '262144 slots: canvas heat map instead of cells');
  const zoom0 = await page.$eval('.pool-canvas[data-slab="handles"] .zoom-bar span', e => e.textContent);
  await heat.click({ position: { x: 5, y: 5 } });
  const zoom1 = await page.$eval('.pool-canvas[data-slab="handles"] .zoom-bar span', e => e.textContent);
  check(zoom0.startsWith('262144 slots, 64 per cell') && zoom1 === 'slots 0–32767 of 262144, 8 per cell', `click zooms in (${zoom0} -> ${zoom1})`);
  await page.screenshot({ path: path.join(dir, 'synthetic-heatmap.png') });
  await heat.hover({ position: { x: 1, y: 1 } });
  const htip = await page.$eval('#tip', t => t.textContent);
  check(htip.startsWith('handles slots 0–7:'), `heat-map tooltip names its slot range (${JSON.stringify(htip)})`);
  // The canvas shows the data: the top-left cell's pixel is the free colour
  // exactly when its 8 slots are free.
  const px = await page.$eval('.pool-canvas[data-slab="handles"] canvas', c => Array.from(c.getContext('2d').getImageData(0, 0, 1, 1).data));
  const free8 = [...big.slice(0, 8)].every(c => c === 'F');
  check((px.join() === '13,17,23,255') === free8, `heat-map pixel matches its slots (${px}, ${big.slice(0, 8)})`);

  check(errors.length === 0, `no page errors${errors.length ? ': ' + errors.join('; ') : ''}`);
} finally {
  await browser.close();
  web.close();
}
done('browser_synthetic');
