// Unit tests of web/timeline.js's pure parts (node --test tests/web/).
import test from 'node:test';
import assert from 'node:assert/strict';
import { nearestTick, offsetText, slotHistoryText, tickFrom } from '../../web/timeline.js';

test('nearestTick picks the closest tick, ends included', () => {
  const ticks = [1000, 1100, 1200, 1350];
  assert.equal(nearestTick(ticks, 0), 0);
  assert.equal(nearestTick(ticks, 1049), 0);
  assert.equal(nearestTick(ticks, 1051), 1);
  assert.equal(nearestTick(ticks, 1200), 2);
  assert.equal(nearestTick(ticks, 1300), 3);
  assert.equal(nearestTick(ticks, 99999), 3);
  assert.equal(nearestTick([5], 1), 0);
});

test('tickFrom picks the first tick at or after a moment', () => {
  const ticks = [1000, 1100, 1200, 1350];
  assert.equal(tickFrom(ticks, 0), 0);
  assert.equal(tickFrom(ticks, 1000), 0);
  assert.equal(tickFrom(ticks, 1001), 1);
  assert.equal(tickFrom(ticks, 1200), 2);
  assert.equal(tickFrom(ticks, 1201), 3);
  assert.equal(tickFrom(ticks, 99999), 3);
  assert.equal(tickFrom([5], 9), 0);
});

test('offsetText is seconds from the start, one decimal', () => {
  assert.equal(offsetText(0), '+0.0 s');
  assert.equal(offsetText(12345), '+12.3 s');
});

test('offsetText is signed: an acquire before the history began', () => {
  assert.equal(offsetText(-2500), '-2.5 s');
});

test('slotHistoryText: acquired, state changes with owners, released; the newest 8', () => {
  const doc = { cut: false, dropped: 0, changes: [
    { t: 1000, event: 'start', state: 'F', owner: '' },
    { t: 1020, event: 'acquired', state: 'U', owner: '', since: 1020 },
    { t: 1050, event: 'released', state: 'F', owner: '' },
    { t: 1500, event: 'acquired', state: 'U', owner: '', since: 1500 },
    { t: 1600, event: 'state', state: 'A', owner: 'http:8080', since: 1500 },
    { t: 2600, event: 'released', state: 'F', owner: '' },
  ] };
  assert.equal(slotHistoryText(doc, 1000),
    '+0.0 s free\n+0.0 s acquired: U\n+0.1 s released\n+0.5 s acquired: U\n' +
    '+0.6 s A owner http:8080\n+1.6 s released');
  const busy = { cut: false, dropped: 0, changes: [
    { t: 1000, event: 'start', state: 'K', owner: '', since: 400 }] };
  assert.equal(slotHistoryText(busy, 1000), '+0.0 s in use since -0.6 s: K');
  const many = { cut: false, dropped: 3, changes: Array.from({ length: 20 }, (_, i) =>
    ({ t: 1000 + i * 100, event: i % 2 ? 'acquired' : 'released', state: i % 2 ? 'K' : 'F', owner: '' })) };
  const lines = slotHistoryText(many, 1000).split('\n');
  assert.equal(lines.length, 9);
  assert.equal(lines[0], '… 15 older changes');
  assert.equal(lines[8], '+1.9 s acquired: K');
  assert.equal(slotHistoryText({ cut: true, dropped: 0, changes: busy.changes }, 1000).split('\n')[0],
    '… older history not scanned');
});
