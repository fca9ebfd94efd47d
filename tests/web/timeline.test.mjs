// Unit tests of web/timeline.js's pure parts (node --test tests/web/).
import test from 'node:test';
import assert from 'node:assert/strict';
import { nearestTick, offsetText, slotHistoryText } from '../../web/timeline.js';

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

test('offsetText is seconds from the start, one decimal', () => {
  assert.equal(offsetText(0), '+0.0 s');
  assert.equal(offsetText(12345), '+12.3 s');
});

test('slotHistoryText: acquired, state changes with owners, released; the newest 8', () => {
  const changes = [
    { t: 1000, state: 'F', owner: '' },
    { t: 1500, state: 'N', owner: '' },
    { t: 1600, state: 'A', owner: 'http:8080' },
    { t: 2600, state: 'F', owner: '' },
  ];
  assert.equal(slotHistoryText(changes, 1000),
    '+0.0 s released\n+0.5 s N\n+0.6 s A owner http:8080\n+1.6 s released');
  const many = Array.from({ length: 20 }, (_, i) => ({ t: 1000 + i * 100, state: i % 2 ? 'K' : 'F', owner: '' }));
  const lines = slotHistoryText(many, 1000).split('\n');
  assert.equal(lines.length, 8);
  assert.equal(lines[7], '+1.9 s K');
});
