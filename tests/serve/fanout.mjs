// Many concurrent SSE subscribers of a traced churn workload: half on the
// memory dialect, half on the valk dialect; HTTP/1.1 connections, HTTP/2
// sessions with one stream and HTTP/2 sessions multiplexing several. Every
// client must receive every event in order from its first one (a full
// state) until it is closed, and all clients of a channel the same
// sequence: the same ids carrying byte-identical events.
//
// node fanout.mjs --port P --pid PID [--clients 100] [--seconds 30]
import http2 from 'node:http2';
import crypto from 'node:crypto';
import {
	SSEStream, ValkModel, parseArgs, sleep, ok, check, done, checkSSEHead,
	idGaps, maxGap, MemoryModel, checkOwnersNamed,
} from './sse.mjs';

const a = parseArgs(process.argv.slice(2));
const port = Number(a.port), pid = Number(a.pid);
const nclients = Number(a.clients || 100), seconds = Number(a.seconds || 30);
const paths = { memory: '/api/diagnostics/memory/stream', valk: '/debug/diagnostics/memory' };

// Half HTTP/1.1; of the HTTP/2 half, 40 % one stream per session and the
// rest five streams per session.
const nh1 = Math.floor(nclients / 2), nh2 = nclients - nh1;
const nsolo = Math.floor(nh2 * 0.4);
const shared = [];
const clients = [];
const t0 = Date.now();
for (let i = 0; i < nclients; i++) {
	if (i % 10 === 0) await sleep(150);	// join at different ids
	const dialect = i % 2 ? 'valk' : 'memory';
	let proto = 'h1', session, kind = 'h1';
	if (i >= nh1) {
		proto = 'h2';
		const j = i - nh1;
		if (j < nsolo) kind = 'h2 solo';
		else {
			const k = Math.floor((j - nsolo) / 5);
			if (!shared[k]) {
				shared[k] = http2.connect(`http://127.0.0.1:${port}`);
				shared[k].on('error', () => {});
			}
			session = shared[k];
			kind = `h2 shared#${k}`;
		}
	}
	const c = { i, dialect, kind, seen: [], probs: [], model: dialect === 'valk' ? new ValkModel() : new MemoryModel({ pid }) };
	c.s = new SSEStream({
		port, path: paths[dialect], proto, session, keepEvents: false, name: `client ${i}`,
		onEvent: (ev) => {
			c.seen.push({ id: ev.id, event: ev.event, h: crypto.createHash('sha1').update(ev.data).digest('hex') });
			c.probs.push(...c.model.apply(ev));
			if (c.probs.length > 20) c.probs.length = 20;
		},
	});
	clients.push(c);
}
const opened = await Promise.all(clients.map((c) => c.s.opened));
ok(`${opened.filter(Boolean).length}/${nclients} clients subscribed in ${Date.now() - t0} ms ` +
	`(${nh1} HTTP/1.1, ${nsolo} HTTP/2 one stream per session, ${nh2 - nsolo} HTTP/2 on ${shared.length} shared sessions)`);
// until every client has a tick's event for each 100 ms of `seconds`
// (a bound of 4x that for a loaded machine, not an expected time)
const want = seconds * 10, end = Date.now() + seconds * 4000;
while (Date.now() < end && clients.some((c) => !c.s.closed && c.seen.length < want)) await sleep(100);
const stillOpen = clients.filter((c) => !c.s.closed).length;
for (const c of clients) c.s.close();
for (const s of shared) s.destroy();

check(stillOpen === nclients, `all ${nclients} clients still subscribed after ${want} events each`, `${nclients - stillOpen} were closed`);

for (const dialect of ['memory', 'valk']) {
	const cs = clients.filter((c) => c.dialect === dialect);
	const fullName = dialect === 'memory' ? 'memory' : 'diagnostics';
	const bad = [];
	for (const c of cs) {
		const head = checkSSEHead(c.s);
		const gaps = idGaps(c.s.events);
		if (head.length || c.s.parser.firstLine !== 'retry: 1000' || c.s.parser.errors.length)
			bad.push(`client ${c.i} (${c.kind}): ${[...head, ...c.s.parser.errors].slice(0, 3).join(', ')} first line '${c.s.parser.firstLine}'`);
		else if (c.seen[0]?.event !== fullName) bad.push(`client ${c.i} (${c.kind}): first event '${c.seen[0]?.event}'`);
		else if (gaps.length) bad.push(`client ${c.i} (${c.kind}): ${gaps.slice(0, 3).join('; ')}`);
		else if (c.probs.length) bad.push(`client ${c.i} (${c.kind}): ${c.probs.slice(0, 2).join('; ')}`);
	}
	check(bad.length === 0, `${dialect}: all ${cs.length} clients: 'retry: 1000', a full state first, then every event in order (ids +1), each well formed`,
		`${bad.length} clients wrong: ${bad.slice(0, 4).join(' | ')}`);
	// the same sequence: from the latest first id to the earliest last id
	const from = Math.max(...cs.map((c) => c.seen[0]?.id ?? Infinity));
	const to = Math.min(...cs.map((c) => c.seen.at(-1)?.id ?? -Infinity));
	const ref = new Map();
	const differ = [];
	for (const c of cs) {
		const window = c.seen.filter((e) => e.id >= from && e.id <= to);
		if (window.length !== to - from + 1) differ.push(`client ${c.i}: ${window.length} events in ids ${from}..${to}`);
		for (const e of window) {
			if (e.id === from) continue;	// a late joiner's full state
			const k = ref.get(e.id);
			if (k === undefined) ref.set(e.id, `${e.event} ${e.h}`);
			else if (k !== `${e.event} ${e.h}`) { differ.push(`client ${c.i}: id ${e.id} differs`); break; }
		}
	}
	check(to - from >= seconds * 10 * 0.6 && differ.length === 0,
		`${dialect}: every client got the same ${to - from + 1} events (ids ${from}..${to}), byte for byte`,
		`window ${from}..${to}; ${differ.slice(0, 4).join('; ')}`);
	const gaps = cs.map((c) => maxGap(c.s.events, 1));
	console.log(`note: ${dialect}: largest gap between events per client: max ${Math.max(...gaps)} ms, median ${gaps.sort((x, y) => x - y)[gaps.length >> 1]} ms`);
	if (dialect === 'valk') checkOwnersNamed({ unnamed: cs.flatMap((c) => c.model.unnamed), ownerMap: cs[0].model.ownerMap }, `valk: all ${cs.length} clients`);
}
done();
