// Time travel in chromium: valk-sim's churn traced live with --record while
// an SSE client keeps every state the live trace sent; the recording
// replayed; in the replay's dashboard, a click on the timeline scrubs to a
// recorded instant and every grid cell must equal the state the live trace
// sent for that instant; one tick back and forward likewise; jumping to a
// marked moment moves every panel there; pause freezes the view while the
// replay goes on; a slot's tooltip gives its history, which holds every
// state the live trace sent of that slot, in order; "live" returns to the
// stream.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { applyMemoryDelta } from '../../web/model.js';
import { slotHistoryText, tickFrom } from '../../web/timeline.js';
import { launch, check, done, until, watchErrors, shotsDir, gridLetters, truthLetters, start, waitLine, freePort, needTracing, cleanUp } from './lib.mjs';


// Every state of a memory-dialect SSE stream, until it ends: full events
// as they are, deltas applied to the state before them (web/model.js).
function collect(url, docs) {
  return new Promise(resolve => {
    http.get(url, res => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', d => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const ev = buf.slice(0, i); buf = buf.slice(i + 2);
          const data = ev.split('\n').filter(l => l.startsWith('data: ')).map(l => l.slice(6)).join('\n');
          if (/^event: memory$/m.test(ev) && data) docs.push(JSON.parse(data));
          else if (/^event: memory-delta$/m.test(ev) && data && docs.length)
            docs.push(applyMemoryDelta(docs[docs.length - 1], JSON.parse(data)));
        }
      });
      res.on('end', resolve);
      res.on('error', resolve);
    }).on('error', resolve);
  });
}

const [TRACER, SIM] = await needTracing('browser_timetravel', 'valk-trace', 'fixture/valk-sim');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vt-timetravel-'));
const rec = path.join(tmp, 'churn.rec');
let sim, tracer, replay, browser;

// The live state at wall time t: the last document sent at or before it.
function liveAt(live, t) {
  let d = null;
  for (const x of live) if (x.ts_ms <= t) d = x;
  return d;
}

// Waits until every slab with a cell grid shows the document's letters.
async function matches(page, doc, label) {
  let bad = [];
  const ok = await until(async () => {
    bad = [];
    let grids = 0;
    for (const slab of doc.slabs) {
      const shown = await gridLetters(page, slab.system ?? 0, slab.name);
      if (shown === null) continue;
      grids++;
      if (shown !== truthLetters(slab)) bad.push(slab.name);
    }
    return grids > 0 && bad.length === 0;
  }, 5000, 100);
  check(ok, `${label}: every cell equals the state the live trace sent at ${doc.ts_ms}${ok ? '' : ` (differs: ${bad.join(', ')})`}`);
}

async function shownTick(page, ticks, i, label) {
  let got;
  await until(async () => (got = await page.evaluate(() => window.vtTimeline.state().shown)) === ticks[i], 5000);
  check(got === ticks[i], `${label}: the page shows tick ${i} (${got} == ${ticks[i]})`);
}

try {
  sim = start(SIM, ['--workload', 'churn', '--seed', '9', '--port', '0', '--max-handles', '256']);
  const pid = Number((await waitLine(sim, /pid (\d+) ready/, 10000, 'valk-sim'))[1]);
  const p1 = await freePort();
  tracer = start(TRACER, ['attach', String(pid), '--listen', `127.0.0.1:${p1}`, '--record', rec, '--duration', '6']);
  await waitLine(tracer, /serving/, 15000, 'tracer');
  const live = [];
  const streamed = collect(`http://127.0.0.1:${p1}/api/diagnostics/memory/stream`, live);
  check(await tracer.exited === 0, 'live trace with --record exits 0');
  await streamed;
  check(live.length > 20, `the live trace sent ${live.length} states`);

  const p2 = await freePort();
  replay = start(TRACER, ['replay', rec, '--speed', '0.5', '--listen', `127.0.0.1:${p2}`]);
  await waitLine(replay, /serving/, 10000, 'replay');
  browser = await launch();
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = watchErrors(page);
  await page.goto(`http://127.0.0.1:${p2}/`);
  const shown = await until(() => page.evaluate(() => !document.getElementById('timeline').hidden &&
    window.vtTimeline.history()?.ticks.length > 0), 10000);
  check(shown, 'the timeline appears with the recording\'s ticks');
  const h = await page.evaluate(() => window.vtTimeline.history());
  const ticks = h.ticks;
  check(h.slabs.length >= 2 && h.marks.some(m => m.kind === 'peak'), `timeline: ${h.slabs.length} slab series, ${h.marks.length} marks`);

  // pause: the page stays at its instant while the replay's stream goes on
  const playing = [];
  http.get(`http://127.0.0.1:${p2}/api/diagnostics/memory/stream`, res => {
    res.setEncoding('utf8');
    res.on('data', d => { playing.push(...(d.match(/^event: memory(-delta)?$/mg) || [])); });
  });
  await page.click('#tl-pause');
  const paused = await until(() => page.evaluate(() => window.vtTimeline.state().shown), 5000);
  const frozen = await page.evaluate(() => window.vtDashboard.stats().updates);
  const seen = playing.length;
  const went = await until(() => playing.length >= seen + 5, 10000, 50);
  check(went, `the replay went on while paused (${playing.length - seen} states sent)`);
  check(await page.evaluate(() => window.vtDashboard.stats().updates) === frozen &&
    await page.evaluate(() => window.vtTimeline.state().shown) === paused,
    `pause freezes the view at ${paused} (${frozen} updates, none since)`);
  check(await page.locator('#tl-when').textContent().then(t => t.startsWith('paused at')), 'the timeline says paused');
  // (before the live client connected there is nothing to compare with)
  if (liveAt(live, paused)) await matches(page, liveAt(live, paused), 'paused');

  // jump: each marked moment of the live window moves every panel there
  const inLive = h.marks.filter(m => m.t >= live[0].ts_ms && m.t <= live[live.length - 1].ts_ms);
  check(inLive.length > 0, `${inLive.length} marks in the live stream's window`);
  for (const m of inLive.slice(0, 3)) {
    const want = ticks[tickFrom(ticks, m.t)];
    await page.selectOption('#tl-jump', String(m.t));
    await shownTick(page, ticks, ticks.indexOf(want), `jump to the ${m.kind} mark at ${m.t}`);
    await matches(page, liveAt(live, want), `jumped to the ${m.kind} mark`);
    const header = await page.evaluate(() => window.vtDashboard.stats().shownTs);
    check(header === want, `the panels' instant is the mark's tick (${header} == ${want})`);
  }

  // scrub: a click on the timeline where a recorded instant is
  const target = live[Math.floor(live.length / 2)].ts_ms;
  const box = await page.locator('#tl-canvas').boundingBox();
  const x = box.x + (target - ticks[0]) / (ticks[ticks.length - 1] - ticks[0]) * box.width;
  const was = await page.evaluate(() => window.vtTimeline.state().shown);
  await page.mouse.click(x, box.y + box.height / 2);
  const at = await until(() => page.evaluate(w => {
    const s = window.vtTimeline.state().shown;
    return s !== w && s;
  }, was), 5000);
  const i = ticks.indexOf(at);
  check(i > 0 && Math.abs(at - target) < 1000, `scrub lands on tick ${i} (${at}, aimed at ${target})`);
  await matches(page, liveAt(live, at), 'scrubbed');

  await page.click('#tl-back');
  await shownTick(page, ticks, i - 1, 'one tick back');
  await matches(page, liveAt(live, ticks[i - 1]), 'one tick back');
  await page.click('#tl-fwd');
  await page.click('#tl-fwd');
  await shownTick(page, ticks, i + 1, 'two ticks forward');
  await matches(page, liveAt(live, ticks[i + 1]), 'two ticks forward');
  await page.screenshot({ path: path.join(shotsDir(), 'timetravel-1280.png') });

  // a slot's tooltip gives its history: the slot changing most in the
  // live stream; every state the live trace sent of it is in the history,
  // in order (the history also has the changes between two ticks), and
  // the tooltip shows the history's newest lines
  const letters = live.map(d => truthLetters(d.slabs.find(sl => sl.name === 'handles')));
  let slot = 0, most = -1;
  for (let k = 0; k < letters[0].length; k++) {
    let n = 0;
    for (let j = 1; j < letters.length; j++) n += letters[j][k] !== letters[j - 1][k];
    if (n > most) { most = n; slot = k; }
  }
  const sys = live[0].slabs.find(sl => sl.name === 'handles').system ?? 0;
  const past = await (await fetch(`http://127.0.0.1:${p2}/api/history/slot?system=${sys}&slab=handles&slot=${slot}`)).json();
  const states = past.changes.map(c => c.state);
  let k = 0, inOrder = true;
  for (const l of letters.map(x => x[slot]).filter((c, j, a) => !j || c !== a[j - 1])) {
    while (k < states.length && states[k] !== l) k++;
    if (k === states.length) { inOrder = false; break; }
    k++;
  }
  check(inOrder && !past.cut && past.dropped === 0,
    `slot ${slot}'s history (${past.changes.length} changes) holds its ${most} changes the live trace sent, in order`);
  check(past.changes.filter(c => c.event === 'released').every(c => c.state === 'F') &&
    past.changes.filter(c => c.event === 'acquired').every(c => c.state !== 'F' && c.since === c.t),
    'each release leaves it free, each acquire in use since then');
  const cell = page.locator('.pool-canvas[data-slab="handles"] .cells > div').nth(slot);
  const expected = slotHistoryText(past, ticks[0]);
  const tip = await until(async () => {
    await cell.hover({ position: { x: 1, y: 1 } });
    await cell.hover({ position: { x: 2, y: 2 } });
    const t = await page.locator('#tip').textContent();
    return t.includes('history:') && t;
  }, 5000, 200);
  check(tip && tip.endsWith(`history:\n${expected}`),
    `slot ${slot}'s tooltip ends with its history${tip ? `: ${tip.split('\n').slice(-2).join(' / ')}` : ''}` +
    (tip && !tip.endsWith(expected) ? ` (shows ${JSON.stringify(tip.slice(-300))}, want ${JSON.stringify(expected.slice(-300))})` : ''));

  // live: back to the stream
  const before = await page.evaluate(() => window.vtDashboard.stats().updates);
  await page.click('#tl-live');
  const back = await until(() => page.evaluate(b => window.vtTimeline.state().index === -1 &&
    window.vtDashboard.stats().updates > b && window.vtDashboard.stats().status === 'up', before), 5000);
  check(back, '"live" returns to the stream');
  check(await page.locator('#tl-live').isDisabled(), '"live" is disabled while live');
  check(errors.length === 0, `no page errors${errors.length ? `: ${errors.join('; ')}` : ''}`);
} catch (e) {
  check(false, e.message);
} finally {
  await cleanUp(browser, [replay, tracer, sim], tmp);
}
done('timetravel');
