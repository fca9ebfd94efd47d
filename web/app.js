// app.js — the dashboard's DOM side: the SSE connection, the per-system
// pool panels, arenas, GC heap and long-lived slots. Logic lives in model.js.
import * as M from './model.js';
import { Timeline } from './timeline.js';

const STREAM_URL = '/api/diagnostics/memory/stream';
const FLASH_MS = 300;
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30000;
const LEAK_ROWS = 25;

const $ = id => document.getElementById(id);

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// Rebuilds host's children only when `sig`, a digest of what they show,
// changed: most documents leave these lists as they were.
function rebuild(host, sig, build) {
  if (host.vtSig === sig) return;
  host.vtSig = sig;
  host.replaceChildren(...build());
}

// Setting textContent only when it differs keeps 10 Hz updates cheap.
function setText(e, text) {
  text = String(text);
  if (e.textContent !== text) e.textContent = text;
}

// State colours as [r, g, b] from the stylesheet, for the canvas.
function readPalette() {
  const css = getComputedStyle(document.documentElement);
  const rgb = name => M.parseColor(css.getPropertyValue(`--state-${name}`));
  return {
    states: M.STATES.map(s => rgb(s.name)),
    free: rgb('free'),
    flash: rgb('flash'),
  };
}

// ---------------------------------------------------------------- stream

// EventSource managed by hand: on error it is closed and reopened after a
// backoff of 1 s doubling to 30 s, reset by the first event that arrives.
class Stream {
  constructor(url, onData, onStatus, onDelta) {
    this.url = url; this.onData = onData; this.onStatus = onStatus; this.onDelta = onDelta;
    this.es = null; this.timer = 0; this.backoff = BACKOFF_MIN_MS;
  }
  start() {
    this.stop();
    this.onStatus('connecting');
    const es = this.es = new EventSource(this.url);
    es.onopen = () => this.onStatus('up');
    es.addEventListener('memory', e => {
      this.backoff = BACKOFF_MIN_MS;
      this.onData(e.data);
    });
    es.addEventListener('memory-delta', e => {
      this.backoff = BACKOFF_MIN_MS;
      this.onDelta(e.data);
    });
    es.onerror = () => {
      if (this.es !== es) return;
      es.close();
      this.es = null;
      const delay = this.backoff;
      this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
      console.log(`valk-trace: stream lost, reconnecting in ${delay}ms`);
      this.onStatus('down', delay);
      this.timer = setTimeout(() => this.start(), delay);
    };
  }
  stop() {
    clearTimeout(this.timer);
    if (this.es) this.es.close();
    this.es = null;
  }
}

// ---------------------------------------------------------------- grids

const NO_CHANGE = new Uint32Array(0);
const CELL_CLASS = M.STATES.map(s => `c s-${s.name}`);
const CELL_FLASH = [CELL_CLASS.map(c => `${c} fa`), CELL_CLASS.map(c => `${c} fb`)];

// One DOM cell per slot; only changed cells are touched on update.
class DirectGrid {
  constructor(host, total, codes) {
    this.root = el('div', 'cells');
    this.total = total;
    this.cell = total <= 16 ? 20 : total <= 256 ? 12 : total <= 1024 ? 9 : 7;
    this.root.style.setProperty('--cell', `${this.cell}px`);
    const frag = document.createDocumentFragment();
    this.cells = new Array(total);
    for (let i = 0; i < total; i++) {
      const c = el('div', CELL_CLASS[codes[i]]);
      c.vtSlot = i;
      frag.appendChild(c);
      this.cells[i] = c;
    }
    this.root.appendChild(frag);
    host.appendChild(this.root);
    this.cols = 0;
    this.fitColumns();
    this.resize = new ResizeObserver(() => this.fitColumns());
    this.resize.observe(this.root);
    this.phase = new Uint8Array(total);       // 0 none, 1 'fa', 2 'fb'
    this.flashUntil = new Float64Array(total);
    this.batches = [];                        // [until, slots] in time order
    this.sweepTimer = 0;
  }
  render(codes, changed, now) {
    const until = now + FLASH_MS;
    for (let k = 0; k < changed.length; k++) {
      const i = changed[k], p = this.phase[i] === 1 ? 2 : 1;
      this.phase[i] = p;
      this.flashUntil[i] = until;
      this.cells[i].className = CELL_FLASH[p - 1][codes[i]];
    }
    this.codes = codes;
    if (changed.length) {
      this.batches.push([until, Uint32Array.from(changed)]);
      if (!this.sweepTimer) this.armSweep(now);
    }
  }
  armSweep(now) {
    this.sweepTimer = setTimeout(() => this.sweep(), Math.max(0, this.batches[0][0] - now));
  }
  // Ends the flashes that are due (a slot that changed again keeps its own).
  sweep() {
    const now = performance.now();
    this.sweepTimer = 0;
    while (this.batches.length && this.batches[0][0] <= now) {
      for (const i of this.batches.shift()[1]) {
        if (this.flashUntil[i] > now || !this.phase[i]) continue;
        this.phase[i] = 0;
        this.cells[i].className = CELL_CLASS[this.codes[i]];
      }
    }
    if (this.batches.length) this.armSweep(now);
  }
  // As many columns as fit (1 px gaps), chosen so no row is left short.
  fitColumns() {
    const fit = Math.max(1, Math.floor((this.root.clientWidth + 1) / (this.cell + 1)));
    const cols = M.gridColumns(this.total, fit);
    if (cols !== this.cols) this.root.style.setProperty('--cols', this.cols = cols);
  }
  slotAt(target) {
    return target.vtSlot;
  }
  destroy() {
    clearTimeout(this.sweepTimer);
    this.resize.disconnect();
    this.root.remove();
  }
}

// Canvas heat map for large slabs: slots aggregated per cell, one
// putImageData per update; a click zooms in, the bar zooms back out.
class HeatGrid {
  constructor(host, total, palette, maxCols) {
    this.total = total; this.palette = palette; this.maxCols = maxCols;
    this.canvas = el('canvas', 'heat');
    this.ctx = this.canvas.getContext('2d');
    this.bar = el('div', 'zoom-bar');
    this.zoomText = el('span');
    this.zoomOut = el('button', '', 'zoom out');
    this.zoomOut.type = 'button';
    this.bar.append(this.zoomText, this.zoomOut);
    host.append(this.canvas, this.bar);
    this.frac = new Float32Array(M.HEAT_CELLS);
    this.dominant = new Uint8Array(M.HEAT_CELLS);
    this.flashing = new Uint8Array(M.HEAT_CELLS);
    this.flashTimer = 0;
    this.canvas.addEventListener('click', e => this.zoomIn(this.cellAt(e)));
    this.zoomOut.addEventListener('click', () => this.setRange(0, total));
    this.setRange(0, total, true);
  }
  setRange(start, end, quiet) {
    this.start = start; this.end = end;
    this.layout = M.heatLayout(end - start, this.maxCols);
    const { cols, rows } = this.layout;
    this.canvas.width = cols; this.canvas.height = rows;
    this.canvas.style.aspectRatio = `${cols} / ${rows}`;
    this.image = this.ctx.createImageData(cols, rows);
    this.pixels = new Uint32Array(this.image.data.buffer);
    this.flashing.fill(0);
    const zoomed = start > 0 || end < this.total;
    this.zoomOut.hidden = !zoomed;
    setText(this.zoomText, zoomed
      ? `slots ${start}–${end - 1} of ${this.total}, ${this.slotsPerCell()} per cell`
      : `${this.total} slots, ${this.slotsPerCell()} per cell; click to zoom`);
    if (!quiet && this.codes) this.draw();
  }
  slotsPerCell() {
    return Math.ceil((this.end - this.start) / this.layout.cells);
  }
  zoomIn(cell) {
    if (cell < 0) return;
    const [a, b] = M.zoomRange(this.start, this.end, cell, this.layout.cells, this.total);
    if (a !== this.start || b !== this.end) this.setRange(a, b);
  }
  cellAt(e) {
    const r = this.canvas.getBoundingClientRect(), { cols, rows, cells } = this.layout;
    const x = Math.floor((e.clientX - r.left) * cols / r.width);
    const y = Math.floor((e.clientY - r.top) * rows / r.height);
    const c = y * cols + x;
    return x >= 0 && x < cols && y >= 0 && c < cells ? c : -1;
  }
  render(codes, changed) {
    this.codes = codes;
    let any = false;
    for (let k = 0; k < changed.length; k++) {
      const s = changed[k];
      if (s < this.start || s >= this.end) continue;
      this.flashing[M.cellOf(this.start, this.end, this.layout.cells, s)] = 1;
      any = true;
    }
    if (!any && this.drawn) return;
    this.drawn = true;
    this.draw();
    if (any) {
      clearTimeout(this.flashTimer);
      this.flashTimer = setTimeout(() => { this.flashing.fill(0); this.paint(); }, FLASH_MS);
    }
  }
  draw() {
    M.aggregate(this.codes, this.start, this.end, this.layout.cells, this.frac, this.dominant);
    this.paint();
  }
  paint() {
    const p = this.palette;
    M.heatPixels(this.frac, this.dominant, this.layout.cells, p.states, p.free, p.flash, this.flashing, this.pixels);
    this.ctx.putImageData(this.image, 0, 0);
  }
  // Tooltip of the cell under the pointer: its slot range, or the slot.
  rangeAt(e) {
    const c = this.cellAt(e);
    return c < 0 ? null : M.cellRange(this.start, this.end, this.layout.cells, c);
  }
  destroy() {
    clearTimeout(this.flashTimer);
    this.canvas.remove(); this.bar.remove();
  }
}

// ---------------------------------------------------------------- slabs

// One slab panel: grid, usage with HWM, warnings, sparkline and, for the
// handle slab, the breakdowns by state and by owner.
class SlabView {
  constructor(parent, system, name, palette) {
    this.system = system; this.name = name; this.palette = palette;
    this.wide = name === 'handles';  // the handle panel spans the row
    this.total = -1; this.grid = null; this.series = new M.Series();
    const root = this.root = el('div', 'pool-panel level-ok');
    root.dataset.system = system; root.dataset.slab = name;
    const head = el('div', 'pool-header');
    this.badge = el('span', 'pool-badge');
    this.source = el('span', 'source-badge');
    this.usage = el('span', 'pool-usage', '-- / --');
    head.append(el('span', 'pool-name', M.slabTitle(name)), this.source, this.badge, this.usage);
    this.problem = el('div', 'pool-problem');
    this.problem.setAttribute('role', 'alert');
    this.problem.hidden = true;
    this.canvas = el('div', 'pool-canvas');
    this.canvas.dataset.slab = name; this.canvas.dataset.system = system;
    this.canvas.vtTip = e => this.tooltip(e);
    const track = el('div', 'usage-track');
    this.fill = el('div', 'usage-fill');
    this.hwm = el('div', 'hwm');
    track.append(this.fill, this.hwm);
    this.stats = el('div', 'pool-stats');
    this.statHwm = el('span'); this.statFlow = el('span');
    this.statOverflow = el('span', 'overflow');
    this.stats.append(this.statHwm, this.statFlow, this.statOverflow);
    this.error = el('div', 'pool-error');
    this.spark = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    this.spark.setAttribute('class', 'spark');
    this.spark.setAttribute('viewBox', '0 0 300 28');
    this.spark.setAttribute('preserveAspectRatio', 'none');
    this.sparkLine = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
    this.spark.appendChild(this.sparkLine);
    this.spark.appendChild(document.createElementNS('http://www.w3.org/2000/svg', 'title'))
      .textContent = 'slots in use over the last 5 minutes';
    root.append(head, this.problem, this.canvas, track, this.stats, this.spark, this.error);
    if (name === 'handles') {
      const bd = el('div', 'pool-breakdown');
      this.byState = el('div', 'by-state');
      this.byOwner = el('div', 'by-owner');
      bd.append(this.byState, this.byOwner);
      root.appendChild(bd);
    }
    parent.appendChild(root);
  }

  update(slab, ctx) {
    const total = M.slabTotal(slab);
    if (total !== this.total) {
      // A new slab (or a resized one): draw it as it is, nothing flashes.
      const slots = new M.SlotCodes(total);
      slots.apply(slab);
      this.slots = slots; this.total = total;
      this.seenSince = new Float64Array(total).fill(ctx.now);
      this.makeGrid();
    } else {
      const changed = this.slots.apply(slab);
      for (let k = 0; k < changed.length; k++) this.seenSince[changed[k]] = ctx.now;
      this.grid.render(this.slots.codes, changed, ctx.now);
    }
    this.slab = slab; this.ctx = ctx;
    this.renderStats(slab, total, ctx);
    setText(this.error, '');
  }

  makeGrid() {
    if (this.grid) this.grid.destroy();
    const codes = this.slots.codes;
    this.grid = this.total <= M.DIRECT_MAX
      ? new DirectGrid(this.canvas, this.total, codes)
      : new HeatGrid(this.canvas, this.total, this.palette, this.wide ? 2 * M.HEAT_COLS : M.HEAT_COLS);
    this.grid.render(codes, NO_CHANGE, performance.now());
  }

  renderStats(slab, total, ctx) {
    const used = Number(slab.used) || 0, hwm = Number(slab.hwm) || 0, overflow = Number(slab.overflow) || 0;
    const level = M.capacityLevel(used, total, overflow), pct = M.percent(used, total);
    const source = M.slabSource(ctx.tracer, slab);
    const cls = `pool-panel${this.wide ? ' wide' : ''} level-${level}${source === 'invalid' ? ' invalid' : ''}`;
    if (this.root.className !== cls) this.root.className = cls;
    this.renderSource(source, slab);
    setText(this.badge, level === 'critical' ? `CRITICAL ${Math.round(pct)}%` : overflow > 0 ? 'OVERFLOWED' : `WARNING ${Math.round(pct)}%`);
    setText(this.usage, `${M.formatCount(used)} / ${M.formatCount(total)} (${Math.round(pct)}%)`);
    this.fill.style.width = `${pct}%`;
    this.hwm.style.left = `calc(${M.percent(hwm, total)}% - 1px)`;
    setText(this.statHwm, `HWM ${M.formatCount(hwm)}`);
    setText(this.statFlow, `acquires ${M.formatCount(slab.acquires)} · releases ${M.formatCount(slab.releases)}`);
    setText(this.statOverflow, overflow > 0 ? M.slabOverflowText(overflow) : '');
    this.series.add(ctx.ts, used);
    this.sparkLine.setAttribute('points', M.sparkPoints(this.series.points, ctx.ts, this.series.spanMs, total, 300, 28));
    if (this.byState) this.renderBreakdown(slab, ctx);
  }

  // Event-traced, read from memory, or invalid with the tracer's reason.
  renderSource(source, slab) {
    const [text, title] = M.sourceText(source);
    const cls = `source-badge src-${source}`;
    if (this.source.className !== cls) this.source.className = cls;
    setText(this.source, text);
    this.source.title = title;
    this.problem.hidden = source !== 'invalid';
    setText(this.problem, source === 'invalid'
      ? `⚠ ${slab.problem || 'its memory reads implausible; its last good state is kept'}` : '');
  }

  // By state: free, the connection states, and any other state present.
  renderBreakdown(slab, ctx) {
    const counts = this.slots.counts;
    const shown = M.STATES.map((s, code) => [s, code]).filter(([s, code]) => code !== M.USED &&
      (code === M.FREE || counts[code] || M.CONN_LETTERS.includes(s.letter)));
    rebuild(this.byState, counts.join(), () => shown.map(([s, code]) => {
      const item = el('span', 'legend-item');
      item.append(el('span', `legend-dot s-${s.name}`), `${s.label}: `, el('b', '', M.formatCount(counts[code])));
      return item;
    }));
    const rows = M.ownerBars(slab.by_owner, ctx.ownerNames);
    rebuild(this.byOwner, rows.map(r => r.text).join('\n'), () => rows.length ? rows.map(r => {
      const row = el('div', 'owner-row');
      row.title = r.text;
      const track = el('div', 'owner-track'), bar = el('div', 'owner-bar');
      bar.style.width = `${r.pct}%`;
      track.appendChild(bar);
      row.append(el('span', 'owner-name', r.name), track, el('span', 'owner-count', `${r.count} (${r.pct}%)`));
      return row;
    }) : [el('span', 'empty', 'no connections by owner')]);
  }

  tooltip(e) {
    if (!this.grid || !this.slab) return null;
    if (this.grid instanceof HeatGrid) {
      const r = this.grid.rangeAt(e);
      if (!r) return null;
      if (r[1] - r[0] !== 1) return M.rangeTooltip(this.name, r[0], r[1], this.slots.codes);
      return this.slotTip(r[0]);
    }
    const slot = this.grid.slotAt(e.target);
    return slot === undefined ? null : this.slotTip(slot);
  }

  slotTip(slot) {
    const tip = M.slotTooltip({
      slab: this.name, slot, code: this.slots.codes[slot],
      owner: M.slotOwner(this.slab.owners, slot, this.ctx.ownerNames),
      leak: this.ctx.leaks.get(M.leakKey(this.system, this.name, slot)),
      seenMs: performance.now() - this.seenSince[slot],
    });
    const past = timeline.slotHistory(this.system, this.name, slot);
    return past ? `${tip}\nhistory:\n${past}` : tip;
  }

  showError(msg) {
    setText(this.error, `${this.name}: ${msg}`);
  }

  destroy() {
    if (this.grid) this.grid.destroy();
    this.root.remove();
  }
}

// One AIO system: its "Shared Resource Pools" block of slab panels.
class SystemView {
  constructor(parent, system, palette) {
    this.palette = palette;
    this.root = el('article', 'panel aio-system');
    this.root.dataset.system = system;
    const head = el('div', 'block-header');
    const live = el('span', 'section-badge');
    live.append(el('span', 'sse-dot'), 'Live');
    head.append(el('span', 'section-icon', 'AIO'), el('span', 'block-title', `AIO system ${system} · Shared Resource Pools`), live);
    this.columns = el('div', 'pool-columns');
    this.root.append(head, this.columns);
    parent.appendChild(this.root);
    this.system = system;
    this.slabs = new Map();
  }
  update(slabs, ctx) {
    const seen = new Set();
    for (const slab of slabs) {
      const name = String(slab.name);
      seen.add(name);
      let v = this.slabs.get(name);
      if (!v) this.slabs.set(name, v = new SlabView(this.columns, this.system, name, this.palette));
      try {
        v.update(slab, ctx);
      } catch (err) {
        v.showError(`${err.message}; this slab is left as last shown`);
      }
    }
    for (const [name, v] of this.slabs)
      if (!seen.has(name)) { v.destroy(); this.slabs.delete(name); }
  }
  destroy() {
    for (const v of this.slabs.values()) v.destroy();
    this.root.remove();
  }
}

// ---------------------------------------------------------------- arenas, gc, leaks

function gauge(name, used, capacity, hwm) {
  const level = M.capacityLevel(used, capacity);
  const g = el('div', `arena-gauge level-${level}`);
  const track = el('div', 'arena-track');
  const bar = el('div', `arena-bar ${level}`);
  bar.style.width = `${M.percent(used, capacity)}%`;
  track.appendChild(bar);
  if (hwm !== undefined) {
    const h = el('div', 'hwm');
    h.style.left = `calc(${M.percent(hwm, capacity)}% - 1px)`;
    h.title = `high-water mark ${M.formatBytes(hwm)}`;
    track.appendChild(h);
  }
  const label = el('span', 'arena-label');
  label.append(el('span', 'pct', `${Math.round(M.percent(used, capacity))}%`),
    ` ${M.formatBytes(used)} / ${M.formatBytes(capacity)}`);
  g.append(el('span', 'arena-name', name), track, label);
  return g;
}

function arenaNodes(arenas) {
  const list = (Array.isArray(arenas) ? arenas : []).slice()
    .sort((a, b) => (b.name === 'scratch') - (a.name === 'scratch') || String(a.name).localeCompare(String(b.name), 'en', { numeric: true }));
  const multi = new Set(list.map(a => a.system ?? 0)).size > 1;
  const nodes = list.map(a => {
    const name = multi ? `${a.system ?? 0}:${a.name}` : String(a.name);
    const g = gauge(name, Number(a.used) || 0, Number(a.capacity) || 0, Number(a.hwm) || 0);
    g.title = `${a.name}: high-water mark ${M.formatBytes(a.hwm)}`;
    if (Number(a.overflow) > 0) {
      g.classList.add('has-overflow');
      g.appendChild(el('span', 'arena-overflow', M.arenaOverflowText(a.overflow, a.overflow_bytes)));
    }
    return g;
  });
  return nodes.length ? nodes : [el('p', 'empty', 'no arenas reported')];
}

function gcNodes(gc) {
  const used = Number(gc.heap_used_bytes) || 0, total = Number(gc.heap_total_bytes) || 0;
  setText($('gc-total'), `${M.formatBytes(used)} / ${M.formatBytes(total)}`);
  const classes = el('div', 'gc-classes');
  for (const c of Array.isArray(gc.size_classes) ? gc.size_classes : []) {
    const item = el('div', 'gc-class');
    const track = el('div', 'arena-track');
    const bar = el('div', `arena-bar ${M.capacityLevel(c.used, c.total)}`);
    bar.style.width = `${M.percent(c.used, c.total)}%`;
    track.appendChild(bar);
    item.append(`${M.formatBytes(c.size)}: ${M.formatCount(c.used)} / ${M.formatCount(c.total)}`, track);
    classes.appendChild(item);
  }
  return [gauge('heap', used, total), classes];
}

// Long-lived slots as table rows; a bitmap slab's slot in use shows as Used.
function renderLeaks(leaks, multiSystem) {
  const list = Array.isArray(leaks) ? leaks : [];
  setText($('leak-count'), list.length);
  const data = list.slice(0, LEAK_ROWS).map(l => {
    const code = l.slab === 'handles' ? M.stateOfLetter(String(l.state || 'U')) : M.USED;
    return [`${M.formatAge(l.age_ms)}${l.since === 'attach' ? '+' : ''}`,
      multiSystem ? `${l.system ?? 0}:${l.slab}` : String(l.slab), String(l.slot), code,
      String(l.owner ?? '—'), l.since === 'attach'];
  });
  const note = list.length > LEAK_ROWS ? `… and ${list.length - LEAK_ROWS} more`
    : list.length ? '' : 'no slot has been in use long enough to list';
  rebuild($('leaks'), JSON.stringify([data, note]), () => {
    const rows = data.map(([age, slab, slot, code, owner, attach]) => {
      const tr = el('tr'), state = el('td');
      state.append(el('span', `legend-dot s-${M.STATES[code].name}`), ` ${M.STATES[code].label}`);
      tr.append(el('td', 'age', age), el('td', '', slab), el('td', '', slot), state, el('td', '', owner));
      if (attach) tr.title = 'in use since before the tracer attached: at least this old';
      return tr;
    });
    if (note) {
      const tr = el('tr'), td = el('td', 'empty', note);
      td.colSpan = 5;
      tr.appendChild(td);
      rows.push(tr);
    }
    return rows;
  });
}

// ---------------------------------------------------------------- dashboard

class Dashboard {
  constructor() {
    this.palette = readPalette();
    this.systems = new Map();
    this.rate = new M.RateMeter();
    this.updates = 0; this.lastUpdateMs = 0; this.status = 'connecting';
    this.doc = null;                          // the last full state, deltas applied
    this.stream = new Stream(STREAM_URL, data => this.onData(data), (s, d) => this.setStatus(s, d),
      data => this.onDelta(data));
    this.initTooltips();
  }

  onData(text) {
    let doc;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      this.showError(`the tracer sent an event that is not JSON (${err.message}); waiting for the next one`);
      return;
    }
    this.doc = doc;
    this.update(doc);
  }

  // A delta applies to the state it follows; one that does not (a gap)
  // restarts the stream, which begins with a full state.
  onDelta(text) {
    try {
      this.doc = M.applyMemoryDelta(this.doc, JSON.parse(text));
    } catch (err) {
      console.log(`valk-trace: ${err.message}; reconnecting for a full state`);
      this.doc = null;
      this.stream.start();
      return;
    }
    this.update(this.doc);
  }

  // Renders one full memory-state document.
  update(doc) {
    const t0 = performance.now();
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
      this.showError('the tracer sent an event that is not a JSON object; waiting for the next one');
      return;
    }
    try {
      this.showError('');
      const ctx = { now: t0, ts: Number(doc.ts_ms) || Date.now(), leaks: M.indexLeaks(doc.leaks), tracer: doc.tracer };
      this.shownTs = ctx.ts;    // the instant the panels show
      this.renderHeader(doc, ctx.ts);
      const groups = M.systemsOf(doc);
      if (groups.length || this.systems.size) this.renderSystems(doc, groups, ctx);
      rebuild($('arenas'), JSON.stringify(doc.arenas ?? null), () => arenaNodes(doc.arenas));
      if (doc.gc && typeof doc.gc === 'object') rebuild($('gc'), JSON.stringify(doc.gc), () => gcNodes(doc.gc));
      renderLeaks(doc.leaks, groups.length > 1);
    } catch (err) {
      this.showError(`could not show this event: ${err.message}`);
    }
    this.updates++;
    this.lastUpdateMs = performance.now() - t0;
  }

  renderSystems(doc, groups, ctx) {
    const host = $('systems');
    if (!this.systems.size) host.replaceChildren();
    const seen = new Set();
    for (const [system, slabs] of groups) {
      seen.add(system);
      let v = this.systems.get(system);
      if (!v) this.systems.set(system, v = new SystemView(host, system, this.palette));
      v.update(slabs, { ...ctx, ownerNames: M.ownerNamesFor(doc, system) });
    }
    for (const [system, v] of this.systems)
      if (!seen.has(system)) { v.destroy(); this.systems.delete(system); }
  }

  renderHeader(doc, ts) {
    const t = doc.target || {}, tr = doc.tracer || {};
    setText($('t-pid'), t.pid ?? doc.pid ?? '--');
    setText($('t-binary'), t.binary !== undefined ? M.elideMiddle(t.binary) : '--');
    $('t-binary').title = t.binary ?? '';
    setText($('t-build'), t.build_id ? String(t.build_id).slice(0, 12) : '--');
    $('t-build').title = t.build_id ?? '';
    setText($('t-uptime'), t.uptime_s !== undefined ? M.formatAge(Number(t.uptime_s) * 1000) : '--');
    setText($('tr-mode'), tr.mode ?? '--');
    const rate = tr.events !== undefined ? this.rate.add(ts, Number(tr.events)) : null;
    setText($('tr-rate'), rate === null ? '--' : M.formatCount(Math.round(rate)));
    setText($('tr-lost'), M.formatCount(tr.lost));
    setText($('tr-resyncs'), M.formatCount(tr.resyncs));
    $('tr-lost').classList.toggle('bad', Number(tr.lost) > 0);
    this.renderOverhead(tr.overhead);
    setText($('seq'), `event ${doc.seq ?? '?'}`);
  }

  // The probes' estimated cost against the budget, and whether the slabs
  // are event-traced or read because of it.
  renderOverhead(ov) {
    const v = M.overheadView(ov), box = $('tr-overhead-box');
    box.hidden = !v;
    if (!v) return;
    setText($('tr-overhead'), v.text);
    setText($('tr-budget'), v.note);
    box.className = `wide overhead ov-${v.level}`;
    box.title = v.title;
  }

  setStatus(status, delay) {
    this.status = status;
    $('sse-dot').classList.toggle('down', status !== 'up');
    document.querySelectorAll('.aio-system .sse-dot').forEach(d => d.classList.toggle('down', status !== 'up'));
    setText($('sse-text'), status === 'up' ? 'live' : status === 'down'
      ? `disconnected, retrying in ${Math.round(delay / 1000)}s` : 'connecting…');
  }

  showError(msg) {
    const bar = $('error');
    setText(bar, msg);
    bar.hidden = !msg;
  }

  // One floating tooltip for the page: elements answer through vtTip(e).
  initTooltips() {
    const tip = $('tip');
    document.addEventListener('mousemove', e => {
      let n = e.target, text = null;
      while (n && n !== document && !n.vtTip) n = n.parentNode;
      if (n && n.vtTip) text = n.vtTip(e);
      if (!text) { tip.hidden = true; return; }
      setText(tip, text);
      tip.hidden = false;
      const x = Math.min(e.clientX + 14, window.innerWidth - tip.offsetWidth - 4);
      const y = e.clientY + 18 + tip.offsetHeight > window.innerHeight ? e.clientY - tip.offsetHeight - 8 : e.clientY + 18;
      tip.style.left = `${Math.max(4, x)}px`;
      tip.style.top = `${y}px`;
    });
    // A click (a zoom) changes what is under the pointer: ask again on the next move.
    document.addEventListener('click', () => { tip.hidden = true; });
    document.addEventListener('mouseleave', () => { tip.hidden = true; });
  }
}

const dash = new Dashboard();
dash.stream.start();
const timeline = new Timeline(dash);

// The page's own API, used by the browser tests and handy from the console.
window.vtDashboard = {
  update: doc => dash.update(doc),
  stop: () => dash.stream.stop(),
  start: () => dash.stream.start(),
  stats: () => ({ updates: dash.updates, lastUpdateMs: dash.lastUpdateMs, status: dash.status, shownTs: dash.shownTs }),
};
window.vtTimeline = {
  history: () => timeline.h,
  state: () => ({ index: timeline.index, shown: timeline.shown }),
  show: i => timeline.show(i),
  step: d => timeline.step(d),
  live: () => timeline.live(),
};
