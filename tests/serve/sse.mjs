// SSE test client for valk-trace's serving: HTTP/1.1 (node:http) and
// cleartext HTTP/2 by prior knowledge (node:http2), an SSE parser that
// records everything the wire carries, validators for both dialects of the
// wire contract, the valk dialect's delta application (as the runtime's
// dashboard does it), comparison against the stand-in runtime's ground
// truth, and a few raw HTTP/2 helpers for what no polite client sends.
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import fs from 'node:fs';
import { applyMemoryDelta } from '../../web/model.js';

export const SLAB_ORDER = ['tcp_buffers', 'handles', 'stream_arenas', 'http_servers', 'http_clients'];
export const STATE_LETTERS = 'FNAICTKMU';
export const CONN_LETTERS = ['A', 'I', 'C', 'N'];

let failures = 0;
export function ok(msg) { console.log(`ok: ${msg}`); }
export function fail(msg) { failures++; console.log(`FAIL: ${msg}`); }
export function check(cond, msg, detail) {
	if (cond) ok(msg); else fail(detail ? `${msg}: ${detail}` : msg);
	return !!cond;
}
export function failureCount() { return failures; }
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function parseArgs(argv) {
	const a = {};
	for (let i = 0; i < argv.length; i++) {
		const k = argv[i];
		if (!k.startsWith('--')) continue;
		const v = argv[i + 1] !== undefined && !argv[i + 1].startsWith('--') ? argv[++i] : 'true';
		a[k.slice(2)] = v;
	}
	return a;
}

// Resolves once `file` exists (the shell's cue), polling.
export async function waitFile(file, timeoutMs) {
	const end = Date.now() + timeoutMs;
	while (Date.now() < end) {
		if (fs.existsSync(file)) return true;
		await sleep(50);
	}
	return false;
}

/* ---- SSE parsing ---- */

// Feeds body text; records the first line, events (with arrival times),
// comments and every framing violation.
export class SSEParser {
	constructor(onEvent) {
		this.buf = '';
		this.firstLine = null;
		this.events = [];
		this.comments = [];
		this.errors = [];
		this.retry = [];
		this.cur = null;
		this.onEvent = onEvent;
		this.bytes = 0;
	}

	feed(text) {
		this.bytes += text.length;
		this.buf += text;
		let nl;
		while ((nl = this.buf.indexOf('\n')) >= 0) {
			let line = this.buf.slice(0, nl);
			this.buf = this.buf.slice(nl + 1);
			if (line.endsWith('\r')) line = line.slice(0, -1);
			this.line(line);
		}
	}

	line(line) {
		if (this.firstLine === null) this.firstLine = line;
		if (line === '') {
			if (this.cur) this.dispatch();
			return;
		}
		if (line.startsWith(':')) {
			this.comments.push({ text: line, t: Date.now() });
			return;
		}
		const colon = line.indexOf(':');
		const field = colon < 0 ? line : line.slice(0, colon);
		let value = colon < 0 ? '' : line.slice(colon + 1);
		if (value.startsWith(' ')) value = value.slice(1);
		if (field === 'retry') {
			this.retry.push(value);
			return;
		}
		if (!this.cur) this.cur = { event: null, id: null, data: [], ids: 0 };
		if (field === 'event') this.cur.event = value;
		else if (field === 'id') { this.cur.id = value; this.cur.ids++; }
		else if (field === 'data') this.cur.data.push(value);
		else this.errors.push(`unknown field '${field}'`);
	}

	dispatch() {
		const e = this.cur;
		this.cur = null;
		const ev = { event: e.event ?? 'message', idText: e.id, id: e.id === null ? NaN : Number(e.id), t: Date.now() };
		if (e.id === null) this.errors.push(`event '${ev.event}' without id`);
		else if (!/^[0-9]+$/.test(e.id)) this.errors.push(`event '${ev.event}' id '${e.id}' is not a decimal number`);
		if (e.ids > 1) this.errors.push(`event ${e.id} has ${e.ids} id lines`);
		if (e.data.length !== 1) this.errors.push(`event ${e.id} '${ev.event}' has ${e.data.length} data lines (one JSON document per data line)`);
		ev.data = e.data.join('\n');
		try {
			ev.doc = JSON.parse(ev.data);
		} catch (err) {
			ev.doc = undefined;
			this.errors.push(`event ${e.id} '${ev.event}': data is not JSON: ${String(err).slice(0, 80)}`);
		}
		this.events.push(ev);
		if (this.onEvent) this.onEvent(ev);
	}
}

/* ---- streams ---- */

// An SSE subscription. proto 'h1' or 'h2'; for h2 an existing session may
// be shared (opts.session). Records status, headers, parsed stream, close.
export class SSEStream {
	constructor({ port, path, proto, headers = {}, session, onEvent, keepEvents = true, name }) {
		this.port = port;
		this.path = path;
		this.proto = proto;
		this.name = name || `${proto} ${path}`;
		this.status = null;
		this.headers = null;
		this.closed = false;
		this.closeT = null;
		this.error = null;
		this.parser = new SSEParser((ev) => {
			if (onEvent) onEvent(ev, this);
			if (!keepEvents) { ev.data = undefined; ev.doc = undefined; }
		});
		this.decoder = new TextDecoder('utf-8');
		this.opened = new Promise((resolve) => { this._opened = resolve; });
		if (proto === 'h1') this.openH1(headers);
		else this.openH2(headers, session);
	}

	get events() { return this.parser.events; }

	onData(chunk) { this.parser.feed(this.decoder.decode(chunk, { stream: true })); }

	onClose() {
		if (this.closed) return;
		this.closed = true;
		this.closeT = Date.now();
		this._opened(false);
	}

	openH1(headers) {
		this.req = http.get({ host: '127.0.0.1', port: this.port, path: this.path, headers, agent: false }, (res) => {
			this.res = res;
			this.status = res.statusCode;
			this.headers = res.headers;
			this.rawHeaders = res.rawHeaders;
			this.httpVersion = res.httpVersion;
			this._opened(true);
			res.on('data', (c) => this.onData(c));
			res.on('end', () => this.onClose());
			res.on('close', () => this.onClose());
			res.on('error', (e) => { this.error = e; this.onClose(); });
		});
		this.req.on('error', (e) => { this.error = e; this.onClose(); });
	}

	openH2(headers, session) {
		this.ownSession = !session;
		this.session = session || http2.connect(`http://127.0.0.1:${this.port}`);
		if (this.ownSession) this.session.on('error', (e) => { this.error = e; this.onClose(); });
		this.stream = this.session.request({ ':method': 'GET', ':path': this.path, ...headers });
		this.stream.on('response', (h) => {
			this.status = h[':status'];
			this.headers = h;
			this._opened(true);
		});
		this.stream.on('data', (c) => this.onData(c));
		this.stream.on('end', () => this.onClose());
		this.stream.on('close', () => this.onClose());
		this.stream.on('error', (e) => { this.error = e; this.onClose(); });
	}

	close() {
		if (this.proto === 'h1') {
			this.req.destroy();
		} else {
			try { this.stream.close(); } catch { /* closed */ }
			if (this.ownSession) this.session.destroy();
		}
		this.onClose();
	}
}

/* ---- generic stream checks ---- */

// The contract's SSE response head.
export function checkSSEHead(s) {
	const h = s.headers || {};
	const probs = [];
	if (Number(s.status) !== 200) probs.push(`status ${s.status}`);
	if (h['content-type'] !== 'text/event-stream; charset=utf-8') probs.push(`content-type '${h['content-type']}'`);
	if (h['cache-control'] !== 'no-cache') probs.push(`cache-control '${h['cache-control']}'`);
	if (h['x-accel-buffering'] !== 'no') probs.push(`x-accel-buffering '${h['x-accel-buffering']}'`);
	if (h['content-encoding']) probs.push(`content-encoding '${h['content-encoding']}'`);
	if (h['content-length'] !== undefined) probs.push(`content-length on a stream`);
	return probs;
}

// Framing of what arrived: first line retry: 1000, ids on every event,
// one JSON data line per event, ids +1 each (from `from` on).
export function checkFraming(s) {
	const p = s.parser, probs = [...p.errors];
	if (p.firstLine !== 'retry: 1000') probs.push(`first line '${p.firstLine}' (want 'retry: 1000')`);
	if (p.retry.length !== 1) probs.push(`${p.retry.length} retry lines`);
	probs.push(...idGaps(p.events));
	return probs;
}

export function idGaps(events) {
	const probs = [];
	for (let i = 1; i < events.length; i++) {
		if (events[i].id !== events[i - 1].id + 1)
			probs.push(`id ${events[i].id} follows ${events[i - 1].id}`);
	}
	return probs.slice(0, 10);
}

// Largest time between consecutive events (ms), from event index `from`.
export function maxGap(events, from = 0, to = events.length) {
	let g = 0;
	for (let i = from + 1; i < to; i++) g = Math.max(g, events[i].t - events[i - 1].t);
	return g;
}

/* ---- encodings ---- */

export function rleDecode(s) {
	let out = '';
	const re = /([A-Za-z])([0-9]*)/y;
	let i = 0;
	while (i < s.length) {
		re.lastIndex = i;
		const m = re.exec(s);
		if (!m) throw new Error(`bad RLE at ${i}: '${s.slice(i, i + 10)}'`);
		out += m[1].repeat(m[2] === '' ? 1 : Number(m[2]));
		i = re.lastIndex;
	}
	return out;
}

// The RLE the runtime writes: every run as <char><count>, count always.
export function rleIsCanonical(s) {
	if (!/^([A-Z][1-9][0-9]*)*$/.test(s)) return false;
	const chars = s.replace(/[0-9]/g, '');
	for (let i = 1; i < chars.length; i++) if (chars[i] === chars[i - 1]) return false;
	return true;
}

// delta_states: "offset:RLE,offset:RLE" onto the expanded states.
export function applyDeltaStates(states, delta) {
	const a = states.split('');
	for (const seg of delta.split(',')) {
		const c = seg.indexOf(':');
		if (c < 1) throw new Error(`bad delta segment '${seg}'`);
		const off = Number(seg.slice(0, c));
		if (!Number.isInteger(off) || !/^[0-9]+$/.test(seg.slice(0, c))) throw new Error(`bad offset in '${seg}'`);
		const run = rleDecode(seg.slice(c + 1));
		if (off + run.length > a.length) throw new Error(`segment '${seg.slice(0, 40)}' runs past ${a.length} slots`);
		for (let i = 0; i < run.length; i++) a[off + i] = run[i];
	}
	return a.join('');
}

// The valk dialect's bitmap: "hh" / "hh*count" comma segments -> bytes.
export function segmentsDecode(s) {
	const out = [];
	if (s === '') return out;
	for (const seg of s.split(',')) {
		const m = /^([0-9a-fA-F]{2})(?:\*([0-9]+))?$/.exec(seg);
		if (!m) throw new Error(`bad bitmap segment '${seg}'`);
		const v = parseInt(m[1], 16), n = m[2] === undefined ? 1 : Number(m[2]);
		for (let i = 0; i < n; i++) out.push(v);
	}
	return out;
}

// The memory dialect's bitmap: two lower-case hex digits per byte.
export function hexDecode(s) {
	if (!/^([0-9a-f]{2})*$/.test(s)) throw new Error(`bad hex bitmap '${s.slice(0, 40)}'`);
	const out = [];
	for (let i = 0; i < s.length; i += 2) out.push(parseInt(s.slice(i, i + 2), 16));
	return out;
}

export function bytesHex(b) { return b.map((v) => v.toString(16).padStart(2, '0')).join(''); }

export function popcount(bytes) {
	let n = 0;
	for (let v of bytes) for (; v; v >>= 1) n += v & 1;
	return n;
}

// Problems of a bitmap for a slab of `total` slots with `used` in use.
export function bitmapProblems(bytes, total, used, where) {
	const probs = [];
	if (bytes.length !== Math.ceil(total / 8)) probs.push(`${where}: bitmap has ${bytes.length} bytes for ${total} slots`);
	for (let i = total; i < bytes.length * 8; i++)
		if (bytes[i >> 3] >> (i & 7) & 1) { probs.push(`${where}: bit ${i} past total ${total} is set`); break; }
	if (popcount(bytes) !== used) probs.push(`${where}: bitmap has ${popcount(bytes)} slots in use, used=${used}`);
	return probs;
}

export function letterCounts(states) {
	const c = {};
	for (const ch of states) c[ch] = (c[ch] || 0) + 1;
	return c;
}

// Problems of a handle state string.
export function statesProblems(states, total, used, where) {
	const probs = [];
	if (typeof states !== 'string') return [`${where}: states is not a string`];
	if (states.length !== total) probs.push(`${where}: ${states.length} states for ${total} slots`);
	const bad = [...new Set(states)].filter((ch) => !STATE_LETTERS.includes(ch));
	if (bad.length) probs.push(`${where}: unknown state letters ${bad.join('')}`);
	const inUse = states.length - (letterCounts(states).F || 0);
	if (inUse !== used) probs.push(`${where}: ${inUse} slots not F, used=${used}`);
	return probs;
}

const isInt = (v) => Number.isInteger(v) && v >= 0;
const isNum = (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0;

function needKeys(o, keys, pred, where, probs) {
	if (!o || typeof o !== 'object' || Array.isArray(o)) { probs.push(`${where}: not an object`); return false; }
	for (const k of keys) if (!pred(o[k])) probs.push(`${where}.${k} = ${JSON.stringify(o[k])}`);
	return true;
}

// by_owner {"<idx>"|"?": {A,I,C,N}} against the connection letters.
// Keys that are owner indices the client's owner_map does not name go to
// `unnamed` when given (the valk dialect reports them apart).
function byOwnerProblems(byOwner, states, nowners, where, unnamed) {
	const probs = [];
	if (!byOwner || typeof byOwner !== 'object') return [`${where}: by_owner missing`];
	const sum = { A: 0, I: 0, C: 0, N: 0 };
	for (const [k, v] of Object.entries(byOwner)) {
		if (k !== '?' && !/^[0-9]+$/.test(k)) probs.push(`${where}: by_owner key '${k}'`);
		else if (k !== '?' && Number(k) >= nowners)
			(unnamed || probs).push(`${where}: by_owner key '${k}' but the owner_map the client holds names ${nowners} owners`);
		needKeys(v, CONN_LETTERS, isInt, `${where}.by_owner["${k}"]`, probs);
		if (CONN_LETTERS.every((l) => v[l] === 0)) probs.push(`${where}: by_owner["${k}"] is all zero`);
		for (const l of CONN_LETTERS) sum[l] += v?.[l] || 0;
	}
	const lc = letterCounts(states);
	for (const l of CONN_LETTERS)
		if (sum[l] !== (lc[l] || 0)) probs.push(`${where}: by_owner counts ${sum[l]} ${l}, states hold ${lc[l] || 0}`);
	return probs;
}

/* ---- the memory dialect ---- */

export function memoryEventProblems(ev, ctx) {
	const d = ev.doc, probs = [];
	const w = `memory id ${ev.id}`;
	if (ev.event !== 'memory') probs.push(`${w}: event name '${ev.event}'`);
	if (!d || typeof d !== 'object') return [...probs, `${w}: no JSON object`];
	if (d.seq !== ev.id) probs.push(`${w}: seq ${d.seq} != id`);
	if (ctx.pid !== undefined && d.pid !== ctx.pid) probs.push(`${w}: pid ${d.pid}, want ${ctx.pid}`);
	// stamped by the tracer's wall clock, this machine's: after the target
	// was started (when the test says when) and not after it arrived
	if (!isInt(d.ts_ms) || d.ts_ms > ev.t || (ctx.simStartMs && d.ts_ms < ctx.simStartMs))
		probs.push(`${w}: ts_ms ${d.ts_ms}, arrival ${ev.t}, target started ${ctx.simStartMs}`);
	for (const k of ['slabs', 'arenas', 'owner_map', 'leaks']) if (!Array.isArray(d[k])) probs.push(`${w}: ${k} is not an array`);
	if (probs.length) return probs;
	if (!d.owner_map.every((n) => typeof n === 'string')) probs.push(`${w}: owner_map ${JSON.stringify(d.owner_map)}`);
	const maps = Array.isArray(d.owner_maps) ? d.owner_maps : [d.owner_map];
	const seen = new Set();
	for (const [i, s] of d.slabs.entries()) {
		const sw = `${w} slabs[${i}] ${s?.name}/${s?.system}`;
		needKeys(s, ['system', 'total', 'used', 'hwm', 'overflow', 'acquires', 'releases'], isInt, sw, probs);
		if (!SLAB_ORDER.includes(s.name)) probs.push(`${sw}: unknown slab name`);
		if (seen.has(`${s.name}/${s.system}`)) probs.push(`${sw}: listed twice`);
		seen.add(`${s.name}/${s.system}`);
		if (s.used > s.total || s.hwm < s.used || s.hwm > s.total) probs.push(`${sw}: used ${s.used} hwm ${s.hwm} total ${s.total}`);
		if (s.name === 'handles') {
			if ('bitmap' in s) probs.push(`${sw}: handles carry a bitmap`);
			probs.push(...statesProblems(s.states, s.total, s.used, sw));
			const lc = letterCounts(s.states || '');
			if (JSON.stringify(Object.entries(s.summary || {}).sort()) !== JSON.stringify(Object.entries(lc).sort()))
				probs.push(`${sw}: summary ${JSON.stringify(s.summary)} != letters ${JSON.stringify(lc)}`);
			probs.push(...byOwnerProblems(s.by_owner, s.states || '', (maps[s.system] || []).length, sw));
		} else {
			if ('states' in s) probs.push(`${sw}: non-handle slab carries states`);
			try { probs.push(...bitmapProblems(hexDecode(s.bitmap), s.total, s.used, sw)); } catch (e) { probs.push(`${sw}: ${e.message}`); }
		}
	}
	for (const [i, a] of d.arenas.entries()) {
		needKeys(a, ['capacity', 'used', 'hwm', 'overflow', 'overflow_bytes'], isInt, `${w} arenas[${i}]`, probs);
		if (typeof a.name !== 'string' || !/^(scratch|stream_arena\/[0-9]+)$/.test(a.name)) probs.push(`${w} arenas[${i}]: name ${JSON.stringify(a.name)}`);
	}
	if (needKeys(d.gc, ['heap_used_bytes', 'heap_total_bytes'], isInt, `${w} gc`, probs)) {
		if (!Array.isArray(d.gc.size_classes)) probs.push(`${w}: gc.size_classes not an array`);
		else d.gc.size_classes.forEach((c, i) => needKeys(c, ['size', 'used', 'total'], isInt, `${w} gc.size_classes[${i}]`, probs));
	}
	let lastAge = Infinity;
	for (const [i, l] of d.leaks.entries()) {
		const lw = `${w} leaks[${i}]`;
		needKeys(l, ['slot', 'age_ms'], isInt, lw, probs);
		if (!SLAB_ORDER.includes(l.slab)) probs.push(`${lw}: slab ${l.slab}`);
		if (typeof l.state !== 'string' || !STATE_LETTERS.includes(l.state)) probs.push(`${lw}: state ${l.state}`);
		if (!('owner' in l)) probs.push(`${lw}: no owner key`);
		if (l.age_ms > lastAge) probs.push(`${lw}: not oldest first`);
		lastAge = l.age_ms;
	}
	if (d.leaks.length > 100) probs.push(`${w}: ${d.leaks.length} leaks (at most 100)`);
	const t = d.tracer;
	if (needKeys(t, ['attached_ms', 'events', 'lost', 'resyncs'], isInt, `${w} tracer`, probs)) {
		if (!['hybrid', 'events', 'sample'].includes(t.mode)) probs.push(`${w}: tracer.mode ${t.mode}`);
		if (!Array.isArray(t.probes) || !t.probes.every((p) => typeof p.name === 'string' && isInt(p.hits)))
			probs.push(`${w}: tracer.probes ${JSON.stringify(t.probes).slice(0, 80)}`);
	}
	return probs;
}

/* ---- the valk dialect ---- */

const BREAKDOWN = ['gc_used', 'gc_cap', 'aio_used', 'aio_cap', 'scratch_used', 'scratch_cap',
	'ssl_used', 'nghttp2_used', 'libuv_used'];
const CONN_KEYS = ['total', 'active', 'idle', 'closing', 'connecting'];

function connectionsProblems(c, states, where) {
	const probs = [];
	if (!needKeys(c, CONN_KEYS, isInt, where, probs)) return probs;
	const lc = letterCounts(states);
	const want = { active: lc.A || 0, idle: lc.I || 0, closing: lc.C || 0, connecting: lc.N || 0 };
	want.total = want.active + want.idle + want.closing + want.connecting;
	for (const k of CONN_KEYS) if (c[k] !== want[k]) probs.push(`${where}.${k} = ${c[k]}, handle states say ${want[k]}`);
	return probs;
}

// The client-side picture of a memory-dialect stream, built the way
// valk-trace's dashboard builds it (web/model.js itself): a full `memory`
// event replaces it, a `memory-delta` patches it. apply returns the
// problems of the event and of the picture after it (ctx.checkEvery N:
// the whole picture is checked after every Nth event only).
export class MemoryModel {
	constructor(ctx = {}) {
		this.ctx = ctx;
		this.checkEvery = ctx.checkEvery || 1;
		this.applied = 0;
		this.doc = null;
		this.deltas = 0;
	}

	apply(ev) {
		if (ev.event === 'memory-delta') {
			try {
				this.doc = applyMemoryDelta(this.doc, ev.doc);
				this.deltas++;
			} catch (e) {
				this.doc = null;
				return [`memory id ${ev.id}: ${e.message}`];
			}
		} else {
			this.doc = ev.doc;
		}
		if (++this.applied % this.checkEvery) return [];
		return memoryEventProblems({ ...ev, event: 'memory', doc: this.doc }, this.ctx);
	}
}

// The client-side picture of a valk-dialect stream, built the way the
// runtime's dashboard builds it: full events replace it, deltas patch it.
export class ValkModel {
	// ctx.checkEvery N: the invariants of the whole picture are checked
	// after every Nth event only (deltas are still applied to all).
	constructor(ctx = {}) {
		this.ctx = ctx;
		this.checkEvery = ctx.checkEvery || 1;
		this.applied = 0;
		this.slabs = null;	// name -> {used,total,hwm,overflow,states|bytes,by_owner}
		this.ownerMap = [];
		this.connections = null;
		this.gcUsed = null;
		this.fulls = 0;
		this.deltas = 0;
		this.heartbeats = 0;
		this.unnamed = [];	// owner indices used by deltas past the owner_map held
		this.uptime = null;	// the last full state's registry uptime, s
		this.up = null;		// the last delta's process uptime, s
	}

	// Applies one event; returns the problems found in it.
	apply(ev) {
		const w = `valk id ${ev.id} ${ev.event}`;
		const d = ev.doc;
		if (!d || typeof d !== 'object') return [`${w}: no JSON object`];
		if (ev.event === 'diagnostics') return this.full(d, w);
		if (ev.event !== 'diagnostics-delta') return [`${w}: unexpected event name`];
		if (!this.slabs) return [`${w}: a delta before any full state`];
		if (d.heartbeat === true) {
			this.heartbeats++;
			return Object.keys(d).length === 1 ? [] : [`${w}: heartbeat with more keys: ${Object.keys(d)}`];
		}
		return this.delta(d, w);
	}

	full(d, w) {
		const probs = [];
		const m = d.metrics, mem = d.memory;
		if (!m || !mem) return [`${w}: metrics/memory missing`];
		// metrics: aio (the dashboard's system panel), modular, vm, registry
		const aio = m.aio;
		if (!aio) probs.push(`${w}: metrics.aio missing`);
		else {
			// the registry's uptime: positive, never going back, and never
			// above the process's at a later tick (the deltas' aio.up, see
			// delta()): the registry starts after its process
			if (!isNum(aio.uptime_seconds) || !(aio.uptime_seconds > 0) ||
			    (this.uptime !== null && aio.uptime_seconds < this.uptime))
				probs.push(`${w}: metrics.aio.uptime_seconds ${aio.uptime_seconds} (the full state before said ${this.uptime})`);
			else this.uptime = aio.uptime_seconds;
			for (const k of ['counters', 'gauges', 'histograms']) if (!Array.isArray(aio[k])) probs.push(`${w}: metrics.aio.${k} not an array`);
		}
		for (const k of ['counters', 'gauges', 'histograms']) if (!Array.isArray(m.modular?.[k])) probs.push(`${w}: metrics.modular.${k} not an array`);
		if (!m.vm || typeof m.vm.gc !== 'object') probs.push(`${w}: metrics.vm.gc missing`);
		else needKeys(m.vm.gc, ['heap_used_bytes', 'heap_total_bytes'], isInt, `${w} metrics.vm.gc`, probs);
		if (!m.registry || typeof m.registry !== 'object') probs.push(`${w}: metrics.registry missing`);
		// memory
		if (!Array.isArray(mem.slabs)) return [...probs, `${w}: memory.slabs not an array`];
		const names = mem.slabs.map((s) => s.name);
		const order = SLAB_ORDER.filter((n) => names.includes(n));
		if (JSON.stringify(names) !== JSON.stringify(order)) probs.push(`${w}: slab order ${names}`);
		if (!Array.isArray(mem.owner_map) || !mem.owner_map.every((n) => typeof n === 'string' || n === null))
			probs.push(`${w}: memory.owner_map ${JSON.stringify(mem.owner_map)}`);
		this.ownerMap = mem.owner_map || [];
		const slabs = {};
		for (const s of mem.slabs) {
			const sw = `${w} ${s.name}`;
			needKeys(s, ['used', 'total', 'hwm', 'overflow'], isInt, sw, probs);
			const x = { used: s.used, total: s.total, hwm: s.hwm, overflow: s.overflow };
			if (s.name === 'handles') {
				if (typeof s.states !== 'string' || !rleIsCanonical(s.states)) probs.push(`${sw}: states not <char><count> RLE: '${String(s.states).slice(0, 40)}'`);
				try { x.states = rleDecode(String(s.states)); } catch (e) { probs.push(`${sw}: ${e.message}`); x.states = ''; }
				if (!s.summary || typeof s.summary.by_owner !== 'object') probs.push(`${sw}: summary.by_owner missing`);
				x.by_owner = s.summary?.by_owner || {};
			} else {
				try { x.bytes = segmentsDecode(String(s.bitmap)); } catch (e) { probs.push(`${sw}: ${e.message}`); x.bytes = []; }
			}
			slabs[s.name] = x;
		}
		this.slabs = slabs;
		if (!Array.isArray(mem.arenas)) probs.push(`${w}: memory.arenas not an array`);
		else mem.arenas.forEach((a, i) => {
			if (typeof a.name !== 'string') probs.push(`${w}: arenas[${i}].name`);
			needKeys(a, ['used', 'capacity', 'hwm', 'overflow'], isInt, `${w} arenas[${i}]`, probs);
		});
		this.arenas = mem.arenas;
		if (needKeys(mem.gc, ['heap_used_bytes', 'heap_total_bytes'], isInt, `${w} memory.gc`, probs)) {
			this.gcUsed = mem.gc.heap_used_bytes;
			this.gcTotal = mem.gc.heap_total_bytes;
			this.sizeClasses = mem.gc.size_classes;
			if (!Array.isArray(mem.gc.size_classes)) probs.push(`${w}: memory.gc.size_classes not an array`);
		}
		if (needKeys(mem.process, ['rss', 'vms', 'system_total'], isInt, `${w} memory.process`, probs) &&
		    !(mem.process.rss > 0 && mem.process.vms >= mem.process.rss && mem.process.system_total > mem.process.rss))
			probs.push(`${w}: memory.process ${JSON.stringify(mem.process)}`);
		needKeys(mem.breakdown, BREAKDOWN, isInt, `${w} memory.breakdown`, probs);
		this.connections = aio?.connections;
		this.metrics = structuredClone(m);
		this.breakdown = mem.breakdown;
		this.process = mem.process;
		this.fulls++;
		probs.push(...this.invariants(w, true));
		return probs;
	}

	delta(d, w) {
		const probs = [];
		const mem = d.memory;
		if (!mem || !Array.isArray(mem.slabs)) return [`${w}: memory.slabs missing`];
		for (const s of mem.slabs) {
			const sw = `${w} ${s.name}`;
			const x = this.slabs[s.name];
			if (!x) { probs.push(`${sw}: slab not in the last full state`); continue; }
			needKeys(s, ['used', 'hwm', 'overflow'], isInt, sw, probs);
			x.used = s.used; x.hwm = s.hwm; x.overflow = s.overflow;
			if ('delta_states' in s) {
				if (!('states' in x)) probs.push(`${sw}: delta_states for a bitmap slab`);
				else try { x.states = applyDeltaStates(x.states, String(s.delta_states)); } catch (e) { probs.push(`${sw}: ${e.message}`); }
			}
			if ('states' in s) probs.push(`${sw}: a delta carries full states`);
			if ('bitmap' in s) {
				if (!('bytes' in x)) probs.push(`${sw}: bitmap for the handle slab`);
				else try { x.bytes = segmentsDecode(String(s.bitmap)); } catch (e) { probs.push(`${sw}: ${e.message}`); }
			}
			if (s.summary && s.summary.by_owner) x.by_owner = s.summary.by_owner;
		}
		if (mem.arenas !== undefined) {
			if (!Array.isArray(mem.arenas)) probs.push(`${w}: memory.arenas not an array`);
			else for (const a of mem.arenas) {
				const old = (this.arenas || []).find((o) => o.name === a.name);
				if (old) old.used = a.used;
				if (typeof a.name !== 'string' || !isInt(a.used)) probs.push(`${w}: arena ${JSON.stringify(a)}`);
			}
		}
		if (mem.gc !== undefined) {
			if (typeof mem.gc === 'number') this.gcUsed = mem.gc;
			else if (mem.gc && isInt(mem.gc.heap_used_bytes)) this.gcUsed = mem.gc.heap_used_bytes;
			else probs.push(`${w}: memory.gc ${JSON.stringify(mem.gc)}`);
		}
		if (mem.rss !== undefined && !(isInt(mem.rss) && mem.rss > 0)) probs.push(`${w}: memory.rss ${mem.rss}`);
		const up = d.metrics?.aio?.up;
		if (up !== undefined) {
			// the process's uptime at the tick: growing, and at least the
			// registry's of the full state before (an earlier tick's, or
			// this one's)
			if (!isNum(up) || !(up > 0) || (this.up !== null && up < this.up) ||
			    (this.uptime !== null && up < this.uptime))
				probs.push(`${w}: metrics.aio.up ${up}: the delta before said ${this.up}, the full state's registry uptime ${this.uptime}`);
			else this.up = up;
		}
		if (d.metrics?.aio?.connections) this.connections = d.metrics.aio.connections;
		if (d.metrics?.vm) this.metrics.vm = d.metrics.vm;
		if (d.metrics?.registry) this.metrics.registry = d.metrics.registry;
		if (d.metrics?.modular?.deltas) probs.push(...applyModularDeltas(this.metrics.modular, d.metrics.modular.deltas, w));
		this.deltas++;
		if (++this.applied % this.checkEvery === 0)
			probs.push(...this.invariants(w, !!d.metrics?.aio?.connections));
		return probs;
	}

	invariants(w, withConns) {
		const probs = [];
		for (const [name, x] of Object.entries(this.slabs)) {
			const sw = `${w} ${name} (after applying)`;
			if (x.used > x.total || x.hwm < x.used || x.hwm > x.total) probs.push(`${sw}: used ${x.used} hwm ${x.hwm} total ${x.total}`);
			if ('states' in x) {
				probs.push(...statesProblems(x.states, x.total, x.used, sw));
				probs.push(...byOwnerProblems(x.by_owner, x.states, this.ownerMap.length, sw, this.unnamed));
				if (withConns) probs.push(...connectionsProblems(this.connections, x.states, `${w} metrics.aio.connections`));
			} else {
				probs.push(...bitmapProblems(x.bytes, x.total, x.used, sw));
			}
		}
		return probs;
	}
}

function labelsMatch(a, b) {
	const ka = Object.keys(a || {}), kb = Object.keys(b || {});
	return ka.length === kb.length && ka.every((k) => a[k] === b[k]);
}

// metrics.modular.deltas onto the registry document held, as the runtime's
// dashboard applies them (script.js): counters add d, gauges take v,
// histograms add c, s and each cumulative bucket's d; unknown ones are new.
export function applyModularDeltas(mod, deltas, w) {
	const probs = [];
	const fam = { c: 'counters', g: 'gauges', h: 'histograms' };
	for (const d of deltas) {
		const list = mod[fam[d.t]];
		if (!list || typeof d.n !== 'string') { probs.push(`${w}: delta item ${JSON.stringify(d).slice(0, 80)}`); continue; }
		const m = list.find((x) => x.name === d.n && labelsMatch(d.l, x.labels));
		if (d.t === 'c') {
			if (m) m.value += d.d; else list.push({ name: d.n, value: d.d, labels: d.l || {} });
		} else if (d.t === 'g') {
			if (m) m.value = d.v; else list.push({ name: d.n, value: d.v, labels: d.l || {} });
		} else if (m) {
			m.count += d.c; m.sum_us += d.s;
			d.b.forEach((b, i) => { if (m.buckets[i]) m.buckets[i].count += b.d; });
		} else {
			list.push({ name: d.n, count: d.c, sum_us: d.s, labels: d.l || {}, buckets: d.b.map((b) => ({ le: b.le, count: b.d })) });
		}
	}
	return probs;
}

const sameNum = (a, b) => a === b || (typeof a === 'number' && typeof b === 'number' && Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)));

// Every figure of the truth's registry, VM and breakdown is in the valk
// document the client holds (metrics: what it built; docs: the registry
// documents in it to check, aio only in a full document, as deltas do not
// update it; breakdown: memory.breakdown, full documents only) with the
// truth's value.
export function compareFigures(metrics, breakdown, truth, label, docs = ['modular']) {
	const probs = [];
	const key = (m) => `${m.name}${JSON.stringify(m.labels || {})}`;
	for (const fam of ['counters', 'gauges', 'histograms']) {
		for (const t of truth.metrics[fam]) {
			for (const doc of docs) {
				const m = (metrics[doc]?.[fam] || []).find((x) => x.name === t.name && labelsMatch(t.labels, x.labels));
				if (!m) { probs.push(`${doc}.${fam} ${key(t)} missing`); continue; }
				for (const k of ['value', 'count', 'sum_us'])
					if (k in t && m[k] !== t[k]) probs.push(`${doc}.${fam} ${key(t)}.${k} ${m[k]}, truth ${t[k]}`);
				if (t.buckets && JSON.stringify(m.buckets?.map((b) => [b.le, b.count])) !== JSON.stringify(t.buckets.map((b) => [b.le, b.count])))
					probs.push(`${doc}.${fam} ${key(t)} buckets ${JSON.stringify(m.buckets).slice(0, 120)}, truth ${JSON.stringify(t.buckets).slice(0, 120)}`);
			}
		}
	}
	const walk = (got, want, path) => {
		for (const [k, v] of Object.entries(want)) {
			if (v && typeof v === 'object') walk(got?.[k], v, `${path}.${k}`);
			else if (!sameNum(got?.[k], v)) probs.push(`${path}.${k} ${got?.[k]}, truth ${v}`);
		}
	};
	walk(metrics.registry, truth.registry, 'registry');
	walk(metrics.vm?.gc, truth.vm.gc, 'vm.gc');
	walk(metrics.vm?.interpreter, truth.vm.interpreter, 'vm.interpreter');
	if (breakdown) walk(breakdown, truth.breakdown, 'memory.breakdown');
	const n = truth.metrics.counters.length + truth.metrics.gauges.length + truth.metrics.histograms.length;
	return check(probs.length === 0, `${label}: the runtime dashboard's figures (${n} registry metrics, registry stats, GC, interpreter${breakdown ? ', memory.breakdown' : ''}) equal the truth`,
		probs.slice(0, 8).join('; '));
}

// The full valk document of GET /debug/metrics/state at a quiescent
// point, every field the truth has: its JSON shape, slabs slot by slot,
// owners and arenas, what only full documents carry, and every figure of
// the runtime's dashboard (both registry documents, memory.breakdown).
export function compareStateDoc(state, truth, label, ctx) {
	const m = new ValkModel(ctx);
	const p = m.apply({ id: 0, event: 'diagnostics', doc: state });
	check(p.length === 0, `${label}: JSON shape of the full valk document`, p.slice(0, 5).join('; '));
	compareValk(m, truth, label);
	compareValkFull(m, truth, state.metrics?.aio, label);
	compareFigures(state.metrics, state.memory?.breakdown, truth, label, ['aio', 'modular']);
}

// The valk dialect sends owner_map only in full states; every owner index
// a later delta's by_owner uses must be one that owner_map names, or the
// runtime's dashboard shows a connection count under no name.
export function checkOwnersNamed(model, name) {
	const u = model.unnamed;
	return check(u.length === 0, `${name}: every owner index in by_owner is named by the owner_map the client holds (${model.ownerMap.length} names)`,
		`${u.length} times, first: ${u[0]}`);
}

/* ---- ground truth ---- */

export function readTruth(file) { return JSON.parse(fs.readFileSync(file, 'utf8')); }

function firstDiff(a, b) {
	const n = Math.max(a.length, b.length);
	for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
	return -1;
}

const RSS_SLACK = 16 * 4096;

// What only a full valk document carries (a delta updates none of it, so
// only a model built from the newest full document can be compared):
// every arena's capacity, high-water mark and overflow count, the GC
// heap's size and size classes, the process's memory; and the queue of
// system 0 (metrics.aio.queue).
export function compareValkFull(model, truth, aio, label) {
	const probs = [];
	const key = (a) => a.name;
	const tar = new Map(truth.arenas.filter((a) => a.system === 0).map((a) => [key(a), a]));
	for (const a of model.arenas || []) {
		const t = tar.get(key(a));
		if (!t) { probs.push(`arena ${a.name} not in the truth`); continue; }
		for (const k of ['used', 'capacity', 'hwm', 'overflow'])
			if (a[k] !== t[k]) probs.push(`arena ${a.name}.${k} ${a[k]}, truth ${t[k]}`);
	}
	if (model.gcTotal !== truth.gc.heap_total_bytes) probs.push(`gc heap_total_bytes ${model.gcTotal}, truth ${truth.gc.heap_total_bytes}`);
	const sc = JSON.stringify((model.sizeClasses || []).map((c) => [c.size, c.used, c.total]));
	const tsc = JSON.stringify(truth.gc.size_classes.map((c) => [c.size, c.used, c.total]));
	if (sc !== tsc) probs.push(`gc size_classes ${sc}, truth ${tsc}`);
	// the resident size of a process at rest still moves by a page now
	// and then (the kernel's counter): within RSS_SLACK of the truth's
	for (const k of ['vms', 'system_total'])
		if (model.process?.[k] !== truth.process[k]) probs.push(`memory.process.${k} ${model.process?.[k]}, truth ${truth.process[k]}`);
	if (!(Math.abs(model.process?.rss - truth.process.rss) <= RSS_SLACK))
		probs.push(`memory.process.rss ${model.process?.rss}, truth ${truth.process.rss} (more than ${RSS_SLACK} bytes apart)`);
	for (const [k, v] of Object.entries(truth.aio.queue))
		if (aio?.queue?.[k] !== v) probs.push(`metrics.aio.queue.${k} ${aio?.queue?.[k]}, truth ${v}`);
	return check(probs.length === 0, `${label}: arenas (capacity, hwm, overflow), GC size classes, memory.process and metrics.aio.queue equal the truth (${tar.size} arenas, ${truth.gc.size_classes.length} size classes, queue capacity ${truth.aio.queue.capacity})`,
		probs.slice(0, 8).join('; '));
}

// Slot-by-slot comparison of a valk model with system 0 of the truth: the
// slabs (counters, every slot, by_owner), connection counts and GC heap;
// then, as separate checks, the owner names and the arenas the client
// holds (both only ever sent in full states).
export function compareValk(model, truth, label) {
	const probs = [];
	const slabs = truth.slabs.filter((s) => s.system === 0);
	const names = Object.keys(model.slabs || {});
	if (JSON.stringify(names) !== JSON.stringify(slabs.map((s) => s.name)))
		probs.push(`slabs ${names} vs truth ${slabs.map((s) => s.name)}`);
	for (const t of slabs) {
		const x = model.slabs?.[t.name];
		if (!x) continue;
		for (const k of ['used', 'total', 'hwm', 'overflow'])
			if (x[k] !== t[k]) probs.push(`${t.name}.${k} ${x[k]}, truth ${t[k]}`);
		if (t.name === 'handles') {
			const i = firstDiff(x.states, t.states);
			if (i >= 0) probs.push(`handles slot ${i}: '${x.states[i]}', truth '${t.states[i]}' (${[...x.states].filter((c, j) => c !== t.states[j]).length} slots differ)`);
			const bo = JSON.stringify(Object.entries(x.by_owner).sort());
			const tbo = JSON.stringify(Object.entries(t.by_owner || {}).sort());
			if (bo !== tbo) probs.push(`handles by_owner ${bo}, truth ${tbo}`);
		} else {
			const hex = bytesHex(x.bytes);
			if (hex !== t.bitmap) probs.push(`${t.name} bitmap ${hex.slice(0, 64)}, truth ${t.bitmap.slice(0, 64)}`);
		}
	}
	if (model.gcUsed !== truth.gc.heap_used_bytes) probs.push(`gc heap_used_bytes ${model.gcUsed}, truth ${truth.gc.heap_used_bytes}`);
	const th = slabs.find((s) => s.name === 'handles');
	if (th) probs.push(...connectionsProblems(model.connections, th.states, 'metrics.aio.connections vs truth'));
	if (model.connections?.failed !== truth.aio.connections_failed)
		probs.push(`metrics.aio.connections.failed ${model.connections?.failed}, truth ${truth.aio.connections_failed}`);
	check(probs.length === 0, `${label}: valk dialect slabs equal the ground truth slot by slot`, probs.slice(0, 8).join('; '));
	const tmap = truth.owner_maps ? truth.owner_maps[0] : truth.owner_map;
	check(JSON.stringify(model.ownerMap) === JSON.stringify(tmap), `${label}: the owner_map the client holds equals the truth's (${tmap.length} owners)`,
		`client holds ${JSON.stringify(model.ownerMap)}, truth ${JSON.stringify(tmap)}`);
	const tar = truth.arenas.filter((a) => a.system === 0).map((a) => `${a.name}:${a.used}`).sort();
	const mar = (model.arenas || []).map((a) => `${a.name}:${a.used}`).sort();
	check(JSON.stringify(tar) === JSON.stringify(mar), `${label}: the arenas the client holds equal the truth's (${tar.length}: ${tar.join(' ')})`,
		`client holds ${mar.join(' ')}, truth ${tar.join(' ')} (arenas are matched by name in deltas; a new one needs a full state)`);
}

// Slot-by-slot comparison of a memory-dialect document with the truth
// (every system).
export function compareMemory(doc, truth, label) {
	const probs = [];
	const key = (s) => `${s.name}/${s.system}`;
	const got = new Map(doc.slabs.map((s) => [key(s), s]));
	if (doc.slabs.length !== truth.slabs.length) probs.push(`${doc.slabs.length} slabs, truth ${truth.slabs.length}`);
	for (const t of truth.slabs) {
		const s = got.get(key(t));
		if (!s) { probs.push(`${key(t)} missing`); continue; }
		for (const k of ['used', 'total', 'hwm', 'overflow', 'acquires', 'releases'])
			if (s[k] !== t[k]) probs.push(`${key(t)}.${k} ${s[k]}, truth ${t[k]}`);
		const a = t.name === 'handles' ? s.states : s.bitmap, b = t.name === 'handles' ? t.states : t.bitmap;
		const i = firstDiff(a || '', b);
		if (i >= 0) probs.push(`${key(t)} ${t.name === 'handles' ? 'slot' : 'hex digit'} ${i}: '${(a || '')[i]}', truth '${b[i]}'`);
	}
	if (JSON.stringify(doc.owner_map) !== JSON.stringify(truth.owner_map)) probs.push(`owner_map ${JSON.stringify(doc.owner_map)}, truth ${JSON.stringify(truth.owner_map)}`);
	return check(probs.length === 0, `${label}: memory dialect state equals the ground truth slot by slot`, probs.slice(0, 8).join('; '));
}

/* ---- raw HTTP/2 ---- */

export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

export function h2frame(type, flags, stream, payload = Buffer.alloc(0)) {
	const h = Buffer.alloc(9);
	h.writeUIntBE(payload.length, 0, 3);
	h[3] = type;
	h[4] = flags;
	h.writeUInt32BE(stream & 0x7fffffff, 5);
	return Buffer.concat([h, payload]);
}

function hpackInt(prefixBits, first, v) {
	const max = (1 << prefixBits) - 1;
	if (v < max) return [first | v];
	const out = [first | max];
	v -= max;
	while (v >= 128) { out.push((v & 127) | 128); v >>= 7; }
	out.push(v);
	return out;
}

// HPACK block of literal fields without indexing, new names, no Huffman.
export function hpack(fields) {
	const out = [];
	for (const [n, v] of fields) {
		const nb = Buffer.from(n), vb = Buffer.from(v);
		out.push(0x00, ...hpackInt(7, 0, nb.length), ...nb, ...hpackInt(7, 0, vb.length), ...vb);
	}
	return Buffer.from(out);
}

export function h2Request(fields, stream = 1) {
	return Buffer.concat([H2_PREFACE, h2frame(4, 0, 0), h2frame(1, 0x5, stream, hpack(fields))]);
}

// Frames parsed from raw bytes (complete ones only).
export function h2frames(buf) {
	const frames = [];
	let off = 0;
	while (off + 9 <= buf.length) {
		const len = buf.readUIntBE(off, 3);
		if (off + 9 + len > buf.length) break;
		frames.push({ type: buf[off + 3], flags: buf[off + 4], stream: buf.readUInt32BE(off + 5) & 0x7fffffff, payload: buf.subarray(off + 9, off + 9 + len) });
		off += 9 + len;
	}
	return frames;
}

const HUFF_DIGITS = [['00000', '0'], ['00001', '1'], ['00010', '2'], ['011001', '3'], ['011010', '4'],
	['011011', '5'], ['011100', '6'], ['011101', '7'], ['011110', '8'], ['011111', '9']];
const STATIC_STATUS = { 8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500 };

// The :status of the first response HEADERS block on a fresh connection
// (nghttp2 writes :status first: indexed, or literal with name index 8).
export function h2Status(block) {
	let i = 0;
	while (i < block.length && (block[i] & 0xe0) === 0x20) i++;	// table size updates
	const b = block[i];
	if (b & 0x80) return STATIC_STATUS[b & 0x7f] ?? null;
	const idx = (b & 0x40) ? b & 0x3f : b & 0x0f;
	if (idx !== 8) return null;
	const lb = block[i + 1], huff = lb & 0x80, len = lb & 0x7f;
	const val = block.subarray(i + 2, i + 2 + len);
	if (!huff) return Number(val.toString());
	let bits = [...val].map((x) => x.toString(2).padStart(8, '0')).join(''), out = '';
	while (bits.length >= 5) {
		const hit = HUFF_DIGITS.find(([code]) => bits.startsWith(code));
		if (!hit) break;
		out += hit[1];
		bits = bits.slice(hit[0].length);
	}
	return out.length === 3 ? Number(out) : null;
}

// Connects, sends `bytes` (optionally then half-closes), and collects what
// comes back until the server closes or `waitMs` passes.
export function rawExchange(port, bytes, { waitMs = 3000, end = false, pauseRead = false } = {}) {
	return new Promise((resolve) => {
		const t0 = Date.now();
		const chunks = [];
		let done = false;
		const sock = net.connect(port, '127.0.0.1');
		const finish = (how) => {
			if (done) return;
			done = true;
			clearTimeout(timer);
			sock.destroy();
			resolve({ data: Buffer.concat(chunks), how, ms: Date.now() - t0 });
		};
		const timer = setTimeout(() => finish('open'), waitMs);
		sock.on('connect', () => {
			if (bytes && bytes.length) sock.write(bytes);
			if (end) sock.end();
			if (pauseRead) sock.pause();
		});
		sock.on('data', (c) => chunks.push(c));
		sock.on('end', () => finish('closed'));
		sock.on('close', () => finish('closed'));
		sock.on('error', (e) => finish(e.code === 'ECONNRESET' ? 'reset' : `error ${e.code}`));
	});
}

// The HTTP/1.x status of a raw response, or null.
export function h1Status(buf) {
	const m = /^HTTP\/1\.[01] ([0-9]{3}) /.exec(buf.toString('latin1', 0, 64));
	return m ? Number(m[1]) : null;
}

export function done() {
	const n = failureCount();
	console.log(n ? `${n} check(s) failed in the client` : 'client: all checks passed');
	process.exit(n ? 1 : 0);
}
