// Resuming and stuck subscribers against a traced churn workload.
//
// 1. Stuck clients (HTTP/1.1 and HTTP/2, sockets open, nothing read) while
//    live clients on both protocols keep receiving: no id gap from before
//    the stuck clients came to after they went (how late events arrive is
//    printed, not judged: a duration is no verdict on a shared machine);
//    the tracer's RSS stays bounded; the server's side of each stuck socket
//    is full (the stall is real); the stuck clients are dropped by the 30 s
//    stall limit, as the tracer's log says.
// 2. Meanwhile, a valk-dialect HTTP/2 client that stops reading for 12 s
//    (flow control closes its window) falls behind: when it reads again,
//    the only jump in its ids lands on a full state, and the deltas after
//    it apply cleanly.
// 3. Meanwhile, Last-Event-ID: for both dialects over HTTP/1.1 and HTTP/2,
//    a client reads a few events, disconnects, and reconnects with the last
//    id it saw: it gets the events after that id (the stream resumes), and
//    the deltas apply onto the state it had. With a bogus id, or one the
//    stream no longer holds (the client was away too long), it gets a full
//    state first, then the live stream with ids +1.
//
// node resume.mjs --port P --pid PID --tracer TRACER_PID --log TRACER_STDERR
//                 [--stuck-s 31]
// Every wait for events is bounded by BOUND_MS, a hang on a loaded machine,
// not an expected time.
import fs from 'node:fs';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import {
	SSEStream, ValkModel, MemoryModel, parseArgs, sleep, ok, fail, check, done, checkSSEHead, checkOwnersNamed,
	idGaps, maxGap, h2frame, hpack, H2_PREFACE,
} from './sse.mjs';

const a = parseArgs(process.argv.slice(2));
const port = Number(a.port), pid = Number(a.pid), tracer = Number(a.tracer);
const stuckS = Number(a['stuck-s'] || 31);
const INTERVAL = 100, BOUND_MS = 30000;
const paths = { memory: '/api/diagnostics/memory/stream', valk: '/debug/diagnostics/memory' };

// Until pred() holds or the stream closes; BOUND_MS at most.
function waitFor(s, pred) {
	return new Promise((resolve) => {
		const end = Date.now() + BOUND_MS;
		const t = setInterval(() => {
			if (pred() || s.closed || Date.now() > end) { clearInterval(t); resolve(pred()); }
		}, 20);
	});
}
const waitEvents = (s, n) => waitFor(s, () => s.events.length >= n);

/* ---- Last-Event-ID ---- */

// A client's picture of a stream, built as its dashboard builds it.
function picture(dialect, probs) {
	const model = dialect === 'valk' ? new ValkModel() : new MemoryModel({ pid });
	return (ev) => probs.push(...model.apply(ev));
}

// away: ticks between leaving and coming back; resumes: whether the id
// sent is one the stream still holds.
async function resumeCase(dialect, proto, lastIdOf, away, resumes) {
	const name = `${dialect}/${proto}`;
	const probs = [];
	const apply = picture(dialect, probs);
	const first = new SSEStream({ port, path: paths[dialect], proto, onEvent: apply });
	await first.opened;
	await waitEvents(first, 8);
	first.close();
	const seen = first.events.at(-1)?.id;
	await sleep(away * INTERVAL);	// the stream moves on meanwhile
	const sent = lastIdOf(seen);
	const again = new SSEStream({
		port, path: paths[dialect], proto, headers: { 'last-event-id': sent },
		onEvent: apply,
	});
	await again.opened;
	await waitEvents(again, 12);
	again.close();
	const ev = again.events;
	const fullName = dialect === 'valk' ? 'diagnostics' : 'memory';
	const head = checkSSEHead(again);
	if (head.length) probs.push(...head);
	if (again.parser.firstLine !== 'retry: 1000') probs.push(`first line '${again.parser.firstLine}'`);
	if (ev.length < 12) probs.push(`only ${ev.length} events after reconnecting`);
	// resumed: the stream's own next event, a delta or, where the stream
	// itself sent a full state at that id (the valk dialect does when its
	// shape changes: owners, arenas), that one; a full state in place of
	// resuming carries the channel's id at reconnecting, `away` ticks on
	if (resumes && ev[0]?.id !== seen + 1)
		probs.push(`first event ${ev[0]?.event} id ${ev[0]?.id}, want the one after ${seen}`);
	if (!resumes && ev[0]?.event !== fullName) probs.push(`first event '${ev[0]?.event}', want the full state '${fullName}'`);
	if (!resumes && /^[0-9]+$/.test(sent) && Number(sent) === seen && !(ev[0]?.id >= seen))
		probs.push(`full state id ${ev[0]?.id} is before the Last-Event-ID ${seen}`);
	probs.push(...idGaps(ev));
	check(probs.length === 0 && first.events.length >= 8,
		`${name}: reconnect with Last-Event-ID '${sent}' (had ${seen}, away ${away} ticks): ` +
		(resumes ? `resumed at id ${ev[0]?.id}, deltas apply onto the state it had` : `full state first (id ${ev[0]?.id})`) +
		`, then ids +1 to ${ev.at(-1)?.id}`,
		`${first.events.length} events before; ${probs.slice(0, 5).join('; ')}`);
}

async function resumeAll() {
	for (const dialect of ['memory', 'valk'])
		for (const proto of ['h1', 'h2']) {
			await resumeCase(dialect, proto, (id) => String(id), 5, true);
			await resumeCase(dialect, proto, (id) => (proto === 'h1' ? 'not-a-number' : String(id + 1000000)), 5, false);
			await resumeCase(dialect, proto, (id) => String(id), 45, false);	// past the backlog
		}
}

/* ---- a client that falls behind ---- */

async function laggard() {
	const model = new ValkModel({ checkEvery: 10 });
	const probs = [];
	const s = new SSEStream({ port, path: paths.valk, proto: 'h2', keepEvents: false, onEvent: (ev) => probs.push(...model.apply(ev)) });
	await s.opened;
	await sleep(1000);
	s.stream.pause();
	const before = s.events.length;
	await sleep(12000);
	s.stream.resume();
	const ev = s.events;
	const jumpsIn = (from) => {
		const j = [];
		for (let i = Math.max(1, from); i < ev.length; i++) if (ev[i].id !== ev[i - 1].id + 1) j.push(i);
		return j;
	};
	// reading again: the skip, then ten events past it
	await waitFor(s, () => jumpsIn(before).length > 0 && ev.length > jumpsIn(before)[0] + 10);
	const closed = s.closed;
	s.close();
	const jumps = jumpsIn(1);
	const bad = jumps.filter((i) => ev[i].event !== 'diagnostics' || ev[i].id < ev[i - 1].id);
	check(!closed && jumps.length >= 1 && bad.length === 0 && probs.length === 0 && ev.length > before + 10,
		`valk/h2 client that stopped reading for 12 s: skipped ${jumps.map((i) => `${ev[i - 1].id}->${ev[i].id}`)} onto a full state, deltas after it apply (${ev.length} events)`,
		`closed ${closed}, jumps ${jumps.map((i) => `${ev[i - 1].id}->${ev[i].id} ${ev[i].event}`)}, ${probs.slice(0, 3).join('; ')}`);
}

/* ---- stuck clients ---- */

function rss() {
	const m = /VmRSS:\s+([0-9]+) kB/.exec(fs.readFileSync(`/proc/${tracer}/status`, 'utf8'));
	return m ? Number(m[1]) : NaN;
}

// Server-side sockets of the tracer's port: peer port -> Send-Q.
function serverSendQ() {
	const out = execFileSync('ss', ['-tnH', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' });
	const q = new Map();
	for (const line of out.split('\n')) {
		const f = line.trim().split(/\s+/);
		if (f.length < 4) continue;
		q.set(Number(f[3].split(':').pop()), Number(f[1]));
	}
	return q;
}

// Opens a subscription and never reads from the socket.
function stuck(proto, path) {
	return new Promise((resolve) => {
		const sock = net.connect(port, '127.0.0.1', () => {
			sock.pause();
			if (proto === 'h1') {
				sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`);
			} else {
				sock.write(Buffer.concat([H2_PREFACE, h2frame(4, 0, 0), h2frame(1, 0x5, 1, hpack([[':method', 'GET'],
					[':scheme', 'http'], [':authority', '127.0.0.1'], [':path', path]]))]));
			}
			resolve({ proto, path, sock, lport: sock.localPort, ended: false });
		});
		sock.on('error', () => {});
	});
}

// The live clients check the whole of every 10th event only: with ~130 KB
// events, checking all of them on every stream would make this client,
// not the server, the one that is late.
const live = [];
for (const [dialect, proto] of [['memory', 'h1'], ['memory', 'h2'], ['valk', 'h1'], ['valk', 'h2']]) {
	const model = dialect === 'valk' ? new ValkModel({ checkEvery: 10 }) : null;
	const mem = dialect === 'memory' ? new MemoryModel({ pid, checkEvery: 10 }) : null;
	const st = { name: `live ${dialect}/${proto}`, dialect, probs: [], late: [], model };
	st.s = new SSEStream({
		port, path: paths[dialect], proto, name: st.name, keepEvents: false,
		onEvent: (ev) => {
			if (model) st.probs.push(...model.apply(ev));
			else {
				st.probs.push(...mem.apply(ev));
				if (ev.doc) st.late.push(ev.t - ev.doc.ts_ms);
			}
		},
	});
	live.push(st);
}
await Promise.all(live.map((st) => st.s.opened));
await sleep(2000);
await Promise.all(live.map((st) => waitEvents(st.s, 10)));
const baseline = rss();
const stuckT = Date.now();
const stucks = await Promise.all([
	stuck('h1', paths.memory), stuck('h2', paths.memory), stuck('h1', paths.valk),
]);
ok(`stuck clients connected (local ports ${stucks.map((x) => x.lport)}); tracer RSS ${baseline} kB before`);
const resumed = resumeAll();	// reconnecting clients, meanwhile
const lagged = laggard();

const samples = [];
const maxQ = new Map(), qs = new Map(stucks.map((x) => [x.lport, []]));
// HTTP/2 stops at its flow-control window: that one surely stalls.
const memStuck = stucks.filter((x) => x.path === paths.memory && x.proto === 'h2');
for (;;) {
	await sleep(500);
	const t = Date.now() - stuckT;
	samples.push({ t, kb: rss() });
	const q = serverSendQ();
	for (const x of stucks) {
		if (q.has(x.lport)) {
			maxQ.set(x.lport, Math.max(maxQ.get(x.lport) || 0, q.get(x.lport)));
			qs.get(x.lport).push({ t, q: q.get(x.lport) });
		} else if (x.droppedT === undefined) {
			x.droppedT = t;
		}
	}
	if (t >= stuckS * 1000 && (memStuck.every((x) => x.droppedT !== undefined) || t >= stuckS * 1000 + BOUND_MS)) break;
}
const during = Date.now();
await resumed;
await lagged;
// ten events past the end of the stuck phase on every live stream
await Promise.all(live.map((st) => {
	const n = st.s.events.filter((e) => e.t <= during).length;
	return waitEvents(st.s, n + 10);
}));

for (const st of live) {
	const ev = st.s.events.filter((e) => e.t >= stuckT && e.t <= during);
	const all = st.s.events;
	const gaps = idGaps(all);
	const before = all.filter((e) => e.t < stuckT).length, after = all.filter((e) => e.t > during).length;
	const gap = maxGap(ev);
	const late = st.late.length ? Math.max(...st.late.slice(-ev.length)) : 0;
	const secs = (during - stuckT) / 1000;
	check(!st.s.closed && gaps.length === 0 && before >= 10 && after >= 10,
		`${st.name}: every event while clients are stuck, ids +1 (${before} events before, ${ev.length} in ${secs.toFixed(1)} s, ${after} after, ids ${all[0]?.id}..${all.at(-1)?.id})`,
		`closed ${st.s.closed}, ${before} events before, ${after} after, ${gaps.slice(0, 4).join('; ')}`);
	console.log(`note: ${st.name}: largest gap between events ${gap} ms${st.dialect === 'memory' ? `, latest arrival ${late} ms after ts_ms` : ''} (printed, not judged)`);
	check(st.probs.length === 0, `${st.name}: every event well formed`, st.probs.slice(0, 4).join('; '));
	if (st.model) checkOwnersNamed(st.model, st.name);
}

// The stalls were real: the server's send queue on each stuck H/1.1 socket
// filled (H/2 stops at the flow-control window instead).
for (const x of stucks.filter((y) => y.proto === 'h1'))
	check((maxQ.get(x.lport) || 0) > 64 * 1024, `stuck ${x.proto} ${x.path}: the server's socket backed up (Send-Q up to ${maxQ.get(x.lport) || 0} bytes)`,
		`Send-Q at most ${maxQ.get(x.lport) || 0}`);

// RSS: bounded, and flat once the stuck queues are full.
const peak = Math.max(...samples.map((s) => s.kb));
const at = (sec) => samples.filter((s) => s.t >= sec * 1000)[0]?.kb ?? NaN;
const growth = Math.max(...samples.filter((s) => s.t >= 12000 && s.t <= 29000).map((s) => s.kb)) - at(12);
console.log(`note: tracer RSS kB: before ${baseline}, at 5 s ${at(5)}, 12 s ${at(12)}, 20 s ${at(20)}, 29 s ${at(29)}, peak ${peak}`);
// memory bounds are the plain build's: a sanitized one (make test-asan)
// keeps freed memory in quarantine
const bounded = !process.env.VT_SANITIZED;
check(!bounded || peak - baseline < 48 * 1024, `tracer RSS bounded with stuck clients (peak ${peak - baseline} kB over the ${baseline} kB before)`,
	`grew ${peak - baseline} kB`);
check(!bounded || growth < 6 * 1024, `tracer RSS flat while the clients stay stuck (12-29 s: +${growth} kB)`, `grew ${growth} kB between 12 s and 29 s`);

// The stall limit (30 s): a client whose socket accepts nothing is dropped
// for it, as the tracer's log says (and never before 30 s); one whose
// socket still takes bytes (small deltas on HTTP/1.1) is not stalled.
const log = fs.readFileSync(a.log, 'utf8');
const stalledMs = (lport) => Number(new RegExp(`dropping client 127\\.0\\.0\\.1:${lport}: no bytes accepted for ([0-9]+) ms`).exec(log)?.[1] ?? NaN);
for (const x of stucks) {
	const series = qs.get(x.lport);
	const name = `stuck ${x.proto} ${x.path}`;
	if (x.droppedT !== undefined) {
		check(x.droppedT >= 30000 && stalledMs(x.lport) >= 30000,
			`${name}: dropped by the 30 s stall limit (gone ${(x.droppedT / 1000).toFixed(1)} s after connecting; the tracer: no bytes accepted for ${stalledMs(x.lport)} ms)`,
			`dropped ${(x.droppedT / 1000).toFixed(1)} s after connecting; the tracer's log: ${stalledMs(x.lport)} ms`);
	} else {
		const last = series.at(-1), before = series.find((p) => p.t >= last.t - 30000);
		check(x.proto === 'h1' && last.q > before.q,
			`${name}: kept, its socket still accepts bytes (server Send-Q ${before.q} -> ${last.q} over the last ${((last.t - before.t) / 1000).toFixed(1)} s)`,
			`not dropped ${(last.t / 1000).toFixed(1)} s after connecting; server Send-Q ${before.q} -> ${last.q}`);
	}
}
for (const x of memStuck)
	check(x.droppedT !== undefined, `stuck ${x.proto} ${x.path}: dropped`, `still connected ${((Date.now() - stuckT) / 1000).toFixed(1)} s after connecting`);
// ... and once it reads again, the client sees the end of the stream.
await Promise.all(stucks.map((x) => new Promise((resolve) => {
	const t = setTimeout(resolve, 5000);
	x.sock.on('data', () => {});
	x.sock.on('close', () => { x.ended = true; clearTimeout(t); resolve(); });
	x.sock.resume();
})));
for (const x of stucks.filter((y) => y.droppedT !== undefined))
	check(x.ended, `stuck ${x.proto} ${x.path}: reads the end of the stream once it reads again`, 'still open 5 s later');
for (const st of live) st.s.close();
done();
