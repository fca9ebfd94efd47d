// make bench: N SSE subscribers of one stream over HTTP/1.1 for S seconds,
// each reading and counting what arrives (nothing is parsed: the tracer's
// side is what is measured). Prints one line:
//   sse clients N seconds S bytes B events E per_client_bytes_s X
// node sse_load.mjs --port P [--path /api/diagnostics/memory/stream]
//                   [--clients 100] [--seconds 5] [--token T]
import http from 'node:http';

const a = {};
for (let i = 2; i + 1 < process.argv.length; i += 2) a[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const port = Number(a.port), n = Number(a.clients || 100), seconds = Number(a.seconds || 5);
const path = a.path || '/api/diagnostics/memory/stream';
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
let bytes = 0, events = 0, opened = 0, counting = false;
const reqs = [];

for (let i = 0; i < n; i++) {
	const req = http.get({ host: '127.0.0.1', port, path, agent,
		headers: a.token ? { Authorization: `Bearer ${a.token}` } : {} }, (res) => {
		opened++;
		res.on('data', (chunk) => {
			if (!counting) return;
			bytes += chunk.length;
			for (let j = chunk.indexOf(10); j >= 0; j = chunk.indexOf(10, j + 1))
				if (chunk[j + 1] === 10) events++;	// a blank line ends an event
		});
		res.on('error', () => {});
	});
	req.on('error', () => {});
	reqs.push(req);
}
// every client subscribed (and past its first full state) before counting
const t0 = Date.now();
while (opened < n && Date.now() - t0 < 10000) await new Promise((r) => setTimeout(r, 50));
await new Promise((r) => setTimeout(r, 1000));
counting = true;
await new Promise((r) => setTimeout(r, seconds * 1000));
counting = false;
console.log(`sse clients ${opened} seconds ${seconds} bytes ${bytes} events ${events} ` +
	`per_client_bytes_s ${opened ? Math.round(bytes / opened / seconds) : 0}`);
for (const r of reqs) r.destroy();
process.exit(opened === n ? 0 : 1);
