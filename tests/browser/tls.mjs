// The dashboard in chromium over https:// (--tls-cert/--tls-key), with a
// certificate made for the test that the browser trusts by its public key
// alone. The page and its scripts come over HTTP/2 (ALPN), its live
// stream fills every grid with the stand-in's exact state, and the
// runtime's own dashboard stream (/debug/diagnostics/memory) arrives in
// the page by EventSource.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, launch, check, checkTruth, done, until, watchErrors, start, waitLine, freePort, needTracing, cleanUp } from './lib.mjs';

const [TRACER, SIM] = await needTracing('browser_tls', 'valk-trace', 'fixture/valk-sim');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vt-browser-tls-'));
const truthFile = path.join(tmp, 'truth.json');
const cert = path.join(tmp, 'cert.pem'), key = path.join(tmp, 'key.pem');
let sim, tracer, browser;

// The base64 SHA-256 of the certificate's public key, as chromium's
// --ignore-certificate-errors-spki-list wants it.
function spki() {
  const sh = `openssl x509 -pubkey -noout -in '${cert}' | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`;
  return execFileSync('sh', ['-c', sh], { encoding: 'utf8' }).trim();
}

try {
  execFileSync('sh', [path.join(ROOT, 'tests/lib/tls_cert.sh'), tmp]);
  const port = await freePort();
  sim = start(SIM, ['--workload', 'churn', '--truth', truthFile]);
  const pid = Number((await waitLine(sim, /valk-sim: pid (\d+) ready/, 15000, 'valk-sim'))[1]);
  tracer = start(TRACER, ['attach', String(pid), '--listen', `127.0.0.1:${port}`, '--tls-cert', cert, '--tls-key', key]);
  await waitLine(tracer, new RegExp(`valk-trace: serving https://127\\.0\\.0\\.1:${port}/`), 30000, 'valk-trace');

  browser = await launch([`--ignore-certificate-errors-spki-list=${spki()}`]);
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = watchErrors(page);
  const resp = await page.goto(`https://localhost:${port}/debug/`);
  const sec = await resp.securityDetails();
  check(resp.status() === 200 && /^TLS 1\.[23]$/.test(sec?.protocol ?? ''), `page served over ${sec?.protocol} (${resp.status()})`);
  const protos = await page.evaluate(() => [performance.getEntriesByType('navigation')[0],
    ...performance.getEntriesByType('resource')].map(e => `${new URL(e.name).pathname} ${e.nextHopProtocol}`));
  check(protos.length >= 3 && protos.every(p => p.endsWith(' h2')), `the page and its scripts over HTTP/2: ${protos.join(', ')}`);
  const live = () => page.$eval('#sse-dot', d => !d.classList.contains('down'));
  const updates = () => page.evaluate(() => window.vtDashboard.stats().updates);
  check(await until(async () => await live() && await updates() > 5, 10000), 'SSE dot green and live data arriving over https');
  check(await page.$eval('#t-pid', e => e.textContent) === String(pid), 'header shows the target pid');
  await checkTruth(page, pid, truthFile, 'over https');

  const valk = await page.evaluate(() => new Promise(resolve => {
    const es = new EventSource('/debug/diagnostics/memory'), seen = { full: null, deltas: 0 };
    es.addEventListener('diagnostics', e => { seen.full = JSON.parse(e.data); });
    es.addEventListener('diagnostics-delta', () => { seen.deltas++; });
    setTimeout(() => { es.close(); resolve({ slabs: seen.full?.memory?.slabs?.length ?? -1, aio: !!seen.full?.metrics?.aio, deltas: seen.deltas }); }, 2000);
  }));
  check(valk.slabs > 0 && valk.aio && valk.deltas >= 5,
    `the runtime's own dashboard stream in the page: full state of ${valk.slabs} slabs, ${valk.deltas} deltas in 2 s`);
  check(errors.length === 0, `no page errors${errors.length ? ': ' + errors.join('; ') : ''}`);
} catch (err) {
  check(false, err.message);
} finally {
  await cleanUp(browser, [tracer, sim], tmp);
}
done('browser_tls');
