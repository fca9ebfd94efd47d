// timeline.js — time travel: a timeline of slots in use per slab over the
// history the tracer keeps (/api/history: the last minutes of a live
// trace, or a whole recording in replay), with pause, scrub, one tick back
// or forward, jumps to the moments that matter, and "live" to return to
// the stream. While away from live every panel shows the state of the
// chosen tick (/api/diagnostics/memory?at=T).

const HISTORY_URL = '/api/history';
const REFRESH_MS = 2000;
const SLOT_CHANGES = 8;      // lines of a slot's history in its tooltip
const MARK_LABEL = {
  peak: m => `${m.slab} peak: ${m.used} in use`,
  overflow: m => `${m.slab} overflow ×${m.count}`,
  lost: m => `${m.count} events lost`,
  gap: m => `recording gap: ${m.ticks} ticks missing`,
  leak: m => `leak suspect ${m.slab}[${m.slot}] acquired`,
};

const $ = id => document.getElementById(id);

// The tick of `ticks` (ascending wall ms) nearest to t.
export function nearestTick(ticks, t) {
  let lo = 0, hi = ticks.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (ticks[mid] <= t) lo = mid; else hi = mid;
  }
  return Math.abs(ticks[hi] - t) < Math.abs(ticks[lo] - t) ? hi : lo;
}

// The first tick of `ticks` at or after t (the last when none is): where a
// moment shows, a leak's acquire between two ticks included.
export function tickFrom(ticks, t) {
  let lo = 0, hi = ticks.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ticks[mid] >= t) hi = mid; else lo = mid + 1;
  }
  return lo;
}

export function offsetText(ms) {
  return `${ms < 0 ? '-' : '+'}${(Math.abs(ms) / 1000).toFixed(1)} s`;
}

// The tooltip's lines from /api/history/slot: the newest SLOT_CHANGES of
// the slot's acquires, releases and state changes at their events' times,
// "…" first when there are older ones than it shows or the tracer scanned.
function stateText(c) {
  return `${c.state}${c.owner ? ` owner ${c.owner}` : ''}`;
}

function changeText(c, t0) {
  if (c.event === 'start')
    return c.state === 'F' ? 'free'
      : `in use since ${offsetText(c.since - t0)}: ${stateText(c)}`;
  if (c.event === 'released') return 'released';
  return c.event === 'acquired' ? `acquired: ${stateText(c)}` : stateText(c);
}

export function slotHistoryText(doc, t0) {
  const shown = doc.changes.slice(-SLOT_CHANGES);
  const lines = shown.map(c => `${offsetText(c.t - t0)} ${changeText(c, t0)}`);
  const older = doc.changes.length - shown.length + (doc.dropped || 0);
  if (older || doc.cut)
    lines.unshift(`… ${older ? `${older} older changes` : 'older history not scanned'}`);
  return lines.join('\n');
}

export class Timeline {
  constructor(dash) {
    this.dash = dash;
    this.h = null;           // the last /api/history
    this.index = -1;         // the tick shown; -1: live
    this.slotCache = new Map();
    this.slotRetryAt = 0;   // a refused ask (429): none before then
    this.root = $('timeline');
    this.canvas = $('tl-canvas');
    this.ctx = this.canvas.getContext('2d');
    $('tl-pause').addEventListener('click', () => this.pause());
    $('tl-back').addEventListener('click', () => this.step(-1));
    $('tl-fwd').addEventListener('click', () => this.step(1));
    $('tl-live').addEventListener('click', () => this.live());
    $('tl-jump').addEventListener('change', e => this.jump(e.target.value));
    let dragging = false;
    this.canvas.addEventListener('pointerdown', e => { dragging = true; this.scrubTo(e); });
    this.canvas.addEventListener('pointermove', e => { if (dragging) this.scrubTo(e); });
    window.addEventListener('pointerup', () => { dragging = false; });
    new ResizeObserver(() => this.draw()).observe(this.canvas);
    this.refresh();
    setInterval(() => this.refresh(), REFRESH_MS);
  }

  async refresh() {
    let h;
    try {
      const r = await fetch(HISTORY_URL);
      if (!r.ok) { this.root.hidden = true; return; }
      h = await r.json();
    } catch { return; }
    if (!h.ticks || !h.ticks.length) return;
    // a live history drops its oldest ticks: stay at the same instant
    const at = this.index >= 0 ? this.h.ticks[this.index] : null;
    this.h = h;
    if (at !== null) this.index = nearestTick(h.ticks, at);
    this.slotCache.clear();
    this.root.hidden = false;
    this.fillJumps();
    this.label();
    this.draw();
  }

  fillJumps() {
    const sel = $('tl-jump'), t0 = this.h.ticks[0];
    const opts = [new Option('jump to…', '')];
    this.h.marks.slice().sort((a, b) => a.t - b.t).forEach(m => {
      const label = (MARK_LABEL[m.kind] || (() => m.kind))(m);
      opts.push(new Option(`${offsetText(m.t - t0)} ${label}`, String(m.t)));
    });
    sel.replaceChildren(...opts);
  }

  // ---- moving in time

  async show(i) {
    const ticks = this.h.ticks;
    i = Math.max(0, Math.min(ticks.length - 1, i));
    if (this.index < 0) this.dash.stream.stop();
    this.index = i;
    this.label();
    this.draw();
    const r = await fetch(`/api/diagnostics/memory?at=${ticks[i]}`);
    if (!r.ok || this.index !== i) return;
    this.dash.update(await r.json());
    this.shown = ticks[i];
  }
  // The tick shown, or while live the one the panels show (in a replay
  // the history holds ticks still to come).
  current() {
    if (this.index >= 0) return this.index;
    const ts = this.dash.shownTs;
    return ts === undefined ? this.h.ticks.length - 1 : nearestTick(this.h.ticks, ts);
  }
  pause() {
    if (this.h && this.index < 0) this.show(this.current());
  }
  step(d) {
    if (this.h) this.show(this.current() + d);
  }
  jump(t) {
    if (t !== '' && this.h) this.show(tickFrom(this.h.ticks, Number(t)));
    $('tl-jump').value = '';
  }
  live() {
    this.index = -1;
    this.shown = undefined;
    this.dash.stream.start();
    this.label();
    this.draw();
  }
  scrubTo(e) {
    if (!this.h) return;
    const r = this.canvas.getBoundingClientRect(), ticks = this.h.ticks;
    const t = ticks[0] + (e.clientX - r.left) / r.width * (ticks[ticks.length - 1] - ticks[0]);
    this.show(nearestTick(ticks, t));
  }

  label() {
    const ticks = this.h.ticks, t0 = ticks[0];
    const span = offsetText(ticks[ticks.length - 1] - t0);
    $('tl-when').textContent = this.index < 0
      ? `${this.h.live ? 'live' : 'replay'} · history ${span}`
      : `paused at ${offsetText(ticks[this.index] - t0)} of ${span} (tick ${this.index + 1}/${ticks.length})`;
    $('tl-live').disabled = this.index < 0;
    this.root.classList.toggle('paused', this.index >= 0);
  }

  // ---- drawing: used/total per slab, marks above, the cursor

  draw() {
    const h = this.h, c = this.canvas;
    if (!h || this.root.hidden) return;
    const w = c.width = c.clientWidth * devicePixelRatio, ht = c.height = c.clientHeight * devicePixelRatio;
    const ctx = this.ctx, ticks = h.ticks, n = ticks.length;
    const span = Math.max(1, ticks[n - 1] - ticks[0]);
    const x = t => (t - ticks[0]) / span * (w - 2) + 1;
    const css = getComputedStyle(this.root);
    const top = 10 * devicePixelRatio;
    ctx.clearRect(0, 0, w, ht);
    h.slabs.forEach((s, k) => {
      ctx.strokeStyle = css.getPropertyValue(`--tl-${k % 5}`) || '#888';
      ctx.lineWidth = devicePixelRatio;
      ctx.beginPath();
      s.used.forEach((u, i) => {
        const y = ht - 1 - (s.total ? u / s.total : 0) * (ht - top - 2);
        if (i) ctx.lineTo(x(ticks[i]), y); else ctx.moveTo(x(ticks[i]), y);
      });
      ctx.stroke();
    });
    for (const m of h.marks) {
      ctx.fillStyle = css.getPropertyValue(`--tl-mark-${m.kind}`) || '#c00';
      ctx.fillRect(x(m.t) - devicePixelRatio, 0, 2 * devicePixelRatio, top - 2);
    }
    if (this.index >= 0) {
      ctx.fillStyle = css.getPropertyValue('--tl-cursor') || '#000';
      ctx.fillRect(x(ticks[this.index]) - devicePixelRatio, 0, 2 * devicePixelRatio, ht);
    }
  }

  // ---- a slot's history, for its tooltip: cached, fetched on first ask;
  // a refused ask (the tracer limits the scans: 429) is asked again on a
  // hover after its Retry-After

  slotHistory(system, slab, slot) {
    if (!this.h) return null;
    const key = `${system}/${slab}/${slot}`;
    if (this.slotCache.has(key)) return this.slotCache.get(key);
    if (Date.now() < this.slotRetryAt) return null;
    this.slotCache.set(key, null);
    fetch(`/api/history/slot?system=${system}&slab=${encodeURIComponent(slab)}&slot=${slot}`)
      .then(r => {
        if (r.status === 429) {
          this.slotCache.delete(key);
          this.slotRetryAt = Date.now() + 1000 * (Number(r.headers.get('Retry-After')) || 1);
        }
        return r.ok ? r.json() : null;
      })
      .then(d => { if (d) this.slotCache.set(key, slotHistoryText(d, this.h.ticks[0])); })
      .catch(() => {});
    return null;
  }
}
