// Slow HTTP/2 readers for the stand-in runtime's http workload. A "big"
// worker opens its flow-control windows wide, asks for a body larger than
// loopback's socket buffers absorb and reads nothing for a while, so the
// runtime's writes stay pending (tcp buffers held; run the target with
// --tcp-buffers 512); a "small" worker keeps the default 64 KiB windows and
// asks for more, so its stream stays open (a stream arena held). Each then
// reads (big) or just closes (small), and starts over. Bounded by --seconds.
//
// node slowload.mjs --port P [--big 1] [--small 2] [--seconds 40]
import net from 'node:net';
import { parseArgs, h2frame, hpack, H2_PREFACE } from './sse.mjs';

const a = parseArgs(process.argv.slice(2));
const port = Number(a.port), end = Date.now() + 1000 * Number(a.seconds || 40);
const BIG = 6 << 20;
let seed = 12345;
const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);

function settings(pairs) {
	const b = Buffer.alloc(6 * pairs.length);
	pairs.forEach(([id, v], i) => { b.writeUInt16BE(id, 6 * i); b.writeUInt32BE(v, 6 * i + 2); });
	return h2frame(4, 0, 0, b);
}

function windowUpdate(stream, inc) {
	const b = Buffer.alloc(4);
	b.writeUInt32BE(inc);
	return h2frame(8, 0, stream, b);
}

function once(big) {
	return new Promise((resolve) => {
		const sock = net.connect(port, '127.0.0.1');
		const hold = 500 + Math.floor(rand() * 3000);
		let timer;
		const finish = () => { clearTimeout(timer); sock.destroy(); resolve(); };
		sock.on('error', finish);
		sock.on('close', finish);
		sock.on('connect', () => {
			sock.write(Buffer.concat([
				H2_PREFACE,
				big ? settings([[4, BIG]]) : settings([]),	// INITIAL_WINDOW_SIZE
				big ? windowUpdate(0, BIG) : Buffer.alloc(0),
				h2frame(1, 0x5, 1, hpack([[':method', 'GET'], [':scheme', 'http'],
					[':authority', `127.0.0.1:${port}`], [':path', `/bytes/${big ? BIG : 200000}`]])),
			]));
			sock.pause();
			timer = setTimeout(() => {
				if (!big) return finish();
				sock.resume();
				sock.on('data', () => {});
				timer = setTimeout(finish, 300 + Math.floor(rand() * 700));
			}, hold);
		});
	});
}

async function worker(big) {
	while (Date.now() < end) {
		await once(big);
		await new Promise((r) => setTimeout(r, 100 + Math.floor(rand() * 400)));
	}
}

await Promise.all([...Array.from({ length: Number(a.big ?? 1) }, () => worker(true)),
	...Array.from({ length: Number(a.small ?? 2) }, () => worker(false))]);
