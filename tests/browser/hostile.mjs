// End to end: a slab of the stand-in runtime turns implausible while it is
// traced (vt-poke writes numItems 2^64-1 through /proc/PID/mem, the target
// parked), then is repaired. The dashboard must mark that slab invalid
// with the tracer's reason, keep showing its last good state and every
// other slab exactly, keep updating, and drop the mark once memory is
// plausible again, when every slab is exact again.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { launch, check, done, until, sleep, watchErrors, shotsDir, readTruth, untilShowsTruth, start, waitLine, freePort, needTracing, cleanUp } from './lib.mjs';

const BAD = 'tcp_buffers';
const [TRACER, SIM, POKE] = await needTracing('browser_hostile', 'valk-trace', 'fixture/valk-sim', 'tests/vt-poke');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vt-hostile-'));
const truthFile = path.join(tmp, 'truth.json');
let sim, tracer, browser;

const poke = (what, value) => execFileSync(POKE, [String(sim.pid), what, value], { encoding: 'utf8' }).trim();

// What the page shows of one slab: its mark, badge and problem line.
function panelState(page, name) {
  return page.evaluate(name => {
    const p = document.querySelector(`.pool-panel[data-system="0"][data-slab="${name}"]`);
    if (!p) return null;
    const problem = p.querySelector('.pool-problem');
    return {
      invalid: p.classList.contains('invalid'),
      badge: p.querySelector('.source-badge').textContent,
      problem: problem.hidden ? '' : problem.textContent,
      problemVisible: !problem.hidden && problem.getBoundingClientRect().height > 0,
    };
  }, name);
}

try {
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  sim = start(SIM, ['--workload', 'churn', '--seed', '21', '--truth', truthFile]);
  const pid = Number((await waitLine(sim, /valk-sim: pid (\d+) ready/, 15000, 'valk-sim'))[1]);
  tracer = start(TRACER, ['attach', String(pid), '--listen', listen]);
  await waitLine(tracer, new RegExp(`serving http://${listen.replace(/\./g, '\\.')}/`), 30000, 'valk-trace');

  browser = await launch();
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = watchErrors(page);
  await page.goto(`http://${listen}/`);
  const updates = () => page.evaluate(() => window.vtDashboard.stats().updates);
  check(await until(async () => await updates() > 0 && await panelState(page, BAD), 10000), 'data arriving');
  let st = await panelState(page, BAD);
  check(!st.invalid && st.badge === 'event-traced' && !st.problem, `${BAD}: not marked while plausible (${JSON.stringify(st)})`);

  // Parked, the page exact; then the slab's header turns implausible.
  const truth = await readTruth(pid, truthFile);
  if (!check(truth, 'valk-sim wrote its state')) throw new Error('no truth');
  let differs = await untilShowsTruth(page, truth);
  check(!differs.length, `parked: every slab exact before the corruption${differs.length ? ` (differs: ${differs})` : ''}`);
  const old = poke(`slab.${BAD}.numItems`, '0xffffffffffffffff');
  check(await until(async () => (await panelState(page, BAD)).invalid, 10000), `${BAD}: marked invalid once its numItems reads 2^64-1`);
  st = await panelState(page, BAD);
  const doc = await (await fetch(`http://${listen}/api/diagnostics/memory`)).json();
  const reason = doc.slabs.find(s => s.name === BAD && (s.system ?? 0) === 0)?.problem ?? '';
  check(/numItems = 18446744073709551615/.test(reason) && doc.tracer.warnings.includes(reason),
    `the stream gives the reason, as in tracer.warnings: "${reason}"`);
  check(st.badge === 'INVALID' && st.problemVisible && st.problem.includes(reason),
    `${BAD}: badge INVALID and the reason shown on the slab (${JSON.stringify(st)})`);
  for (const s of truth.slabs.filter(s => s.name !== BAD)) {
    const o = await panelState(page, s.name);
    check(o && !o.invalid && o.badge === 'event-traced', `${s.name}: not marked (${JSON.stringify(o)})`);
  }
  differs = await untilShowsTruth(page, truth);
  check(!differs.length, `every slab, ${BAD} at its last good state, still shown exactly${differs.length ? ` (differs: ${differs})` : ''}`);
  const n = await updates();
  check(await until(async () => await updates() > n + 5, 5000), 'the page keeps updating');
  await page.mouse.move(0, 0);
  await page.screenshot({ path: path.join(shotsDir(), 'dashboard-invalid.png'), fullPage: true });

  // Repaired: the mark goes; running again, every slab exact.
  poke(`slab.${BAD}.numItems`, old);
  check(await until(async () => !(await panelState(page, BAD)).invalid, 10000), `${BAD}: mark gone once repaired`);
  st = await panelState(page, BAD);
  check(st.badge === 'event-traced' && !st.problem, `${BAD}: event-traced, no problem line (${JSON.stringify(st)})`);
  process.kill(pid, 'SIGUSR2');
  await sleep(2500);
  const again = await readTruth(pid, truthFile);
  differs = again ? await untilShowsTruth(page, again) : ['no truth'];
  check(!differs.length, `repaired and busy again: every slab exact${differs.length ? ` (differs: ${differs})` : ''}`);
  process.kill(pid, 'SIGUSR2');
  check(errors.length === 0, `no page errors${errors.length ? ': ' + errors.join('; ') : ''}`);
} catch (err) {
  check(false, err.message);
} finally {
  await cleanUp(browser, [tracer, sim], tmp);
}
done('browser_hostile');
