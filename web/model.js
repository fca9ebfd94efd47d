// model.js — the dashboard's pure logic: decoding the memory stream into
// per-slot states and their changes, heat-map aggregation, levels, owner
// bars and formatting. No DOM here, so node's test runner exercises exactly
// the code the page runs.

// Slot states, indexed by code. Handle slabs carry one letter per slot;
// the other slabs carry a bitmap, whose used slots get the code USED.
export const STATES = [
  { letter: 'F', name: 'free', label: 'Free' },
  { letter: 'A', name: 'active', label: 'Active' },
  { letter: 'I', name: 'idle', label: 'Idle' },
  { letter: 'C', name: 'closing', label: 'Closing' },
  { letter: 'N', name: 'connecting', label: 'Connecting' },
  { letter: 'T', name: 'listener', label: 'TCP listener' },
  { letter: 'K', name: 'task', label: 'Task' },
  { letter: 'M', name: 'timer', label: 'Timer' },
  { letter: 'U', name: 'unknown', label: 'Unknown kind' },
  { letter: '*', name: 'used', label: 'Used' },
];
export const FREE = 0;
export const UNKNOWN = 8;
export const USED = 9;
export const CONN_LETTERS = ['A', 'I', 'C', 'N'];

export const DIRECT_MAX = 4096;  // above this a slab is drawn as a heat map
export const HEAT_COLS = 64;
export const HEAT_CELLS = 4096;
export const WARN_PCT = 70;
export const CRIT_PCT = 90;

const LETTER_CODE = new Uint8Array(256).fill(UNKNOWN);
STATES.forEach((s, code) => { if (code !== USED) LETTER_CODE[s.letter.charCodeAt(0)] = code; });

const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX['0123456789abcdef'.charCodeAt(i)] = i;
  HEX['0123456789ABCDEF'.charCodeAt(i)] = i;
}

export function stateOfLetter(letter) {
  const c = letter.charCodeAt(0);
  return c < 128 ? LETTER_CODE[c] : UNKNOWN;
}

export function slabTotal(slab) {
  const t = Number(slab.total);
  if (!Number.isInteger(t) || t < 0 || t > 1 << 24)
    throw new Error(`slab "total" must be an integer in 0..16777216 (got ${slab.total})`);
  return t;
}

const ENC = new TextEncoder();

// The per-slot state codes of one slab, updated in place from each document
// with the slots that changed and the count of each state kept alongside.
// One pass per update and no per-slot allocation: a 262,144-slot slab is
// decoded well within a frame. Text is copied to bytes natively first;
// bitmap bytes that did not change are skipped whole.
export class SlotCodes {
  constructor(total) {
    this.total = total;
    this.codes = new Uint8Array(total);
    this.counts = new Uint32Array(STATES.length);
    this.counts[FREE] = total;
    this.bytes = new Uint8Array((total + 7) >> 3);
    this.nextBytes = new Uint8Array(this.bytes.length);
    this.text = new Uint8Array(Math.max(total, 2 * this.bytes.length));
    this.changed = new Uint32Array(total);
  }

  // Takes a slab of the stream (`states` or `bitmap`, same `total`) and
  // returns the slots whose state changed, in slot order (a view valid
  // until the next call). A bad slab throws and leaves the codes as they were.
  apply(slab) {
    if (slabTotal(slab) !== this.total)
      throw new Error(`slab total changed from ${this.total} to ${slab.total}`);
    let n;
    if (typeof slab.states === 'string') n = this.applyStates(slab.states);
    else if (slab.bitmap !== undefined) n = this.applyBitmap(slab.bitmap);
    else throw new Error('slab has neither "states" nor "bitmap"');
    return this.changed.subarray(0, n);
  }

  set(slot, code, n) {
    const old = this.codes[slot];
    if (old === code) return n;
    this.codes[slot] = code;
    this.counts[old]--;
    this.counts[code]++;
    this.changed[n] = slot;
    return n + 1;
  }

  // One letter per slot; missing slots are free, unknown letters 'U'.
  applyStates(str) {
    const total = this.total, len = Math.min(str.length, total), text = this.text;
    const { read, written } = ENC.encodeInto(str, text);
    let n = 0;
    if (read === written && written >= len) {
      for (let i = 0; i < len; i++) n = this.set(i, LETTER_CODE[text[i]], n);
    } else {  // non-ASCII text: slot i is UTF-16 unit i
      for (let i = 0; i < len; i++) {
        const c = str.charCodeAt(i);
        n = this.set(i, c < 128 ? LETTER_CODE[c] : UNKNOWN, n);
      }
    }
    for (let i = len; i < total; i++) n = this.set(i, FREE, n);
    return n;
  }

  // Hex bytes, bit 0 of byte i = slot 8i; slots the bitmap does not reach
  // are free, bits past total are ignored.
  applyBitmap(hex) {
    if (typeof hex !== 'string' || hex.length % 2)
      throw new Error(`bitmap must be a string of hex byte pairs (got ${typeof hex === 'string' ? hex.length + ' digits' : typeof hex})`);
    const total = this.total, next = this.nextBytes, text = this.text;
    const nbytes = Math.min(hex.length >> 1, next.length);
    ENC.encodeInto(hex, text);  // non-ASCII lands as bytes >= 0x80: not hex
    for (let i = 0; i < nbytes; i++) {
      const hi = HEX[text[2 * i]], lo = HEX[text[2 * i + 1]];
      if (hi < 0 || lo < 0) throw badHex(hex);
      next[i] = (hi << 4) | lo;
    }
    next.fill(0, nbytes);
    if (total & 7) next[next.length - 1] &= (1 << (total & 7)) - 1;
    let n = 0;
    for (let i = 0; i < next.length; i++) {
      const byte = next[i];
      if (byte === this.bytes[i]) continue;
      this.bytes[i] = byte;
      const base = i << 3, m = Math.min(8, total - base);
      for (let bit = 0; bit < m; bit++) n = this.set(base + bit, (byte >> bit) & 1 ? USED : FREE, n);
    }
    return n;
  }
}

function badHex(hex) {
  let i = 0;
  while (i < hex.length && hex.charCodeAt(i) < 128 && HEX[hex.charCodeAt(i)] >= 0) i++;
  return new Error(`bitmap has a non-hex character at offset ${i}`);
}

// Heat map: slots [start, end) spread over `cells` cells; per cell the
// fraction in use and the most common non-free state (FREE if none).
export function aggregate(codes, start, end, cells, frac, dominant) {
  const len = end - start, counts = new Uint32Array(STATES.length);
  for (let c = 0; c < cells; c++) {
    const a = start + Math.floor(c * len / cells), b = start + Math.floor((c + 1) * len / cells);
    counts.fill(0);
    for (let i = a; i < b; i++) counts[codes[i]]++;
    let best = FREE, used = 0;
    for (let s = 1; s < counts.length; s++) {
      used += counts[s];
      if (counts[s] > counts[best] || (best === FREE && counts[s] > 0)) best = s;
    }
    frac[c] = b > a ? used / (b - a) : 0;
    dominant[c] = best;
  }
}

// Slot range covered by heat-map cell c.
export function cellRange(start, end, cells, c) {
  const len = end - start;
  return [start + Math.floor(c * len / cells), start + Math.floor((c + 1) * len / cells)];
}

// The heat-map cell holding `slot` (the inverse of cellRange).
export function cellOf(start, end, cells, slot) {
  return Math.floor(((slot - start) * cells + cells - 1) / (end - start));
}

// Heat-map geometry for `len` slots: at most HEAT_CELLS cells, `maxCols`
// wide (more in a wide panel, so the map keeps a sensible height).
export function heatLayout(len, maxCols = HEAT_COLS) {
  const cells = Math.max(1, Math.min(len, HEAT_CELLS));
  const cols = Math.min(maxCols, cells);
  return { cells, cols, rows: Math.ceil(cells / cols) };
}

// Zooming on a heat-map cell: a window an eighth as wide (never narrower
// than one slot per cell), centred on the clicked cell, kept inside the slab.
export function zoomRange(start, end, cell, cells, total) {
  const [a, b] = cellRange(start, end, cells, cell);
  const width = Math.max(Math.min(HEAT_CELLS, total), Math.ceil((end - start) / 8));
  if (width >= end - start) return [start, end];
  let s = Math.floor((a + b) / 2 - width / 2);
  s = Math.max(0, Math.min(s, total - width));
  return [s, s + width];
}

// '#rrggbb' -> [r, g, b].
export function parseColor(css) {
  const m = /^\s*#([0-9a-f]{6})\s*$/i.exec(css);
  if (!m) throw new Error(`colour must be #rrggbb (got "${css}")`);
  const v = parseInt(m[1], 16);
  return [v >> 16, (v >> 8) & 255, v & 255];
}

// RGBA pixel packed for a little-endian Uint32Array over ImageData.
export function packPixel(r, g, b) {
  return ((255 << 24) | (b << 16) | (g << 8) | r) >>> 0;
}

// Heat-map pixels: the free colour for an empty cell, else the dominant
// state's colour, fainter the emptier the cell; `flashing` cells (if given)
// in the flash colour. Cells past `cells` are free.
export function heatPixels(frac, dominant, cells, palette, freeRgb, flashRgb, flashing, pixels) {
  const [fr, fg, fb] = freeRgb;
  const free = packPixel(fr, fg, fb), flash = packPixel(...flashRgb);
  for (let c = 0; c < cells; c++) {
    const f = frac[c];
    if (flashing && flashing[c]) pixels[c] = flash;
    else if (f === 0) pixels[c] = free;
    else {
      const k = 0.35 + 0.65 * f, col = palette[dominant[c]];
      pixels[c] = packPixel(Math.round(fr + (col[0] - fr) * k),
        Math.round(fg + (col[1] - fg) * k), Math.round(fb + (col[2] - fb) * k));
    }
  }
  pixels.fill(free, cells);
}

// 'ok' below 70 %, 'warning' from 70 % or once anything overflowed (a
// counted past event), 'critical' from 90 % (a present danger).
export function capacityLevel(used, total, overflow = 0) {
  const pct = total > 0 ? used * 100 / total : 0;
  return pct >= CRIT_PCT ? 'critical' : pct >= WARN_PCT || overflow > 0 ? 'warning' : 'ok';
}

// '1 allocation', '3 allocations'
export function plural(n, word) {
  return `${formatCount(n)} ${word}${Number(n) === 1 ? '' : 's'}`;
}

// What a slab's and an arena's overflow counters count, in words.
export function slabOverflowText(n) {
  return `⚠ ${plural(n, 'acquire')} refused: slab full`;
}

export function arenaOverflowText(n, bytes) {
  return `⚠ ${plural(n, 'allocation')} spilled to the GC heap (${formatBytes(bytes)})`;
}

// Columns for a grid of `total` cells when `fit` fit in a row: all in one
// row if they fit, else the count in [fit/2, fit] that leaves the fullest
// last row (a divisor of total leaves none short), the wider on a tie.
export function gridColumns(total, fit) {
  if (total <= fit) return Math.max(1, total);
  let best = fit, bestFill = -1;
  for (let c = fit; c >= Math.max(1, Math.ceil(fit / 2)); c--) {
    const rest = total % c, fill = rest === 0 ? 1 : rest / c;
    if (fill > bestFill) { best = c; bestFill = fill; }
  }
  return best;
}

// A path cut in the middle to at most `max` characters, keeping its file
// name: '/opt/valk/…/lib/libvalkyria.so'.
export function elideMiddle(s, max = 40) {
  s = String(s);
  if (s.length <= max) return s;
  const base = s.slice(s.lastIndexOf('/') + 1);
  const tail = Math.min(s.length, Math.max(Math.ceil((max - 1) * 0.6), Math.min(base.length + 1, max - 2)));
  return s.slice(0, max - 1 - tail) + '…' + s.slice(s.length - tail);
}

export function percent(used, total) {
  return total > 0 ? Math.min(100, used * 100 / total) : 0;
}

// Owner bars from by_owner ({"0": {"A":3,"I":1}, "?": {...}}): sorted by
// connections, with the share of all owned connections and a text bar.
export function ownerBars(byOwner, ownerNames = [], width = 16) {
  const rows = Object.entries(byOwner || {}).map(([idx, states]) => ({
    name: idx === '?' ? '?' : ownerNames[idx] ?? `owner ${idx}`,
    count: CONN_LETTERS.reduce((n, l) => n + (Number(states?.[l]) || 0), 0),
  })).filter(r => r.count > 0);
  const sum = rows.reduce((n, r) => n + r.count, 0);
  const max = rows.reduce((m, r) => Math.max(m, r.count), 0);
  rows.sort((a, b) => b.count - a.count || a.name.localeCompare(b.name));
  for (const r of rows) {
    r.pct = Math.round(r.count * 100 / sum);
    r.bar = '█'.repeat(Math.max(1, Math.round(r.count * width / max)));
    r.text = `${r.name} ${r.bar} ${r.count} (${r.pct}%)`;
  }
  return rows;
}

// Owner names of one AIO system: "owner_maps" (array by system, or object
// keyed by system) when the stream has it, else the flat "owner_map".
export function ownerNamesFor(doc, system) {
  const maps = doc.owner_maps;
  const names = Array.isArray(maps) || (maps && typeof maps === 'object') ? maps[system] : undefined;
  if (Array.isArray(names)) return names;
  return Array.isArray(doc.owner_map) ? doc.owner_map : [];
}

export function formatBytes(n) {
  n = Number(n) || 0;
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let u = 0;
  while (Math.abs(n) >= 1024 && u < units.length - 1) { n /= 1024; u++; }
  return u === 0 ? `${n}B` : `${n.toFixed(1)}${units[u]}`;
}

const pad2 = v => String(v).padStart(2, '0');

export function formatAge(ms) {
  ms = Math.max(0, Math.floor(Number(ms) || 0));
  if (ms < 1000) return `${ms}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad2(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${pad2(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86400)}d ${pad2(Math.floor(s / 3600) % 24)}h`;
}

// 1234567 -> '1,234,567' (toLocaleString is too slow for 10 Hz updates).
export function formatCount(n) {
  n = Math.round(Number(n) || 0);
  const neg = n < 0, digits = String(Math.abs(n));
  let out = '';
  for (let i = digits.length; i > 0; i -= 3) out = digits.slice(Math.max(0, i - 3), i) + (out ? ',' + out : '');
  return (neg ? '-' : '') + out;
}

// Events per second from tracer.events samples over the last windowMs.
// A counter going backwards means a new tracer: start over.
export class RateMeter {
  constructor(windowMs = 2000) { this.windowMs = windowMs; this.samples = []; }
  add(ts, value) {
    const s = this.samples, last = s[s.length - 1];
    if (last && (value < last[1] || ts < last[0])) s.length = 0;
    s.push([ts, value]);
    while (s.length > 2 && ts - s[1][0] >= this.windowMs) s.shift();
    const first = s[0], dt = ts - first[0];
    return dt > 0 ? (value - first[1]) * 1000 / dt : null;
  }
}

// Used-over-time history: one point per stepMs (the peak within it),
// spanning spanMs.
export class Series {
  constructor(spanMs = 5 * 60000, stepMs = 1000) {
    this.spanMs = spanMs; this.stepMs = stepMs; this.points = [];
  }
  add(ts, v) {
    const p = this.points, slot = Math.floor(ts / this.stepMs) * this.stepMs, last = p[p.length - 1];
    if (last && last[0] === slot) last[1] = Math.max(last[1], v);
    else p.push([slot, v]);
    while (p.length && p[0][0] < ts - this.spanMs) p.shift();
  }
}

// SVG polyline points for a series ending at `now`, y scaled to maxY. The
// x axis spans spanMs, or less while the history is shorter, and the last
// value is held to `now`, so from its first sample the line runs from the
// left edge to the right one.
export function sparkPoints(points, now, spanMs, maxY, w, h) {
  if (!points.length) return '';
  const x0 = Math.max(now - spanMs, points[0][0]), dx = Math.max(1, now - x0);
  const ym = maxY > 0 ? maxY : 1;
  const y = v => (h - Math.min(v, ym) * h / ym).toFixed(1);
  const out = points.map(([t, v]) => `${((t - x0) * w / dx).toFixed(1)},${y(v)}`);
  const last = points[points.length - 1];
  if (points.length === 1 || last[0] < now) out.push(`${w.toFixed(1)},${y(last[1])}`);
  if (points.length === 1) out[0] = `0.0,${y(last[1])}`;
  return out.join(' ');
}

// Owner name of a handle slot from the slab's per-slot "owners" string:
// one hex digit per slot, the owner index in the system's registry; any
// other character means no owner known. Undefined when there is none.
export function slotOwner(owners, slot, names) {
  if (typeof owners !== 'string' || slot >= owners.length) return undefined;
  const c = owners.charCodeAt(slot), idx = c < 128 ? HEX[c] : -1;
  return idx < 0 ? undefined : names[idx] ?? '?';
}

export function leakKey(system, slab, slot) {
  return `${system}/${slab}/${slot}`;
}

export function indexLeaks(leaks) {
  const m = new Map();
  for (const l of Array.isArray(leaks) ? leaks : [])
    m.set(leakKey(l.system ?? 0, l.slab, l.slot), l);
  return m;
}

// Tooltip text of one slot. The age comes from the tracer's leak list when
// the slot is there (acquire or attach time), else from how long this page
// has seen the slot in its state.
export function slotTooltip({ slab, slot, code, owner, leak, seenMs }) {
  const lines = [`${slab} slot ${slot}: ${STATES[code].label}`];
  const who = owner ?? leak?.owner;
  if (code !== FREE && who !== undefined && who !== null && who !== '') lines.push(`owner ${who}`);
  if (leak) lines.push(leak.since === 'attach'
    ? `in use ≥ ${formatAge(leak.age_ms)} (since before attach)`
    : `in use for ${formatAge(leak.age_ms)}`);
  else if (seenMs !== undefined) lines.push(`${code === FREE ? 'free' : 'in this state'} for ≥ ${formatAge(seenMs)} (seen by this page)`);
  return lines.join('\n');
}

// Heat-cell tooltip: the slot range and what is in it.
export function rangeTooltip(slab, a, b, codes) {
  const counts = new Uint32Array(STATES.length);
  for (let i = a; i < b; i++) counts[codes[i]]++;
  const used = b - a - counts[FREE];
  const parts = [];
  counts.forEach((n, code) => { if (n && code !== FREE) parts.push(`${STATES[code].label} ${n}`); });
  return `${slab} slots ${a}–${b - 1}: ${used}/${b - a} used` + (parts.length ? `\n${parts.join(', ')}` : '');
}

const DEC = new TextDecoder();

// Writes the runs "off:now,off:now" of a delta over a per-slot string
// (hex: offsets count bytes, two digits each). One copy per string.
function applyRuns(str, runs, hex) {
  const b = ENC.encode(String(str ?? ''));
  for (const seg of String(runs).split(',')) {
    const colon = seg.indexOf(':');
    const off = Number(seg.slice(0, colon)) * (hex ? 2 : 1), now = seg.slice(colon + 1);
    if (colon < 1 || !Number.isInteger(off) || off < 0 || off + now.length > b.length)
      throw new Error(`delta run "${seg.slice(0, 40)}" lies outside its slab`);
    ENC.encodeInto(now, b.subarray(off));
  }
  return DEC.decode(b);
}

const DELTA_SLAB_KEYS = ['used', 'hwm', 'overflow', 'acquires', 'releases', 'summary', 'by_owner'];
const DELTA_SECTIONS = ['gc', 'owner_maps', 'leaks'];

// A list sent entry by entry (keyed by name and system): new entries join
// whole, a changed one brings its key and the members that changed, those
// in `gone` leave.
function mergeList(old, changed, gone) {
  const key = e => `${e?.name}\u0000${e?.system ?? ''}`;
  const out = new Map((Array.isArray(old) ? old : []).map(e => [key(e), e]));
  // a changed entry carries its key and the members that changed
  for (const e of Array.isArray(changed) ? changed : []) out.set(key(e), { ...out.get(key(e)), ...e });
  for (const e of Array.isArray(gone) ? gone : []) out.delete(key(e));
  return [...out.values()];
}

// The leak list after a delta that sends it by entry: those gone and
// those resent leave, the new or changed ones join, in the tracer's order
// (oldest first, then by slab as the document lists them, then by slot).
function mergeLeaks(next, delta) {
  const key = l => `${l?.system ?? 0}\u0000${l?.slab}\u0000${l?.slot}`;
  const add = Array.isArray(delta.leaks_add) ? delta.leaks_add : [];
  const drop = new Set([...(Array.isArray(delta.leaks_gone) ? delta.leaks_gone : []), ...add].map(key));
  const pos = l => next.slabs.findIndex(s => s.name === l.slab && (s.system ?? 0) === (l.system ?? 0));
  return (Array.isArray(next.leaks) ? next.leaks : []).filter(l => !drop.has(key(l))).concat(add)
    .sort((a, b) => b.age_ms - a.age_ms || pos(a) - pos(b) || a.slot - b.slot);
}

// The full memory document after a memory-delta, from the document it
// follows (doc.seq === delta.base); throws when it does not follow it.
// Leaks the delta does not resend are the same slots, older by the time
// between the two events.
export function applyMemoryDelta(doc, delta) {
  if (!doc || !delta || delta.base !== doc.seq)
    throw new Error(`delta ${delta?.seq} follows event ${delta?.base}, not ${doc?.seq}`);
  const next = { ...doc, seq: delta.seq, ts_ms: delta.ts_ms, slabs: doc.slabs.slice() };
  for (const ds of Array.isArray(delta.slabs) ? delta.slabs : []) {
    const i = next.slabs.findIndex(s => s.name === ds.name && (s.system ?? 0) === (ds.system ?? 0));
    if (i < 0) throw new Error(`delta names slab ${ds.name} of system ${ds.system}, not in the document`);
    const slab = next.slabs[i] = { ...next.slabs[i] };
    for (const k of DELTA_SLAB_KEYS) if (k in ds) slab[k] = ds[k];
    if (ds.invalid === true) { slab.invalid = true; slab.problem = ds.problem; }
    else if (ds.invalid === false) { delete slab.invalid; delete slab.problem; }
    if (ds.states !== undefined) slab.states = applyRuns(slab.states, ds.states, false);
    if (ds.owners !== undefined) slab.owners = applyRuns(slab.owners, ds.owners, false);
    if (ds.bitmap !== undefined) slab.bitmap = applyRuns(slab.bitmap, ds.bitmap, true);
  }
  for (const k of DELTA_SECTIONS) if (k in delta) next[k] = delta[k];
  if ('arenas' in delta || 'arenas_gone' in delta) next.arenas = mergeList(doc.arenas, delta.arenas, delta.arenas_gone);
  if (delta.tracer) {
    const { probe_hits: hits, ...tracer } = delta.tracer;
    const probes = Array.isArray(doc.tracer?.probes) ? doc.tracer.probes : [];
    // the members that moved since the last event; the rest as they were
    next.tracer = { ...doc.tracer, ...tracer, probes: probes.map((p, i) => ({ ...p, hits: Array.isArray(hits) ? hits[i] ?? p.hits : p.hits })) };
  }
  if ('owner_maps' in delta) next.owner_map = Array.isArray(delta.owner_maps) ? delta.owner_maps[0] ?? [] : [];
  if (!('leaks' in delta) && Array.isArray(doc.leaks)) {
    const dt = Math.max(0, Number(delta.ts_ms) - Number(doc.ts_ms)) || 0;
    next.leaks = doc.leaks.map(l => ({ ...l, age_ms: l.age_ms + dt }));
  }
  if ('leaks_add' in delta || 'leaks_gone' in delta) next.leaks = mergeLeaks(next, delta);
  return next;
}

// Slabs grouped by AIO system, in system order; within a system the
// handle slab first, then the stream's order.
export function systemsOf(doc) {
  const by = new Map();
  for (const slab of Array.isArray(doc.slabs) ? doc.slabs : []) {
    const sys = Number.isInteger(slab.system) ? slab.system : 0;
    if (!by.has(sys)) by.set(sys, []);
    by.get(sys).push(slab);
  }
  for (const list of by.values())
    list.sort((a, b) => (b.name === 'handles') - (a.name === 'handles'));
  return [...by.entries()].sort((a, b) => a[0] - b[0]);
}

const SLAB_TITLES = {
  handles: 'Handles (connections)',
  tcp_buffers: 'TCP buffers',
  stream_arenas: 'Stream arenas',
  http_servers: 'HTTP servers',
  http_clients: 'HTTP clients',
};

export function slabTitle(name) {
  return SLAB_TITLES[name] ?? String(name);
}

// Where a slab's state comes from. 'invalid': its memory read implausible
// (the tracer keeps, and the page shows, its last good state); 'read': read
// from memory every tick (sample mode, or the slab probes taken off over
// the overhead budget); else 'events': event-traced (hybrid also checks it
// against memory once a second).
export function slabSource(tracer, slab) {
  if (slab?.invalid) return 'invalid';
  if (tracer?.mode === 'sample' || tracer?.overhead?.slab_probes === 'detached') return 'read';
  return 'events';
}

const SOURCE_TEXT = {
  events: ['event-traced', 'every acquire and release is traced as it happens'],
  read: ['read from memory', 'read from the target\'s memory every tick, not probed'],
  invalid: ['INVALID', 'its memory reads implausible: the last good state is shown'],
};

// The badge of a slab's source: [text, tooltip].
export function sourceText(source) {
  return SOURCE_TEXT[source] ?? SOURCE_TEXT.events;
}

export function formatPct(v) {
  v = Number(v);
  return Number.isFinite(v) ? `${v.toFixed(1)}%` : '--';
}

// The header's overhead figure from tracer.overhead: the probes' estimated
// share of the target's CPU against the --max-overhead budget, and what the
// budget did with the slab probes. null when there is no budget (events
// mode, --max-overhead 0, a replay). level: 'ok' within the budget,
// 'warning' above half of it, 'critical' over it; 'read' while the slab
// probes are off (the estimate then counts only the probes still on).
export function overheadView(ov) {
  if (!ov || typeof ov !== 'object') return null;
  const est = Number(ov.estimate_pct), max = Number(ov.max_pct), proj = Number(ov.projected_pct);
  const detached = ov.slab_probes === 'detached';
  const level = detached ? 'read' : est > max ? 'critical' : est > max / 2 ? 'warning' : 'ok';
  const note = detached ? `slabs read: ${formatPct(proj)} if probed` : 'slabs event-traced';
  const title = detached
    ? `over the ${formatPct(max)} budget the slab probes came off: the slabs are read from memory every tick; `
      + `probing them would cost ${formatPct(proj)} of the target's CPU (back on after three seconds below ${formatPct(max / 2)})`
    : `the probes cost an estimated ${formatPct(est)} of the target's CPU; over ${formatPct(max)} `
      + 'the slab probes come off and the slabs are read from memory';
  return { text: `${formatPct(est)} / ${formatPct(max)}`, note, level, title };
}
