import { describe, expect, it } from 'vitest';
import { Backoff } from './backoff.js';

describe('Backoff', () => {
  it('doubles up to the cap and starts over after reset', () => {
    const b = new Backoff(250, 5000, () => 0.5);
    expect([1, 2, 3, 4, 5, 6, 7].map(() => b.next())).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000]);
    b.reset();
    expect(b.next()).toBe(250);
  });

  it('jitters within ±20% and never exceeds the cap', () => {
    const low = new Backoff(1000, 5000, () => 0);
    const high = new Backoff(1000, 5000, () => 1);
    expect(low.next()).toBe(800);
    expect(high.next()).toBe(1200);
    for (let i = 0; i < 10; i++) high.next();
    expect(high.next()).toBe(5000);
  });
});
