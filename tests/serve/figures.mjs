// The full valk document of a paused target compared with its ground
// truth, every field (compareStateDoc): run by the shell once the target
// is paused and the tracer has read it, in whatever mode the tracer runs.
//
// node figures.mjs --port P --pid PID --sim-start MS --truth FILE
import { parseArgs, readTruth, compareStateDoc, fail, done } from './sse.mjs';

const a = parseArgs(process.argv.slice(2));
const ctx = { pid: Number(a.pid), simStartMs: Number(a['sim-start']) };
try {
	const r = await fetch(`http://127.0.0.1:${a.port}/debug/metrics/state`);
	compareStateDoc(await r.json(), readTruth(a.truth), 'GET /debug/metrics/state', ctx);
} catch (e) {
	fail(`GET /debug/metrics/state: ${e.stack}`);
}
done();
