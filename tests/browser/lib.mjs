// Shared pieces of the browser tests: launching Debian's chromium through
// playwright-core, serving web/ for tests that feed the page synthetic
// documents, and small wait and check functions.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SHOTS = path.join(ROOT, 'tests/browser/screenshots');
const CHROMIUM = '/usr/bin/chromium';

export const SKIP = 77;

// Exits 77 with the reason when the browser cannot run here.
export async function loadPlaywright() {
  if (!fs.existsSync(CHROMIUM)) skip(`${CHROMIUM} not found; install Debian's chromium (make deps)`);
  try {
    return (await import('playwright-core')).chromium;
  } catch {
    return skip('tests/browser/node_modules missing; run make deps (npm install in tests/browser)');
  }
}

// For a test that traces the stand-in: skips unless root and the browser
// can run; returns the paths of the build's binaries `names` (relative to
// VT_BUILD), or exits 1 when one is missing.
export async function needTracing(test, ...names) {
  const build = process.env.VT_BUILD || path.join(ROOT, 'build');
  if (process.getuid() !== 0) skip(`${test}: attaching uprobes needs root`);
  await loadPlaywright();
  const bins = names.map(n => path.join(build, n));
  for (const bin of bins)
    if (!fs.existsSync(bin)) { console.log(`${bin} missing: build it first (make)`); process.exit(1); }
  return bins;
}

// A test's end: its browser closed, its processes stopped, its temporary
// directory (if any) removed.
export async function cleanUp(browser, procs, tmp) {
  if (browser) await browser.close();
  for (const p of procs) await stop(p);
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}

export function skip(why) {
  console.log(why);
  process.exit(SKIP);
}

export async function launch(extraArgs = []) {
  const chromium = await loadPlaywright();
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', ...extraArgs],
  });
}

// The page's routes as valk-trace serves them, straight from web/ (the
// embedded copies are checked byte for byte by tests/web/test_web_assets.c).
// Everything else, the stream included, is 404.
export function serveWeb() {
  const files = {
    '/': ['index.html', 'text/html'], '/debug/': ['index.html', 'text/html'],
    '/app.js': ['app.js', 'text/javascript'], '/model.js': ['model.js', 'text/javascript'],
    '/timeline.js': ['timeline.js', 'text/javascript'],
    '/style.css': ['style.css', 'text/css'],
  };
  const server = http.createServer((req, res) => {
    const f = files[req.url.split('?')[0]];
    if (!f) { res.writeHead(404).end('not found\n'); return; }
    res.writeHead(200, { 'content-type': `${f[1]}; charset=utf-8` });
    res.end(fs.readFileSync(path.join(ROOT, 'web', f[0])));
  });
  return new Promise(resolve => server.listen(0, '127.0.0.1', () =>
    resolve({ url: `http://127.0.0.1:${server.address().port}/`, close: () => server.close() })));
}

let failures = 0;
export function check(cond, what) {
  if (cond) console.log(`ok   ${what}`);
  else { failures++; console.log(`FAIL ${what}`); }
  return cond;
}
export function done(name) {
  console.log(`${name}: ${failures ? `${failures} failed` : 'all passed'}`);
  process.exit(failures ? 1 : 0);
}

export const sleep = ms => new Promise(r => setTimeout(r, ms));

// Polls fn until it returns a truthy value or timeoutMs passes.
export async function until(fn, timeoutMs, stepMs = 100) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > end) return v;
    await sleep(stepMs);
  }
}

// Page collects console errors and uncaught exceptions: a test fails on any.
export function watchErrors(page) {
  const errors = [];
  page.on('pageerror', e => errors.push(`page error: ${e.message}`));
  page.on('console', m => { if (m.type() === 'error' && !/Failed to load resource|EventSource/.test(m.text())) errors.push(`console: ${m.text()}`); });
  return errors;
}

export function shotsDir() {
  fs.mkdirSync(SHOTS, { recursive: true });
  return SHOTS;
}

// Cell states as the page shows them: one letter per slot of a direct grid,
// read from the cells' classes.
export async function gridLetters(page, system, slab) {
  return page.evaluate(([system, slab]) => {
    const grid = document.querySelector(`.pool-canvas[data-system="${system}"][data-slab="${slab}"] .cells`);
    if (!grid) return null;
    const letter = { free: 'F', used: '*', active: 'A', idle: 'I', closing: 'C', connecting: 'N',
      listener: 'T', task: 'K', timer: 'M', unknown: 'U' };
    return Array.from(grid.children, c => letter[/\bs-(\w+)/.exec(c.className)?.[1]] ?? '?').join('');
  }, [system, slab]);
}

// Ground truth letters of a slab of a memory document, decoded here
// independently of the page: states as given, bitmap bit i%8 of byte i/8.
export function truthLetters(slab) {
  if (typeof slab.states === 'string') return slab.states.padEnd(slab.total, 'F').slice(0, slab.total);
  let s = '';
  for (let i = 0; i < slab.total; i++) {
    const byte = parseInt(slab.bitmap.substr((i >> 3) * 2, 2) || '00', 16);
    s += (byte >> (i & 7)) & 1 ? '*' : 'F';
  }
  return s;
}

// Pauses valk-sim (SIGUSR1) and returns the exact state it writes then,
// or null; SIGUSR2 resumes it.
export async function readTruth(pid, file) {
  fs.rmSync(file, { force: true });
  process.kill(pid, 'SIGUSR1');
  const truth = await until(() => {
    try { return JSON.parse(fs.readFileSync(file, 'utf8')); } catch { return null; }
  }, 10000);
  return truth && Array.isArray(truth.slabs) ? truth : null;
}

// Waits until the page shows every slot and the used count of each slab
// of the truth (those named in `only`, if given) as the truth has them;
// returns the slabs that still differ ("system:name").
export async function untilShowsTruth(page, truth, only) {
  const slabs = truth.slabs.filter(s => !only || only.includes(s.name));
  let last = [];
  await until(async () => {
    last = [];
    for (const slab of slabs) {
      const sys = slab.system ?? 0;
      const shown = await gridLetters(page, sys, slab.name);
      const usage = await page.$eval(`.pool-panel[data-system="${sys}"][data-slab="${slab.name}"] .pool-usage`,
        e => e.textContent).catch(() => '');
      const used = Number(usage.split(' / ')[0].replace(/,/g, ''));
      if (shown !== truthLetters(slab) || used !== slab.used) last.push(`${sys}:${slab.name}`);
    }
    return last.length === 0;
  }, 15000, 200);
  return last;
}

// Pauses valk-sim, reads its exact state, checks that the page shows the
// same slots and counts (and a handle grid of the right size), then
// resumes it.
export async function checkTruth(page, pid, truthFile, label) {
  const truth = await readTruth(pid, truthFile);
  if (!check(truth, `${label}: valk-sim wrote its state`)) return;
  const differs = await untilShowsTruth(page, truth);
  check(!differs.length, `${label}: every slot of every slab shows the runtime's state${differs.length ? ` (differs: ${differs.join(', ')})` : ''}`);
  const handles = truth.slabs.find(s => s.name === 'handles');
  if (handles) {
    const n = await page.$eval(`.pool-canvas[data-system="${handles.system ?? 0}"][data-slab="handles"] .cells`, g => g.children.length).catch(() => -1);
    check(n === handles.total, `${label}: handle grid has exactly ${handles.total} cells (${n})`);
  }
  process.kill(pid, 'SIGUSR2');
}

// A child process whose output is kept (and echoed), with a wait for a
// line, a stop that escalates to SIGKILL, and a free loopback port.
export function start(cmd, args) {
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  p.out = '';
  const take = d => { p.out += d; process.stdout.write(`  [${path.basename(cmd)}] ${d}`.replace(/\n(?=.)/g, `\n  [${path.basename(cmd)}] `)); };
  p.stdout.setEncoding('utf8').on('data', take);
  p.stderr.setEncoding('utf8').on('data', take);
  p.exited = new Promise(r => p.on('exit', (code, sig) => r(code ?? sig)));
  return p;
}
export async function waitLine(p, re, ms, what) {
  const m = await until(() => re.exec(p.out) || (p.exitCode !== null && 'exited'), ms);
  if (!m || m === 'exited') throw new Error(`${what}: ${m === 'exited' ? `exited (${p.exitCode})` : `no "${re.source}" within ${ms} ms`}`);
  return m;
}
export async function stop(p) {
  if (!p || p.exitCode !== null || p.signalCode) return;
  p.kill('SIGTERM');
  if (await Promise.race([p.exited, sleep(5000).then(() => 'timeout')]) === 'timeout') {
    p.kill('SIGKILL');
    await p.exited;
  }
}
export function freePort() {
  return new Promise(resolve => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}
