// What no polite client sends, on raw sockets, while SSE clients (HTTP/1.1
// and HTTP/2) keep receiving: each bad request gets 400, 405, 414 or 431,
// or its connection closed; nothing hangs; the streams lose no event
// (how late they are is printed, not judged: a duration is no verdict on
// a shared machine).
//
// node malformed.mjs --port P --pid PID
import {
	SSEStream, ValkModel, parseArgs, sleep, ok, check, done, idGaps, maxGap,
	MemoryModel, rawExchange, h1Status, h2Status, h2frames, h2frame,
	hpack, H2_PREFACE,
} from './sse.mjs';

const a = parseArgs(process.argv.slice(2));
const port = Number(a.port), pid = Number(a.pid);
const IDLE_MS = 10000, BOUND_MS = 60000;

// Until every live stream has n events more than it has now (BOUND_MS).
async function waitEvents(n) {
	const want = live.map((st) => st.s.events.length + n), end = Date.now() + BOUND_MS;
	while (Date.now() < end && live.some((st, i) => !st.s.closed && st.s.events.length < want[i])) await sleep(50);
}

/* ---- the live streams ---- */
const live = [];
for (const [path, proto] of [['/api/diagnostics/memory/stream', 'h1'], ['/debug/diagnostics/memory', 'h2'], ['/api/diagnostics/memory/stream', 'h2']]) {
	const st = { name: `live ${proto} ${path}`, probs: [], model: path.startsWith('/debug') ? new ValkModel() : new MemoryModel({ pid }) };
	st.s = new SSEStream({
		port, path, proto, keepEvents: false,
		onEvent: (ev) => st.probs.push(...st.model.apply(ev)),
	});
	live.push(st);
}
await Promise.all(live.map((st) => st.s.opened));
await waitEvents(10);
const t0 = Date.now();

/* ---- the cases ---- */
let seed = 99;
const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
const garbage = Buffer.from(Array.from({ length: 512 }, rand));
const pad = (n) => 'x'.repeat(n);

// HTTP/1.x: the answer is one of `codes`, then the connection closes; or
// (`orClose`) no answer and a closed connection.
function h1Case(name, bytes, codes, { orClose = true, end = false } = {}) {
	return { name, run: () => rawExchange(port, Buffer.from(bytes, 'latin1'), { waitMs: 4000, end }), judge: (r) => {
		const st = h1Status(r.data);
		if (st !== null) return codes.includes(st) && r.how !== 'open' ? null : `answered ${st}, connection ${r.how}`;
		return orClose && r.how !== 'open' && r.data.length === 0 ? null : `no status line (${r.data.length} bytes), connection ${r.how}`;
	}, show: (r) => `${h1Status(r.data) ?? 'no answer'}, ${r.how} after ${r.ms} ms` };
}

// HTTP/2: the response :status on stream 1 is one of `codes`, or the
// stream/connection is refused (RST_STREAM / GOAWAY) when `orReset`.
function h2Case(name, bytes, codes, { orReset = false, wantGoaway = false } = {}) {
	return { name, run: () => rawExchange(port, bytes, { waitMs: 3000 }), judge: (r) => {
		const fr = h2frames(r.data);
		const hd = fr.find((f) => f.type === 1 && f.stream === 1);
		const goaway = fr.find((f) => f.type === 7), rst = fr.find((f) => f.type === 3);
		if (wantGoaway) return goaway && r.how !== 'open' ? null : `no GOAWAY and close (frames ${fr.map((f) => f.type)}, ${r.how})`;
		if (hd) return codes.includes(h2Status(hd.payload)) ? null : `:status ${h2Status(hd.payload)}`;
		return orReset && (goaway || rst) ? null : `no response headers (frames ${fr.map((f) => f.type)}, ${r.how})`;
	}, show: (r) => {
		const fr = h2frames(r.data), hd = fr.find((f) => f.type === 1 && f.stream === 1);
		return `${hd ? `:status ${h2Status(hd.payload)}` : `frames ${fr.map((f) => f.type).join(',')}`}, ${r.how}`;
	} };
}

// A connection that never completes a request: closed by the idle limit,
// not before it (the wait is a bound for a loaded machine, not a time).
function idleCase(name, bytes) {
	return { name, run: () => rawExchange(port, Buffer.from(bytes, 'latin1'), { waitMs: BOUND_MS }), judge: (r) =>
		r.how !== 'open' && r.ms >= IDLE_MS - 1000 && (r.data.length === 0 || [400, 408].includes(h1Status(r.data)))
			? null : `connection ${r.how} after ${r.ms} ms with ${r.data.length} bytes`,
	show: (r) => `${r.how} after ${r.ms} ms` };
}

const req = (fields, stream = 1) => h2frame(1, 0x5, stream, hpack(fields));
const base = [[':scheme', 'http'], [':authority', '127.0.0.1']];
const bigBlock = hpack([[':method', 'GET'], [':path', '/healthz'], ...base, ...Array.from({ length: 6 }, (_, i) => [`x-pad-${i}`, pad(4000)])]);
const continued = Buffer.concat([
	h2frame(1, 0x1, 1, bigBlock.subarray(0, 16000)),	// END_STREAM, no END_HEADERS
	h2frame(9, 0x4, 1, bigBlock.subarray(16000)),		// CONTINUATION, END_HEADERS
]);

// Well-formed but unusual: pipelined requests are answered in order; a
// bad request after good ones on a kept-alive connection gets its 400.
function h1Seq(name, bytes, codes) {
	return { name, run: () => rawExchange(port, Buffer.from(bytes, 'latin1'), { waitMs: 3000 }), judge: (r) => {
		const got = [...r.data.toString('latin1').matchAll(/HTTP\/1\.1 ([0-9]{3}) /g)].map((m) => Number(m[1]));
		return JSON.stringify(got) === JSON.stringify(codes) ? null : `answers ${got}, want ${codes}`;
	}, show: () => `answers ${codes} in order` };
}
const get = (p) => `GET ${p} HTTP/1.1\r\nHost: localhost\r\n\r\n`;

const slow = [
	idleCase('connects and sends nothing', ''),
	idleCase('a request line cut short, then nothing', 'GET /healthz HT'),
	idleCase('a truncated HTTP/2 preface, then nothing', 'PRI * HTTP/2.0\r\n\r\nSM'),
];
const quick = [
	h1Seq('three pipelined requests', get('/healthz') + get('/nope') + get('/api/diagnostics/memory'), [200, 404, 200]),
	h1Seq('garbage after two good requests on one connection', get('/healthz') + get('/metrics') + 'GARBAGE \x01\x02\r\n\r\n', [200, 200, 400]),
	h1Case('512 random bytes', garbage, [400]),
	h1Case('a line of text that is no request', 'HELLO THERE\r\n\r\n', [400]),
	h1Case('NUL bytes in the request line', 'GET /\0\0 HTTP/1.1\r\n\r\n', [400]),
	h1Case('a header line without a colon', 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nNoColonHere\r\n\r\n', [400]),
	h1Case('a bad HTTP version', 'GET /healthz HTTP/x.y\r\n\r\n', [400]),
	h1Case('a chunked body with a bad chunk size', 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', [400]),
	h1Case('40 KiB of headers', `GET /healthz HTTP/1.1\r\nHost: localhost\r\n${Array.from({ length: 40 }, (_, i) => `X-Pad-${i}: ${pad(1000)}\r\n`).join('')}\r\n`, [431]),
	h1Case('one 20 KiB header', `GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: ${pad(20000)}\r\n\r\n`, [431]),
	h1Case('a 10 KiB request target', `GET /${pad(10000)} HTTP/1.1\r\nHost: localhost\r\n\r\n`, [414, 431]),
	h1Case('POST', 'POST /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n', [405], { orClose: false }),
	h1Case('DELETE on a stream route', 'DELETE /api/diagnostics/memory/stream HTTP/1.1\r\nHost: localhost\r\n\r\n', [405], { orClose: false }),
	h1Case('PUT with a body', 'PUT / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello', [405], { orClose: false }),
	h1Case('an unknown method', 'BREW /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n', [400, 405], { orClose: false }),
	h1Case('a lower-case method', 'get /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n', [400, 405]),
	h1Case('a truncated HTTP/2 preface, then end of input', 'PRI * HTTP/2.0\r\n\r\nSM', [400], { end: true }),
	h1Case('an HTTP/2 preface that goes wrong at byte 19', 'PRI * HTTP/2.0\r\n\r\nXX\r\n\r\nGET / HTTP/1.1\r\n\r\n', [400, 405]),
	h2Case('HTTP/2: garbage after the preface', Buffer.concat([H2_PREFACE, garbage]), [], { wantGoaway: true }),
	h2Case('HTTP/2: a frame larger than the peer allows', Buffer.concat([H2_PREFACE, h2frame(4, 0, 0), h2frame(0, 0, 1, Buffer.alloc(20000))]), [], { wantGoaway: true }),
	h2Case('HTTP/2: HEADERS with an undecodable block', Buffer.concat([H2_PREFACE, h2frame(4, 0, 0), h2frame(1, 0x5, 1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff]))]), [], { wantGoaway: true }),
	h2Case('HTTP/2: POST', Buffer.concat([H2_PREFACE, h2frame(4, 0, 0), req([[':method', 'POST'], [':path', '/healthz'], ...base])]), [405]),
	h2Case('HTTP/2: an unknown method', Buffer.concat([H2_PREFACE, h2frame(4, 0, 0), req([[':method', 'BREW'], [':path', '/healthz'], ...base])]), [405]),
	h2Case('HTTP/2: no :path', Buffer.concat([H2_PREFACE, h2frame(4, 0, 0), req([[':method', 'GET'], ...base])]), [400], { orReset: true }),
	h2Case('HTTP/2: two :path', Buffer.concat([H2_PREFACE, h2frame(4, 0, 0), req([[':method', 'GET'], [':path', '/'], [':path', '/healthz'], ...base])]), [400], { orReset: true }),
	h2Case('HTTP/2: 24 KiB of headers (HEADERS + CONTINUATION)', Buffer.concat([H2_PREFACE, h2frame(4, 0, 0), continued]), [431], { orReset: true }),
	h2Case('HTTP/2: a 10 KiB :path', Buffer.concat([H2_PREFACE, h2frame(4, 0, 0), req([[':method', 'GET'], [':path', `/${pad(10000)}`], ...base])]), [414, 431], { orReset: true }),
	h2Case('HTTP/2: a request for a stream id the client may not use', Buffer.concat([H2_PREFACE, h2frame(4, 0, 0), req([[':method', 'GET'], [':path', '/healthz'], ...base], 2)]), [], { wantGoaway: true }),
];

const slowRuns = slow.map((c) => c.run().then((r) => ({ c, r })));
const results = await Promise.all(quick.map((c) => c.run().then((r) => ({ c, r }))));
// a burst: 50 garbage connections at once
const burst = await Promise.all(Array.from({ length: 50 }, (_, i) =>
	rawExchange(port, i % 2 ? garbage : Buffer.from(`X${pad(i)}\r\n\r\n`), { waitMs: 4000 })));
results.push(...await Promise.all(slowRuns));

for (const { c, r } of results) {
	const why = c.judge(r);
	check(!why, `${c.name}: ${c.show(r)}`, why);
}
const hung = burst.filter((r) => r.how === 'open' || (r.data.length && h1Status(r.data) !== 400));
check(hung.length === 0, `a burst of 50 garbage connections: every one answered 400 or closed`, `${hung.length} not: ${hung.slice(0, 3).map((r) => `${h1Status(r.data)} ${r.how}`)}`);

/* ---- the live streams throughout: every event from before the first
 * case to ten past the last, ids +1 ---- */
const t1 = Date.now();
await waitEvents(10);
for (const st of live) {
	const ev = st.s.events;
	const during = ev.filter((e) => e.t >= t0 && e.t <= t1);
	const before = ev.filter((e) => e.t < t0).length, after = ev.filter((e) => e.t > t1).length;
	const gap = maxGap(ev.filter((e) => e.t >= t0 - 1000));
	check(!st.s.closed && idGaps(ev).length === 0 && before >= 10 && after >= 10 && st.probs.length === 0,
		`${st.name}: kept receiving throughout (${before} events before, ${during.length} in ${((t1 - t0) / 1000).toFixed(1)} s, ${after} after, ids +1)`,
		`closed ${st.s.closed}, ${before} before, ${after} after, ${idGaps(ev).slice(0, 3)}, ${st.probs.slice(0, 2)}`);
	console.log(`note: ${st.name}: largest gap between events ${gap} ms (printed, not judged)`);
	st.s.close();
}
done();
