// Both SSE dialects over HTTP/1.1 and HTTP/2 against a traced target:
// every event's framing and JSON shape while the target runs, each
// dialect's deltas applied onto its last full state the way its dashboard
// applies them (memory: web/model.js itself; valk: the runtime's
// script.js, ported), and, once the shell has paused the target (cue
// file), the states each stream holds compared with the target's ground
// truth slot by slot, and every figure of the runtime's own dashboard.
// Then, still paused, both streams go on with one event per tick.
// "One event per tick" is counted on the tracer's clock, never on this
// machine's: the stamps the events carry span as many ticks as ids (see
// perTick), waited for up to a bound that is no expected time.
//
// node dialects.mjs --port P --pid PID --sim-start MS --live FILE
//                   --cue FILE --truth FILE --out DIR [--idle]
//   --live: written once every stream's live events span SPAN_MS (the
//           shell pauses the target then)
//   --idle: the target makes no slot traffic (deltas need not change slots)
import fs from 'node:fs';
import {
	SSEStream, ValkModel, MemoryModel, parseArgs, waitFile, sleep, ok, fail, check, done,
	checkSSEHead, checkFraming, idGaps, maxGap, memoryEventProblems, compareMemory,
	compareValk, compareFigures, compareStateDoc, readTruth, checkOwnersNamed,
} from './sse.mjs';

const a = parseArgs(process.argv.slice(2));
const port = Number(a.port), pid = Number(a.pid);
const TICK_MS = 100;	// valk-trace's default --interval, as the shell starts it
const SPAN_MS = 5000;	// of the tracer's clock, counted over
const TICKS = SPAN_MS / TICK_MS;	// deltas only while paused: this many looked at
const BOUND_MS = 90000;	// for a loaded machine: a hang, not a slow tick
const ctx = { pid, simStartMs: Number(a['sim-start']) };

const streams = [];
function open(proto, dialect) {
	const st = { proto, dialect, problems: [], model: dialect === 'valk' ? new ValkModel(ctx) : new MemoryModel(ctx), deltaStates: 0, bitmaps: 0 };
	const path = dialect === 'valk' ? '/debug/diagnostics/memory' : '/api/diagnostics/memory/stream';
	st.s = new SSEStream({
		port, path, proto, name: `${dialect}/${proto}`,
		onEvent: (ev) => {
			let p;
			if (dialect === 'memory') {
				p = st.model.apply(ev);
				st.last = { id: ev.id, doc: st.model.doc };
			} else {
				if (st.s.events.length === 1 && ev.event !== 'diagnostics')
					p = [`first event is '${ev.event}', want 'diagnostics'`];
				else p = st.model.apply(ev);
				for (const s of ev.doc?.memory?.slabs || []) {
					if (ev.event === 'diagnostics-delta' && s.delta_states) st.deltaStates++;
					if (ev.event === 'diagnostics-delta' && s.bitmap !== undefined) st.bitmaps++;
				}
			}
			st.problems.push(...p);
		},
	});
	streams.push(st);
	return st;
}

for (const proto of ['h1', 'h2']) for (const dialect of ['memory', 'valk']) open(proto, dialect);
await Promise.all(streams.map((st) => st.s.opened));

// Until every stream has n events past its index in `from` (or closed).
async function waitTicks(from, n) {
	const end = Date.now() + BOUND_MS;
	while (Date.now() < end && streams.some((st, i) => !st.s.closed && st.s.events.length - from[i] < n))
		await sleep(50);
}

// Until every stream's stamps past its index in `from` cover SPAN_MS (or
// it closed).
async function waitSpan(from) {
	const end = Date.now() + BOUND_MS;
	while (Date.now() < end && streams.some((st, i) => !st.s.closed && spanOf(st, from[i]).short))
		await sleep(50);
}

// The tracer's own clock, as an event carries it (ms): the memory
// dialect's ts_ms; the valk dialect's deltas metrics.aio.up (the target's
// uptime at the tick; a full event's uptime_seconds counts from the
// registry's start, another origin, so full events carry none here).
function tracerMs(st, ev) {
	if (st.dialect === 'memory') return ev.doc?.ts_ms;
	return ev.event === 'diagnostics-delta' ? ev.doc?.metrics?.aio?.up * 1000 : undefined;
}

// The stamped events of a stream from index `from` on, SPAN_MS of the
// tracer's clock from the first stamp; short: the span is not over yet.
function spanOf(st, from) {
	const stamped = [];
	let i = from;
	for (; i < st.s.events.length; i++) {
		const ev = st.s.events[i], ms = tracerMs(st, ev);
		if (!Number.isFinite(ms)) continue;
		if (stamped.length && ms - stamped[0].ms > SPAN_MS) break;
		stamped.push({ id: ev.id, ms });
	}
	return { stamped, end: i, short: i === st.s.events.length };
}

// One event per tick, counted on the tracer's side: over SPAN_MS of the
// tracer's clock (from the first stamped event past `from`) the ids go +1
// per event, and the ticks the stamps span equal the ids they span (one
// tick at most either way, a tick just inside or outside the span), with
// a mean step within 10 % of the tick. Client scheduling moves arrivals,
// never stamps; a server publishing every other tick spans twice the
// ticks. Needs the events up to SPAN_MS past the first stamp.
function perTick(st, from, what) {
	const name = `${st.dialect}/${st.proto}`;
	const { stamped, end: i, short } = spanOf(st, from);
	const evs = st.s.events.slice(from, i), gaps = idGaps(evs);
	const a = stamped[0], z = stamped.at(-1);
	const ids = z && z.id - a.id, ticks = z && (z.ms - a.ms) / TICK_MS;
	const backwards = stamped.filter((e, k) => k && e.ms <= stamped[k - 1].ms).length;
	check(!short && gaps.length === 0 && backwards === 0 &&
	      Math.abs(ticks - ids) <= 1 && Math.abs(ticks / ids - 1) <= 0.1,
		`${name}: one event per tick ${what} (ids ${a?.id}..${z?.id}: ${ids} ids over ${ticks?.toFixed(2)} ticks of the tracer's clock)`,
		`${evs.length} events${short ? ' (fewer than the span)' : ''}${st.s.closed ? ', stream closed' : ''}, ` +
		`${stamped.length} stamped, ${backwards} stamps not after the one before; ${gaps.slice(0, 3).join('; ')}`);
	console.log(`note: ${name} ${what}: largest gap between arrivals ${maxGap(evs)} ms (printed, not judged)`);
}

// Live: past each stream's first (full) event, while the target runs.
await waitSpan(streams.map(() => 1));
for (const st of streams) perTick(st, 1, `while the target ${a.idle ? 'idles' : 'runs under load'}`);
fs.writeFileSync(a.live, '');

if (!(await waitFile(a.cue, BOUND_MS))) {
	fail(`no cue from the shell within ${BOUND_MS / 1000} s`);
	done();
}
const truth = readTruth(a.truth);

for (const st of streams) {
	const name = `${st.dialect}/${st.proto}`;
	if (st.dialect === 'memory') {
		if (!st.last) { fail(`${name}: no event received`); continue; }
		compareMemory(st.last.doc, truth, `${name} (event id ${st.last.id}, ${st.model.deltas} deltas applied)`);
		fs.writeFileSync(`${a.out}/last.${name.replace('/', '.')}.json`, JSON.stringify(st.last.doc));
	} else {
		const label = `${name} (after event id ${st.s.events.at(-1)?.id}, ${st.model.deltas} deltas applied)`;
		compareValk(st.model, truth, label);
		compareFigures(st.model.metrics, null, truth, label);
	}
}

// The plain routes at the same quiescent point.
const base = `http://127.0.0.1:${port}`;
try {
	const mem = await (await fetch(`${base}/api/diagnostics/memory`)).json();
	compareMemory(mem, truth, 'GET /api/diagnostics/memory');
	const problems = memoryEventProblems({ id: mem.seq, event: 'memory', doc: mem, t: Date.now() }, ctx);
	check(problems.length === 0, 'GET /api/diagnostics/memory: JSON shape', problems.slice(0, 5).join('; '));
	const state = await (await fetch(`${base}/debug/metrics/state`)).json();
	compareStateDoc(state, truth, 'GET /debug/metrics/state', ctx);
	await checkBuckets(truth);
} catch (e) {
	fail(`plain routes at the quiescent point: ${e.stack}`);
}

// /debug/slab/buckets honours slab, start, end and buckets: equal slices
// rounded up, used/free per slice, against the truth's slot usage.
async function checkBuckets(truth) {
	const used = (t) => t.name === 'handles'
		? [...t.states].map((c) => c !== 'F')
		: Array.from({ length: t.total }, (_, i) => (parseInt(t.bitmap.slice((i >> 3) * 2, (i >> 3) * 2 + 2), 16) >> (i & 7) & 1) === 1);
	let n = 0;
	const probs = [];
	for (const t of truth.slabs.filter((s) => s.system === 0)) {
		const u = used(t);
		for (const [start, end, buckets] of [[0, t.total, 1], [0, t.total, 8], [1, Math.min(t.total, 37), 5], [3, 3, 4], [0, t.total + 100, 3]]) {
			const q = `slab=${t.name}&start=${start}&end=${end}&buckets=${buckets}`;
			const r = await fetch(`${base}/debug/slab/buckets?${q}`);
			const doc = await r.json();
			const e = Math.min(end, t.total), per = Math.ceil((e - start) / buckets) || 1;
			const want = start < e ? Array.from({ length: buckets }, () => ({ u: 0, f: 0 })) : [];
			for (let i = start; i < e; i++) want[Math.floor((i - start) / per)][u[i] ? 'u' : 'f']++;
			n++;
			if (r.status !== 200 || doc.total !== t.total || JSON.stringify(doc.buckets) !== JSON.stringify(want))
				probs.push(`${q}: ${r.status} ${JSON.stringify(doc).slice(0, 120)}, want ${JSON.stringify({ buckets: want, total: t.total }).slice(0, 120)}`);
		}
	}
	check(probs.length === 0, `GET /debug/slab/buckets: ${n} queries over every slab equal the truth's slot usage`, probs.slice(0, 4).join('; '));
}

// Still paused: one event per tick goes on (counters, uptime and the
// tracer's figures move), deltas only.
const from = streams.map((st) => st.s.events.length);
await waitSpan(from);
await waitTicks(from, TICKS);
for (const [i, st] of streams.entries()) {
	const name = `${st.dialect}/${st.proto}`;
	const after = st.s.events.slice(from[i], from[i] + TICKS);
	perTick(st, from[i], 'while the target is paused');
	const names = new Set(after.map((e) => e.event));
	check(names.size === 1 && names.has(st.dialect === 'memory' ? 'memory-delta' : 'diagnostics-delta'),
		`${name}: deltas only while nothing changes shape`, [...names].join(','));
}

for (const st of streams) {
	const name = `${st.dialect}/${st.proto}`;
	const evs = st.s.events;
	st.s.close();
	const head = checkSSEHead(st.s);
	check(head.length === 0, `${name}: status 200 and SSE headers`, head.join(', '));
	const fr = checkFraming(st.s);
	check(fr.length === 0, `${name}: 'retry: 1000' first, an id on every event, ids +1 per event (${evs.length} events, ids ${evs[0]?.id}..${evs.at(-1)?.id})`, fr.slice(0, 5).join('; '));
	const names = new Set(evs.map((e) => e.event));
	if (st.dialect === 'memory')
		check(evs[0]?.event === 'memory' && [...names].every((n) => n === 'memory' || n === 'memory-delta') && st.model.deltas > 0,
			`${name}: 'memory' first, then 'memory-delta' (${st.model.deltas} applied)`, `names ${[...names]}, first ${evs[0]?.event}`);
	else
		check(evs[0]?.event === 'diagnostics' && [...names].every((n) => n === 'diagnostics' || n === 'diagnostics-delta'),
			`${name}: 'diagnostics' first, then 'diagnostics-delta'`, `names ${[...names]}, first ${evs[0]?.event}`);
	check(st.problems.length === 0, `${name}: JSON shape and invariants of every event`,
		`${st.problems.length} problems: ${st.problems.slice(0, 6).join('; ')}`);
	check(evs.length >= 30, `${name}: a live stream (${evs.length} events)`, `only ${evs.length} events`);
	if (st.dialect === 'valk') checkOwnersNamed(st.model, name);
	if (st.dialect === 'valk' && !a.idle)
		check(st.deltaStates > 0 && st.bitmaps > 0, `${name}: deltas exercised (${st.deltaStates} delta_states, ${st.bitmaps} bitmaps applied)`,
			`${st.deltaStates} delta_states, ${st.bitmaps} bitmaps`);
}

// Same source, same events: HTTP/1.1 and HTTP/2 subscribers of a channel
// see byte-identical events under the same ids. A subscriber's first event
// is its own full state under the id of the tick it joined at (the others
// got that tick as a delta), so the comparison starts after it.
for (const dialect of ['memory', 'valk']) {
	const [x, y] = streams.filter((st) => st.dialect === dialect).map((st) => new Map(st.s.events.slice(1).map((e) => [e.id, `${e.event}\n${e.data}`])));
	let common = 0, differ = 0;
	for (const [id, v] of x) if (y.has(id)) { common++; if (y.get(id) !== v) differ++; }
	check(common >= 20 && differ === 0, `${dialect}: h1 and h2 streams carry the same events under the same ids (${common} in common)`,
		`${common} common ids, ${differ} differ`);
}
done();
