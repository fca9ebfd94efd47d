// Prometheus as a fleet would use it: the series a Prometheus server
// scraped from several tracers, read back through its HTTP query API, equal
// each tracer's own /metrics (call it while the targets are paused, so the
// values hold still), every tracer's pid present.
//
// node prom.mjs --prom URL --tracers HOST:PORT=PID,HOST:PORT=PID
//               [--families valk_slab_slots,...] [--exact valk_slab_slots]
import { parseArgs, check, done } from './sse.mjs';

const a = parseArgs(process.argv.slice(2));
const tracers = a.tracers.split(',').map((x) => { const [inst, pid] = x.split('='); return { inst, pid }; });
const families = (a.families || 'valk_slab_slots').split(',');
const exact = (a.exact || 'valk_slab_slots').split(',');

// Prometheus text format 0.0.4 -> [{name, labels: {...}, value}]
export function parseText(text) {
	const out = [];
	for (const line of text.split('\n')) {
		if (!line || line.startsWith('#')) continue;
		const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$/.exec(line);
		if (!m) throw new Error(`unparsable line: ${line}`);
		const labels = {};
		const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/gy;
		let l;
		while (m[2] && (l = re.exec(m[2]))) labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
		out.push({ name: m[1], labels, value: Number(m[3]) });
	}
	return out;
}

const key = (labels) => JSON.stringify(Object.entries(labels).filter(([k]) => !['__name__', 'instance', 'job'].includes(k)).sort());

async function query(q) {
	const r = await fetch(`${a.prom}/api/v1/query?query=${encodeURIComponent(q)}`);
	const doc = await r.json();
	if (doc.status !== 'success') throw new Error(`query ${q}: ${JSON.stringify(doc).slice(0, 200)}`);
	return doc.data.result;
}

const up = await query('up');
for (const t of tracers) {
	const u = up.find((r) => r.metric.instance === t.inst);
	check(u && u.value[1] === '1', `Prometheus scrapes ${t.inst}: up == 1`, JSON.stringify(u));
}

for (const fam of families) {
	const res = await query(fam);
	for (const t of tracers) {
		const mine = res.filter((r) => r.metric.instance === t.inst);
		const pids = [...new Set(mine.map((r) => r.metric.pid))];
		check(mine.length > 0 && pids.length === 1 && pids[0] === t.pid,
			`${fam} from ${t.inst}: ${mine.length} series, all with pid="${t.pid}"`, `pids ${JSON.stringify(pids)}, ${mine.length} series`);
	}
}

for (const fam of exact) {
	const res = await query(fam);
	for (const t of tracers) {
		const text = await (await fetch(`http://${t.inst}/metrics`)).text();
		const own = new Map(parseText(text).filter((s) => s.name === fam).map((s) => [key(s.labels), s.value]));
		const got = new Map(res.filter((r) => r.metric.instance === t.inst).map((r) => [key(r.metric), Number(r.value[1])]));
		const probs = [];
		for (const [k, v] of own) if (got.get(k) !== v) probs.push(`${k}: /metrics ${v}, Prometheus ${got.get(k)}`);
		for (const k of got.keys()) if (!own.has(k)) probs.push(`${k}: only in Prometheus`);
		check(own.size > 0 && probs.length === 0,
			`${fam} of ${t.inst} (pid ${t.pid}) read back through /api/v1/query equals its /metrics: ${own.size} series`,
			`${own.size} series in /metrics; ${probs.slice(0, 4).join('; ')}`);
	}
}
done();
