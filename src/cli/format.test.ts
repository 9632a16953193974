import { describe, expect, it } from 'vitest';
import { formatAge, parseDuration, renderTable } from './format.js';

describe('renderTable', () => {
  it('pads every column but the last to its widest cell plus 3 spaces', () => {
    expect(renderTable(['NAME', 'AGE'], [['default', '5m'], ['a', '10d']])).toBe('NAME      AGE\ndefault   5m\na         10d\n');
  });

  it('prints only the header for no rows', () => {
    expect(renderTable(['MESH', 'NAME', 'AGE'], [])).toBe('MESH   NAME   AGE\n');
  });

  it('counts characters, not bytes', () => {
    expect(renderTable(['A', 'B'], [['é', 'x']])).toBe('A   B\né   x\n');
  });
});

describe('formatAge', () => {
  const now = Date.parse('2024-06-01T12:00:00Z');
  const ago = (ms: number) => new Date(now - ms).toISOString();

  it.each([
    [0, '0s'],
    [59_999, '59s'],
    [60_000, '1m'],
    [59 * 60_000, '59m'],
    [3_600_000, '1h'],
    [23 * 3_600_000, '23h'],
    [24 * 3_600_000, '1d'],
    [364 * 86_400_000, '364d'],
    [365 * 86_400_000, '1y'],
    [3 * 365 * 86_400_000, '3y'],
    [-500, '0s'],
  ])('%d ms ago → %s', (ms, expected) => {
    expect(formatAge(ago(ms), now)).toBe(expected);
  });

  it('says never for no time, a bad time or a time in the future', () => {
    expect(formatAge(undefined, now)).toBe('never');
    expect(formatAge('yesterday', now)).toBe('never');
    expect(formatAge(ago(-5000), now)).toBe('never');
  });
});

describe('parseDuration', () => {
  it('reads Go-style durations', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('2h')).toBe(7_200_000);
  });

  it('rejects anything else', () => {
    expect(() => parseDuration('10')).toThrow('invalid duration "10"');
    expect(() => parseDuration('')).toThrow();
    expect(() => parseDuration('1m junk')).toThrow();
  });
});
