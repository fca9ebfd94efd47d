// End to end: the overhead budget on the dashboard. The stand-in's static
// build is traced at the default --max-overhead 5; flat-out slab traffic
// takes the probes past it, the tracer takes the slab probes off and reads
// the slabs; once the traffic stops they go back on. The header must show
// the estimate against the budget as the stream gives it, and every slab
// whether it is event-traced or read from memory, at each stage.
import path from 'node:path';
import { launch, check, done, until, watchErrors, shotsDir, start, waitLine, freePort, needTracing, cleanUp } from './lib.mjs';

const [TRACER, SIM] = await needTracing('browser_budget', 'valk-trace', 'fixture/valk-sim-static');
let sim, tracer, browser;

// The header's overhead figure and every slab's source badge.
function shown(page) {
  return page.evaluate(() => {
    const box = document.getElementById('tr-overhead-box');
    return {
      visible: !box.hidden && box.getBoundingClientRect().height > 0,
      level: /\bov-(\w+)/.exec(box.className)?.[1],
      text: document.getElementById('tr-overhead').textContent,
      note: document.getElementById('tr-budget').textContent,
      sources: Array.from(document.querySelectorAll('.pool-panel'),
        p => `${p.dataset.slab}:${p.querySelector('.source-badge').textContent}`),
    };
  });
}

const allAre = (s, text) => s.sources.length > 0 && s.sources.every(x => x.endsWith(`:${text}`));
const pct = v => `${Number(v).toFixed(1)}%`;

// Waits until the header shows what the stream says now (the estimate
// moves every second: the page must follow it) and the slabs `source`.
async function follows(page, url, source, label) {
  let last, ov;
  const ok = await until(async () => {
    ov = (await (await fetch(`${url}api/diagnostics/memory`)).json()).tracer.overhead;
    last = await shown(page);
    return ov && last.visible && last.text === `${pct(ov.estimate_pct)} / ${pct(ov.max_pct)}` && allAre(last, source);
  }, 15000, 150);
  check(ok, `${label}: header shows the stream's ${ov ? `${pct(ov.estimate_pct)} of ${pct(ov.max_pct)}` : 'estimate'}, every slab ${source} (${JSON.stringify(last)})`);
  return { ov, shown: last };
}

try {
  const port = await freePort();
  const listen = `127.0.0.1:${port}`, url = `http://${listen}/`;
  sim = start(SIM, ['--workload', 'churn', '--seed', '3', '--port', '0', '--ops', '3000000', '--hold']);
  const pid = Number((await waitLine(sim, /valk-sim: pid (\d+) ready/, 15000, 'valk-sim'))[1]);
  tracer = start(TRACER, ['attach', String(pid), '--listen', listen]);
  await waitLine(tracer, /serving http:/, 30000, 'valk-trace');

  browser = await launch();
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = watchErrors(page);
  await page.goto(url);

  let r = await follows(page, url, 'event-traced', 'idle');
  check(r.shown.note === 'slabs event-traced' && r.shown.level === 'ok', `idle: within budget, "${r.shown.note}"`);

  process.kill(pid, 'SIGUSR2');	// flat out
  await waitLine(tracer, /slab operations are read, not probed/, 15000, 'valk-trace (detach)');
  r = await follows(page, url, 'read from memory', 'over budget');
  check(r.ov.slab_probes === 'detached' && r.shown.level === 'read' &&
    r.shown.note === `slabs read: ${pct(r.ov.projected_pct)} if probed` && r.ov.projected_pct > r.ov.max_pct,
  `over budget: "${r.shown.note}", projected ${pct(r.ov.projected_pct)} over ${pct(r.ov.max_pct)}`);
  const metrics = await (await fetch(`${url}metrics`)).text();
  check(/^valk_trace_overhead_percent\{pid="\d+"\} [\d.]+$/m.test(metrics) &&
    /^valk_trace_overhead_budget_percent\{pid="\d+"\} 5\.000$/m.test(metrics) &&
    /^valk_trace_slab_probes_attached\{pid="\d+"\} 0$/m.test(metrics), '/metrics: the estimate, the 5% budget, slab probes off');
  await page.mouse.move(0, 0);
  await page.screenshot({ path: path.join(shotsDir(), 'dashboard-budget.png') });

  await waitLine(sim, /done ops/, 120000, 'valk-sim run');
  await waitLine(tracer, /probing slab operations again/, 20000, 'valk-trace (re-attach)');
  r = await follows(page, url, 'event-traced', 'back within budget');
  check(r.ov.slab_probes === 'attached' && r.shown.note === 'slabs event-traced', `back within budget: "${r.shown.note}"`);
  check(errors.length === 0, `no page errors${errors.length ? ': ' + errors.join('; ') : ''}`);
} catch (err) {
  check(false, err.message);
} finally {
  await cleanUp(browser, [tracer, sim]);
}
done('browser_budget');
