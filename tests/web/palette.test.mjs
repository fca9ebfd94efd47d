// The dashboard's state colours (web/style.css): every slot state, the
// change flash and the high-water mark are told apart by everyone — for
// normal vision and for simulated deuteranopia and protanopia each pair
// differs by at least MIN_DE (CIEDE2000); tritanopia, rarer, by MIN_DE_TRI.
// The HWM marker also stands out from the usage bar it sits on.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import * as M from '../../web/model.js';
import { rgbOf, simulate, lab, deltaE } from './colour.mjs';

const MIN_DE = 12;
const MIN_DE_TRI = 8;
const css = fs.readFileSync(new URL('../../web/style.css', import.meta.url), 'utf8');
const html = fs.readFileSync(new URL('../../web/index.html', import.meta.url), 'utf8');
const cssVar = name => {
  const m = new RegExp(`--${name}:\\s*(#[0-9a-fA-F]{6})\\s*;`).exec(css);
  assert.ok(m, `web/style.css defines --${name} as #rrggbb`);
  return m[1];
};

const marks = [...M.STATES.map(s => [s.label, cssVar(`state-${s.name}`)]),
  ['change flash', cssVar('state-flash')], ['high-water mark', cssVar('hwm-marker')]];
const bars = [['ok bar', cssVar('color-ok')], ['warning bar', cssVar('color-warning')],
  ['critical bar', cssVar('color-error')], ['bar track', cssVar('bg-tertiary')]];

function closest(pairs, kind) {
  const view = hex => lab(kind === 'normal' ? rgbOf(hex) : simulate(rgbOf(hex), kind));
  let worst = { d: Infinity };
  for (const [[a, x], [b, y]] of pairs) {
    const d = deltaE(view(x), view(y));
    if (d < worst.d) worst = { d, a, b };
  }
  return worst;
}

const allPairs = list => list.flatMap((p, i) => list.slice(i + 1).map(q => [p, q]));

test('colour maths: CIEDE2000 reference pair, simulation keeps greys', () => {
  // Sharma et al. 2005, table 1, pair 1
  assert.equal(deltaE([50, 2.6772, -79.7751], [50, 0, -82.7485]).toFixed(4), '2.0425');
  const grey = simulate(rgbOf('#808080'), 'deuteranopia');
  grey.forEach(c => assert.ok(Math.abs(c - 128 / 255) < 0.01));
});

for (const [kind, min] of [['normal', MIN_DE], ['deuteranopia', MIN_DE], ['protanopia', MIN_DE], ['tritanopia', MIN_DE_TRI]]) {
  test(`${kind}: every state, the flash and the HWM marker distinct`, () => {
    const w = closest(allPairs(marks), kind);
    assert.ok(w.d >= min, `${w.a} and ${w.b} differ by ${w.d.toFixed(1)} < ${min}`);
    const h = closest(bars.map(b => [marks[marks.length - 1], b]), kind);
    assert.ok(h.d >= min, `${h.a} on the ${h.b} differs by ${h.d.toFixed(1)} < ${min}`);
  });
}

test('the legend names every state, the flash and the HWM marker', () => {
  for (const s of M.STATES) assert.ok(html.includes(`legend-dot s-${s.name}"></span>${s.label}<`), s.label);
  assert.ok(html.includes('legend-dot flash'));
  assert.ok(html.includes('legend-dot hwm'));
});
