// Unit tests of web/model.js (node --test tests/web/). Expected values are
// computed independently here (bit by bit, slot by slot) or written out.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as M from '../../web/model.js';

const letters = codes => Array.from(codes, c => M.STATES[c].letter).join('');

// Reference bitmap encoder: slot i is bit (i % 8) of byte i / 8.
function encodeBitmap(used, total) {
  const bytes = new Uint8Array((total + 7) >> 3);
  used.forEach(i => { bytes[i >> 3] |= 1 << (i & 7); });
  return Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('');
}

// Letters of a slab decoded from scratch (its codes kept in lastCodes).
let lastCodes;
function decode(slab) {
  const sc = new M.SlotCodes(slab.total);
  sc.apply(slab);
  lastCodes = sc.codes;
  return letters(sc.codes);
}
const bm = (hex, total) => decode({ total, bitmap: hex });
const st = (states, total) => decode({ total, states });

test('bitmap: least significant bit is the lowest slot', () => {
  assert.equal(bm('01', 8), '*FFFFFFF');
  assert.equal(bm('80', 8), 'FFFFFFF*');
  assert.equal(bm('a5', 8), '*F*FF*F*');   // 0xa5 = 1010 0101
  assert.equal(bm('ff00', 16), '********FFFFFFFF');
  assert.equal(bm('00ff', 16), 'FFFFFFFF********');
  assert.equal(bm('FF', 8), '********');   // upper case too
});

test('bitmap: total not a multiple of 8, short and long input', () => {
  assert.equal(bm('ff03', 10), '**********');
  assert.equal(bm('ffff', 10), '**********');  // bits past total ignored
  assert.equal(bm('ff', 10), '********FF');    // missing bytes: free
  assert.equal(bm('ffffff', 4), '****');
  assert.equal(bm('', 0), '');
});

test('bitmap: random slabs against the reference encoder', () => {
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  for (const total of [1, 7, 8, 9, 63, 576, 2056, 4097]) {
    const sc = new M.SlotCodes(total);
    for (let round = 0; round < 3; round++) {
      const used = [];
      for (let i = 0; i < total; i++) if (rnd() < 0.3) used.push(i);
      const before = Array.from(sc.codes), set = new Set(used);
      const changed = Array.from(sc.apply({ total, bitmap: encodeBitmap(used, total) }));
      const want = [];
      for (let i = 0; i < total; i++) {
        const code = set.has(i) ? M.USED : M.FREE;
        assert.equal(sc.codes[i], code, `slot ${i} of ${total}`);
        if (code !== before[i]) want.push(i);
      }
      assert.deepEqual(changed, want, `changed slots of ${total}, round ${round}`);
      assert.equal(sc.counts[M.USED], used.length);
      assert.equal(sc.counts[M.FREE], total - used.length);
    }
  }
});

test('bitmap: bad input is an error naming the problem, codes untouched', () => {
  const sc = new M.SlotCodes(16);
  sc.apply({ total: 16, bitmap: 'ff00' });
  assert.throws(() => sc.apply({ total: 16, bitmap: 'abc' }), /hex byte pairs.*3 digits/);
  assert.throws(() => sc.apply({ total: 16, bitmap: 'zz00' }), /non-hex character at offset 0/);
  assert.throws(() => sc.apply({ total: 16, bitmap: '000g' }), /non-hex character at offset 3/);
  assert.throws(() => sc.apply({ total: 16, bitmap: '0é' }), /non-hex character at offset 1/);
  assert.throws(() => sc.apply({ total: 16, bitmap: 42 }), /string of hex/);
  assert.equal(letters(sc.codes), '********FFFFFFFF');
});

test('states: every letter, unknown and non-ASCII letters, short and long strings', () => {
  assert.equal(st('FAICNTKMU', 9), 'FAICNTKMU');
  assert.equal(st('AxZ*', 4), 'AUUU');
  assert.equal(st('AéIC', 4), 'AUIC');
  assert.equal(st('AA', 5), 'AAFFF');
  assert.equal(st('AAAAé', 2), 'AA');
  assert.equal(st('AAAA', 2), 'AA');
});

test('slab decoding checks total and kind', () => {
  assert.throws(() => new M.SlotCodes(3).apply({ total: 3 }), /neither "states" nor "bitmap"/);
  assert.throws(() => new M.SlotCodes(3).apply({ total: -1, bitmap: '' }), /"total" must be an integer/);
  assert.throws(() => new M.SlotCodes(3).apply({ total: 'x', bitmap: '' }), /"total" must be an integer/);
  assert.throws(() => new M.SlotCodes(3).apply({ total: 4, bitmap: '' }), /total changed from 3 to 4/);
  assert.equal(M.slabTotal({ total: 2056 }), 2056);
});

test('states: changed slots and counts follow each document', () => {
  const sc = new M.SlotCodes(8);
  assert.deepEqual(Array.from(sc.apply({ total: 8, states: 'FFAAIICC' })), [2, 3, 4, 5, 6, 7]);
  assert.deepEqual(Array.from(sc.apply({ total: 8, states: 'FAAFICCC' })), [1, 3, 5]);
  assert.deepEqual(Array.from(sc.apply({ total: 8, states: 'FAAFICCC' })), []);
  assert.deepEqual(Array.from(sc.apply({ total: 8, states: 'FAA' })), [4, 5, 6, 7]);
  assert.equal(letters(sc.codes), 'FAAFFFFF');
  const c = sc.counts;
  assert.equal(c[M.stateOfLetter('A')], 2);
  assert.equal(c[M.FREE], 6);
  assert.equal(c.reduce((a, b) => a + b, 0), 8);
  // a long random walk: counts always equal a recount
  const big = new M.SlotCodes(1000), L = 'FAICNTKMU';
  let seed = 9;
  for (let r = 0; r < 20; r++) {
    let s = '';
    for (let i = 0; i < 1000; i++) s += L[(seed = (seed * 69069 + 1) >>> 0) % L.length];
    big.apply({ total: 1000, states: s });
    assert.equal(letters(big.codes), s);
    const recount = new Uint32Array(M.STATES.length);
    for (const ch of s) recount[M.stateOfLetter(ch)]++;
    assert.deepEqual(Array.from(big.counts), Array.from(recount));
  }
});

test('aggregate: used fraction and dominant state per cell', () => {
  st('AAIF' + 'FFFF' + 'IICA' + 'TTTT', 16);
  const codes = lastCodes;
  const frac = new Float32Array(4), dom = new Uint8Array(4);
  M.aggregate(codes, 0, 16, 4, frac, dom);
  assert.deepEqual(Array.from(frac), [0.75, 0, 1, 1]);
  assert.equal(letters(dom), 'AFIT');
  // a zoomed range of the same slab, one slot per cell
  const f2 = new Float32Array(4), d2 = new Uint8Array(4);
  M.aggregate(codes, 8, 12, 4, f2, d2);
  assert.equal(letters(d2), 'IICA');
  assert.deepEqual(Array.from(f2), [1, 1, 1, 1]);
});

test('aggregate covers every slot once for uneven splits', () => {
  for (const [len, cells] of [[10, 3], [262144, 4096], [5000, 4096], [4097, 4096]]) {
    let covered = 0, prevEnd = 0;
    for (let c = 0; c < cells; c++) {
      const [a, b] = M.cellRange(0, len, cells, c);
      assert.equal(a, prevEnd);
      covered += b - a; prevEnd = b;
    }
    assert.equal(covered, len);
  }
});

test('cellOf inverts cellRange', () => {
  for (const [start, end, cells] of [[0, 10, 3], [0, 10, 10], [100, 1000, 7], [0, 262144, 4096], [5, 4102, 4096]]) {
    for (let c = 0; c < cells; c++) {
      const [a, b] = M.cellRange(start, end, cells, c);
      for (let s = a; s < b; s++) assert.equal(M.cellOf(start, end, cells, s), c, `slot ${s} in [${start},${end}) / ${cells}`);
    }
  }
});

test('heatLayout and zoomRange', () => {
  assert.deepEqual(M.heatLayout(262144), { cells: 4096, cols: 64, rows: 64 });
  assert.deepEqual(M.heatLayout(10), { cells: 10, cols: 10, rows: 1 });
  assert.deepEqual(M.heatLayout(4100), { cells: 4096, cols: 64, rows: 64 });
  assert.deepEqual(M.heatLayout(262144, 128), { cells: 4096, cols: 128, rows: 32 });
  // zoom in 8x around a cell, clamped to the slab
  assert.deepEqual(M.zoomRange(0, 262144, 0, 4096, 262144), [0, 32768]);
  assert.deepEqual(M.zoomRange(0, 262144, 4095, 4096, 262144), [262144 - 32768, 262144]);
  const [a, b] = M.zoomRange(0, 262144, 2048, 4096, 262144);
  assert.equal(b - a, 32768);
  assert.ok(a <= 131072 && 131072 < b);
  // never narrower than one slot per cell; at that width it stops
  assert.deepEqual(M.zoomRange(0, 32768, 100, 4096, 262144), [0, 4096]);
  assert.deepEqual(M.zoomRange(1000, 5096, 5, 4096, 262144), [1000, 5096]);
});

test('heatPixels: free, dominant colour by fill, flash', () => {
  const palette = M.STATES.map((_, i) => [i * 10, 100, 200]);
  const free = [0, 0, 0], flash = [255, 128, 0];
  const frac = new Float32Array([0, 1, 0.5]), dom = new Uint8Array([0, 1, 9]);
  const px = new Uint32Array(4);
  M.heatPixels(frac, dom, 3, palette, free, flash, null, px);
  assert.equal(px[0], M.packPixel(0, 0, 0));
  assert.equal(px[1], M.packPixel(10, 100, 200));
  const k = 0.35 + 0.65 * 0.5;
  assert.equal(px[2], M.packPixel(Math.round(90 * k), Math.round(100 * k), Math.round(200 * k)));
  assert.equal(px[3], M.packPixel(0, 0, 0));
  M.heatPixels(frac, dom, 3, palette, free, flash, new Uint8Array([0, 0, 1]), px);
  assert.equal(px[2], M.packPixel(255, 128, 0));
  // byte order as ImageData expects: r, g, b, a
  assert.deepEqual(Array.from(new Uint8Array(new Uint32Array([M.packPixel(1, 2, 3)]).buffer)), [1, 2, 3, 255]);
});

test('parseColor', () => {
  assert.deepEqual(M.parseColor(' #3fb950'), [0x3f, 0xb9, 0x50]);
  assert.throws(() => M.parseColor('green'), /#rrggbb/);
});

test('capacityLevel: 70 % warning, 90 % critical, overflow a warning', () => {
  assert.equal(M.capacityLevel(0, 0), 'ok');
  assert.equal(M.capacityLevel(69, 100), 'ok');
  assert.equal(M.capacityLevel(70, 100), 'warning');
  assert.equal(M.capacityLevel(89, 100), 'warning');
  assert.equal(M.capacityLevel(90, 100), 'critical');
  assert.equal(M.capacityLevel(100, 100), 'critical');
  assert.equal(M.capacityLevel(1, 100, 1), 'warning');
  assert.equal(M.capacityLevel(403, 576), 'ok');       // 69.97 %
  assert.equal(M.capacityLevel(404, 576), 'warning');  // 70.1 %
});

test('ownerBars: sorted, shares of owned connections, text bars', () => {
  const rows = M.ownerBars({ 0: { A: 30, I: 2 }, 1: { A: 10, C: 2 }, 2: { N: 3 }, 3: { A: 0 }, '?': { I: 0 } },
    [':8080', ':9090', ':3000']);
  assert.deepEqual(rows.map(r => [r.name, r.count, r.pct]), [[':8080', 32, 68], [':9090', 12, 26], [':3000', 3, 6]]);
  assert.equal(rows[0].text, ':8080 ████████████████ 32 (68%)');
  assert.equal(rows[1].bar.length, 6);
  assert.equal(rows[2].bar.length, 2);
  const unknown = M.ownerBars({ 7: { A: 1 }, '?': { A: 1 } }, [':8080']);
  assert.deepEqual(unknown.map(r => r.name), ['?', 'owner 7']);
  assert.deepEqual(M.ownerBars(undefined), []);
});

test('ownerNamesFor: owner_maps by system, else owner_map', () => {
  assert.deepEqual(M.ownerNamesFor({ owner_maps: [[':1'], [':2']] }, 1), [':2']);
  assert.deepEqual(M.ownerNamesFor({ owner_maps: { 1: [':2'] } }, 1), [':2']);
  assert.deepEqual(M.ownerNamesFor({ owner_maps: [[':1']], owner_map: [':0'] }, 3), [':0']);
  assert.deepEqual(M.ownerNamesFor({}, 0), []);
});

test('formatBytes', () => {
  assert.equal(M.formatBytes(0), '0B');
  assert.equal(M.formatBytes(512), '512B');
  assert.equal(M.formatBytes(1024), '1.0KB');
  assert.equal(M.formatBytes(1536), '1.5KB');
  assert.equal(M.formatBytes(1048576), '1.0MB');
  assert.equal(M.formatBytes(67108864), '64.0MB');
  assert.equal(M.formatBytes(4 * 1024 * 1024 - 104), '4.0MB');
  assert.equal(M.formatBytes(3 * 2 ** 40), '3.0TB');
  assert.equal(M.formatBytes(undefined), '0B');
});

test('formatAge', () => {
  assert.equal(M.formatAge(0), '0ms');
  assert.equal(M.formatAge(999), '999ms');
  assert.equal(M.formatAge(1000), '1s');
  assert.equal(M.formatAge(59999), '59s');
  assert.equal(M.formatAge(185000), '3m 05s');
  assert.equal(M.formatAge(2 * 3600e3 + 3 * 60e3), '2h 03m');
  assert.equal(M.formatAge(26 * 3600e3), '1d 02h');
  assert.equal(M.formatAge(-5), '0ms');
});

test('RateMeter: events per second over the window, restarts on a new tracer', () => {
  const r = new M.RateMeter(2000);
  assert.equal(r.add(0, 100), null);
  assert.equal(r.add(500, 600), 1000);
  assert.equal(r.add(1000, 1100), 1000);
  assert.equal(r.add(3000, 1100 + 4000), 2000);  // window slid: (5100-1100)/2s
  assert.equal(r.add(3100, 50), null);           // counter went back: restart
  assert.equal(r.add(4100, 550), 500);
});

test('Series keeps the per-second peak over the span', () => {
  const s = new M.Series(10000, 1000);
  s.add(100, 3); s.add(900, 7); s.add(1500, 2);
  assert.deepEqual(s.points, [[0, 7], [1000, 2]]);
  s.add(12500, 1);
  assert.deepEqual(s.points, [[12000, 1]]);
  assert.equal(M.sparkPoints([[0, 0], [5000, 50], [10000, 100]], 10000, 10000, 100, 100, 10),
    '0.0,10.0 50.0,5.0 100.0,0.0');
  // older points scroll off the left; a short history fills the width
  assert.equal(M.sparkPoints([[0, 0], [15000, 50], [20000, 100]], 20000, 10000, 100, 100, 10),
    '-100.0,10.0 50.0,5.0 100.0,0.0');
  // the last value is held to now: the line reaches the right edge
  assert.equal(M.sparkPoints([[4000, 20], [5000, 40]], 6000, 10000, 100, 100, 10),
    '0.0,8.0 50.0,6.0 100.0,6.0');
  // one sample: a flat line across the whole width from the first second
  assert.equal(M.sparkPoints([[5000, 40]], 5300, 10000, 100, 100, 10), '0.0,6.0 100.0,6.0');
  assert.equal(M.sparkPoints([[5000, 40]], 5000, 10000, 100, 100, 10), '0.0,6.0 100.0,6.0');
  assert.equal(M.sparkPoints([], 6000, 10000, 100, 100, 10), '');
});

test('gridColumns: no orphan rows where a divisor fits', () => {
  assert.equal(M.gridColumns(64, 31), 16);     // not 31+31+2
  assert.equal(M.gridColumns(256, 31), 16);
  assert.equal(M.gridColumns(576, 44), 36);
  assert.equal(M.gridColumns(8, 31), 8);       // one row
  assert.equal(M.gridColumns(64, 64), 64);
  assert.equal(M.gridColumns(1, 10), 1);
  assert.equal(M.gridColumns(5, 1), 1);
  // a prime: the fullest last row in [fit/2, fit]
  const c = M.gridColumns(257, 31);
  assert.ok(c >= 16 && c <= 31 && 257 % c >= c / 2, `257 in ${c} columns`);
  for (let total = 2; total < 600; total++)
    for (const fit of [7, 16, 31, 44]) {
      const k = M.gridColumns(total, fit), rest = total % k;
      assert.ok(k <= fit && (total <= fit || k >= fit / 2), `${total}/${fit}: ${k}`);
      assert.ok(total <= fit || rest === 0 || rest >= k / 2 ||
        ![...Array(fit + 1).keys()].some(d => d >= fit / 2 && total % d === 0), `${total}/${fit}: ${k} leaves ${rest}`);
    }
});

test('elideMiddle keeps the file name', () => {
  const p = '/opt/some/very/long/checkout/build/fixture/libvalkyria.so';
  const e = M.elideMiddle(p, 40);
  assert.equal(e.length, 40);
  assert.ok(e.endsWith('/fixture/libvalkyria.so') && e.startsWith('/opt/') && e.includes('…'), e);
  assert.equal(M.elideMiddle('/opt/valk/libvalkyria.so', 40), '/opt/valk/libvalkyria.so');
  const long = '/x/' + 'n'.repeat(60);   // a file name longer than the budget: its end stays
  assert.equal(M.elideMiddle(long, 20).length, 20);
  assert.ok(M.elideMiddle(long, 20).endsWith('nnnn'));
});

test('overflow wording: counted, singular and plural, a warning', () => {
  assert.equal(M.slabOverflowText(1), '⚠ 1 acquire refused: slab full');
  assert.equal(M.slabOverflowText(3), '⚠ 3 acquires refused: slab full');
  assert.equal(M.arenaOverflowText(1, 763901), '⚠ 1 allocation spilled to the GC heap (746.0KB)');
  assert.equal(M.arenaOverflowText(2, 8192), '⚠ 2 allocations spilled to the GC heap (8.0KB)');
  assert.equal(M.capacityLevel(1, 100, 1), 'warning');
  assert.equal(M.capacityLevel(95, 100, 1), 'critical');
});

test('slot tooltips: owner, age from leaks or as seen by the page', () => {
  const active = M.stateOfLetter('A');
  assert.equal(M.slotTooltip({ slab: 'handles', slot: 17, code: active, owner: ':8080', seenMs: 12000 }),
    'handles slot 17: Active\nowner :8080\nin this state for ≥ 12s (seen by this page)');
  assert.equal(M.slotTooltip({ slab: 'handles', slot: 3, code: active,
    leak: { owner: ':9090', age_ms: 185000 }, seenMs: 10 }),
  'handles slot 3: Active\nowner :9090\nin use for 3m 05s');
  assert.equal(M.slotTooltip({ slab: 'tcp_buffers', slot: 0, code: M.USED,
    leak: { age_ms: 61000, since: 'attach' } }),
  'tcp_buffers slot 0: Used\nin use ≥ 1m 01s (since before attach)');
  assert.equal(M.slotTooltip({ slab: 'handles', slot: 9, code: M.FREE, owner: ':8080', seenMs: 2500 }),
    'handles slot 9: Free\nfree for ≥ 2s (seen by this page)');
  st('AAIF', 4);
  assert.equal(M.rangeTooltip('handles', 0, 4, lastCodes),
    'handles slots 0–3: 3/4 used\nActive 2, Idle 1');
});

test('indexLeaks and systemsOf', () => {
  const leaks = M.indexLeaks([{ slab: 'handles', slot: 4, age_ms: 1 }, { system: 1, slab: 'handles', slot: 4, age_ms: 2 }]);
  assert.equal(leaks.get(M.leakKey(0, 'handles', 4)).age_ms, 1);
  assert.equal(leaks.get(M.leakKey(1, 'handles', 4)).age_ms, 2);
  assert.equal(M.indexLeaks(null).size, 0);
  const groups = M.systemsOf({ slabs: [
    { name: 'tcp_buffers', system: 1 }, { name: 'tcp_buffers', system: 0 }, { name: 'handles', system: 0 },
  ] });
  assert.deepEqual(groups.map(([s, l]) => [s, l.map(x => x.name)]),
    [[0, ['handles', 'tcp_buffers']], [1, ['tcp_buffers']]]);
  assert.deepEqual(M.systemsOf({}), []);
});

test('formatCount', () => {
  assert.equal(M.formatCount(0), '0');
  assert.equal(M.formatCount(999), '999');
  assert.equal(M.formatCount(1000), '1,000');
  assert.equal(M.formatCount(262144), '262,144');
  assert.equal(M.formatCount(1234567), '1,234,567');
  assert.equal(M.formatCount(-4500), '-4,500');
  assert.equal(M.formatCount(undefined), '0');
});

test('slotOwner reads the per-slot owners string', () => {
  const names = [':8080', ':9090'];
  assert.equal(M.slotOwner('01-7', 0, names), ':8080');
  assert.equal(M.slotOwner('01-7', 1, names), ':9090');
  assert.equal(M.slotOwner('01-7', 2, names), undefined);
  assert.equal(M.slotOwner('01-7', 3, names), '?');       // index past the registry
  assert.equal(M.slotOwner('01-7', 4, names), undefined);  // past the string
  assert.equal(M.slotOwner(undefined, 0, names), undefined);
  assert.equal(M.slotOwner('é', 0, names), undefined);
});

test('applyMemoryDelta: runs, counters, sections and ageing leaks', () => {
  const doc = {
    seq: 7, ts_ms: 1000, owner_map: [':1'], owner_maps: [[':1']],
    slabs: [
      { name: 'handles', system: 0, total: 8, used: 2, hwm: 3, states: 'AIFFFFFF', owners: '00------' },
      { name: 'tcp_buffers', system: 0, total: 16, used: 1, hwm: 1, bitmap: '0100' },
    ],
    leaks: [{ slab: 'handles', system: 0, slot: 0, age_ms: 500 }],
    arenas: [{ name: 'scratch', used: 1 }],
  };
  const next = M.applyMemoryDelta(doc, {
    seq: 8, base: 7, ts_ms: 1100,
    slabs: [
      { name: 'handles', system: 0, used: 3, hwm: 3, states: '1:C,5:KK', owners: '1:1' },
      { name: 'tcp_buffers', system: 0, used: 9, hwm: 9, bitmap: '1:ff' },
    ],
    owner_maps: [[':1', ':2']],
  });
  assert.equal(next.seq, 8);
  assert.equal(next.slabs[0].states, 'ACFFFKKF');
  assert.equal(next.slabs[0].owners, '01------');
  assert.equal(next.slabs[0].used, 3);
  assert.equal(next.slabs[1].bitmap, '01ff');
  assert.deepEqual(next.owner_map, [':1', ':2']);
  assert.equal(next.leaks[0].age_ms, 600);        // not resent: older by 100 ms
  assert.deepEqual(next.arenas, doc.arenas);       // not resent: kept
  assert.equal(doc.slabs[0].states, 'AIFFFFFF');   // the old document is untouched
});

test('applyMemoryDelta: a delta that does not follow, or lies outside its slab, throws', () => {
  const doc = { seq: 3, ts_ms: 0, slabs: [{ name: 'handles', system: 0, total: 4, states: 'FFFF' }] };
  assert.throws(() => M.applyMemoryDelta(doc, { seq: 5, base: 4, slabs: [] }), /follows event 4, not 3/);
  assert.throws(() => M.applyMemoryDelta(null, { seq: 1, base: 0, slabs: [] }));
  assert.throws(() => M.applyMemoryDelta(doc, { seq: 4, base: 3, slabs: [{ name: 'handles', system: 0, states: '3:AA' }] }), /outside/);
  assert.throws(() => M.applyMemoryDelta(doc, { seq: 4, base: 3, slabs: [{ name: 'nope', system: 0 }] }), /not in the document/);
});

test('applyMemoryDelta: leaks by entry, in the tracer\'s order', () => {
  const doc = {
    seq: 1, ts_ms: 1000,
    slabs: [{ name: 'handles', system: 0, total: 8 }, { name: 'tcp_buffers', system: 0, total: 8 }, { name: 'handles', system: 1, total: 8 }],
    leaks: [
      { slab: 'handles', system: 0, slot: 3, age_ms: 900, state: 'I' },
      { slab: 'tcp_buffers', system: 0, slot: 1, age_ms: 800, state: 'U' },
      { slab: 'handles', system: 1, slot: 2, age_ms: 800, state: 'A' },
    ],
  };
  const next = M.applyMemoryDelta(doc, {
    seq: 2, base: 1, ts_ms: 1100, slabs: [],
    // slot 3 changed state (resent), tcp slot 1 gone, two new
    leaks_add: [{ slab: 'handles', system: 0, slot: 3, age_ms: 1000, state: 'A' },
      { slab: 'handles', system: 1, slot: 0, age_ms: 900, state: 'I' },
      { slab: 'handles', system: 0, slot: 6, age_ms: 900, state: 'I' }],
    leaks_gone: [{ slab: 'tcp_buffers', system: 0, slot: 1 }],
  });
  assert.deepEqual(next.leaks.map(l => `${l.system}/${l.slab}/${l.slot}:${l.age_ms}${l.state}`),
    ['0/handles/3:1000A', '0/handles/6:900I', '1/handles/0:900I', '1/handles/2:900A']);
  assert.equal(doc.leaks.length, 3);   // the old document is untouched
});

test('applyMemoryDelta: arenas by entry, probe hits by position', () => {
  const doc = {
    seq: 1, ts_ms: 0, slabs: [],
    arenas: [{ name: 'scratch', system: 0, used: 1, capacity: 64, hwm: 2 }, { name: 'stream_arena/2', system: 0, used: 5 }],
    tracer: { events: 1, probes: [{ name: 'a', hits: 1 }, { name: 'b', hits: 2 }] },
  };
  const next = M.applyMemoryDelta(doc, {
    seq: 2, base: 1, ts_ms: 100, slabs: [],
    // a changed entry: its key and what changed; a new one whole
    arenas: [{ name: 'scratch', system: 0, used: 9, hwm: 9 }, { name: 'stream_arena/7', system: 0, used: 3, capacity: 32 }],
    arenas_gone: [{ name: 'stream_arena/2', system: 0 }],
    tracer: { events: 5, probe_hits: [1, 4] },
  });
  assert.deepEqual(next.arenas.map(a => `${a.name}:${a.used}`), ['scratch:9', 'stream_arena/7:3']);
  assert.deepEqual(next.arenas[0], { name: 'scratch', system: 0, used: 9, capacity: 64, hwm: 9 });
  assert.equal(doc.arenas[0].used, 1);   // the old document is untouched
  assert.equal(next.tracer.events, 5);
  assert.deepEqual(next.tracer.probes, [{ name: 'a', hits: 1 }, { name: 'b', hits: 4 }]);
  const same = M.applyMemoryDelta(next, { seq: 3, base: 2, ts_ms: 200, slabs: [], tracer: { events: 6 } });
  assert.deepEqual(same.tracer.probes, next.tracer.probes);   // probes not resent: kept
  const moved = M.applyMemoryDelta({ ...doc, tracer: { mode: 'hybrid', events: 1, lost: 0, probes: [] } },
    { seq: 2, base: 1, ts_ms: 100, slabs: [], tracer: { events: 9 } });
  assert.deepEqual(moved.tracer, { mode: 'hybrid', events: 9, lost: 0, probes: [] });   // the members not resent: kept
});

test('applyMemoryDelta: a slab turns invalid with its reason, and valid again', () => {
  const doc = { seq: 1, ts_ms: 0, slabs: [{ name: 'tcp_buffers', system: 0, total: 8, used: 1, bitmap: '01' }] };
  const bad = M.applyMemoryDelta(doc, { seq: 2, base: 1, ts_ms: 100,
    slabs: [{ name: 'tcp_buffers', system: 0, used: 1, invalid: true, problem: 'numItems 0' }] });
  assert.equal(bad.slabs[0].invalid, true);
  assert.equal(bad.slabs[0].problem, 'numItems 0');
  const still = M.applyMemoryDelta(bad, { seq: 3, base: 2, ts_ms: 200, slabs: [{ name: 'tcp_buffers', system: 0, used: 1 }] });
  assert.equal(still.slabs[0].invalid, true);    // said once, kept until said otherwise
  assert.equal(still.slabs[0].problem, 'numItems 0');
  const good = M.applyMemoryDelta(still, { seq: 4, base: 3, ts_ms: 300,
    slabs: [{ name: 'tcp_buffers', system: 0, used: 2, invalid: false }] });
  assert.equal('invalid' in good.slabs[0], false);
  assert.equal('problem' in good.slabs[0], false);
  assert.equal(doc.slabs[0].invalid, undefined);   // the old documents are untouched
  assert.equal(bad.slabs[0].invalid, true);
});

test('slabSource: invalid first, then read (sample, or slab probes off), else event-traced', () => {
  const probed = { mode: 'hybrid', overhead: { slab_probes: 'attached' } };
  const off = { mode: 'hybrid', overhead: { slab_probes: 'detached' } };
  assert.equal(M.slabSource(probed, { name: 'handles' }), 'events');
  assert.equal(M.slabSource({ mode: 'events' }, {}), 'events');
  assert.equal(M.slabSource({ mode: 'hybrid' }, {}), 'events');   // --max-overhead 0
  assert.equal(M.slabSource(off, {}), 'read');
  assert.equal(M.slabSource({ mode: 'sample' }, {}), 'read');
  assert.equal(M.slabSource(probed, { invalid: true }), 'invalid');
  assert.equal(M.slabSource(off, { invalid: true }), 'invalid');
  assert.equal(M.slabSource(undefined, {}), 'events');
  assert.equal(M.sourceText('read')[0], 'read from memory');
  assert.equal(M.sourceText('invalid')[0], 'INVALID');
  assert.equal(M.sourceText('events')[0], 'event-traced');
});

test('overheadView: estimate against the budget, levels, slab probes off', () => {
  assert.equal(M.overheadView(undefined), null);
  assert.equal(M.overheadView(null), null);
  const base = { estimate_pct: 1.234, projected_pct: 1.234, max_pct: 5, slab_probes: 'attached' };
  let v = M.overheadView(base);
  assert.equal(v.text, '1.2% / 5.0%');
  assert.equal(v.note, 'slabs event-traced');
  assert.equal(v.level, 'ok');
  assert.equal(M.overheadView({ ...base, estimate_pct: 3 }).level, 'warning');
  assert.equal(M.overheadView({ ...base, estimate_pct: 7.5 }).level, 'critical');
  v = M.overheadView({ estimate_pct: 0.05, projected_pct: 88.46, max_pct: 5, slab_probes: 'detached' });
  assert.equal(v.text, '0.1% / 5.0%');
  assert.equal(v.level, 'read');
  assert.equal(v.note, 'slabs read: 88.5% if probed');
  assert.match(v.title, /over the 5\.0% budget/);
  assert.match(v.title, /below 2\.5%/);
  assert.equal(M.formatPct('x'), '--');
});
