// End to end: the stand-in runtime (valk-sim) traced by valk-trace, its
// dashboard in chromium. Checks the page against the runtime's own exact
// state (valk-sim writes it on SIGUSR1 while paused), flashes on change,
// the SSE dot across a tracer restart on the same port, and screenshots.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launch, check, checkTruth, done, until, sleep, watchErrors, shotsDir, start, waitLine, stop, freePort, needTracing, cleanUp } from './lib.mjs';

const [TRACER, SIM] = await needTracing('browser_dashboard', 'valk-trace', 'fixture/valk-sim');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vt-browser-'));
const truthFile = path.join(tmp, 'truth.json');
let sim, tracer, browser;

try {
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  sim = start(SIM, ['--workload', 'churn', '--truth', truthFile]);
  const pid = Number((await waitLine(sim, /valk-sim: pid (\d+) ready/, 15000, 'valk-sim'))[1]);
  const startTracer = async () => {
    const t = start(TRACER, ['attach', String(pid), '--listen', listen]);
    await waitLine(t, new RegExp(`valk-trace: serving http://${listen.replace(/\./g, '\\.')}/`), 30000, 'valk-trace');
    return t;
  };
  tracer = await startTracer();

  browser = await launch();
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = watchErrors(page);
  await page.goto(`http://${listen}/debug/`);
  const live = () => page.$eval('#sse-dot', d => !d.classList.contains('down'));
  const updates = () => page.evaluate(() => window.vtDashboard.stats().updates);
  check(await until(async () => await live() && await updates() > 0, 10000), 'SSE dot green and data arriving');
  check(await page.$eval('#t-pid', e => e.textContent) === String(pid), 'header shows the target pid');

  await checkTruth(page, sim.pid, truthFile, 'attached');

  // Every state change of a cell comes with a flash, for all grids.
  await page.evaluate(() => {
    window.vtSeen = { changes: 0, flashed: 0, unflashed: [] };
    const state = c => /\bs-\w+/.exec(c)?.[0];
    new MutationObserver(records => {
      for (const r of records) {
        if (state(r.oldValue) === state(r.target.className)) continue;
        window.vtSeen.changes++;
        if (/\bf[ab]\b/.test(r.target.className)) window.vtSeen.flashed++;
        else window.vtSeen.unflashed.push(r.target.className);
      }
    }).observe(document.getElementById('systems'), { subtree: true, attributes: true, attributeFilter: ['class'], attributeOldValue: true });
  });
  await until(() => page.evaluate(() => window.vtSeen.changes >= 20), 15000, 250);
  const seen = await page.evaluate(() => window.vtSeen);
  check(seen.changes > 0, `slots changed under churn (${seen.changes} cell changes seen)`);
  check(seen.changes === seen.flashed, `every changed cell flashed (${seen.flashed}/${seen.changes})`);

  const dir = shotsDir();
  await page.mouse.move(0, 0);
  await page.screenshot({ path: path.join(dir, 'dashboard-1280.png'), fullPage: true });
  await page.setViewportSize({ width: 500, height: 900 });
  await sleep(300);
  await page.screenshot({ path: path.join(dir, 'dashboard-500.png'), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });

  // The tracer goes away: red dot. It comes back on the same port: green
  // again, by itself, with fresh data.
  await stop(tracer);
  check(await until(async () => !await live(), 10000), 'SSE dot red once the tracer is gone');
  await sleep(2500);
  check(!await live(), 'still red while nothing listens');
  const before = await updates();
  tracer = await startTracer();
  check(await until(live, 40000, 200), 'SSE dot green again after the tracer restarts');
  check(await until(async () => await updates() > before, 10000), 'fresh data after the restart');
  await checkTruth(page, sim.pid, truthFile, 'restarted');
  check(errors.length === 0, `no page errors${errors.length ? ': ' + errors.join('; ') : ''}`);
} catch (err) {
  check(false, err.message);
} finally {
  await cleanUp(browser, [tracer, sim], tmp);
}
done('browser_dashboard');
