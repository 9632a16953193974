// Certificate lifetimes in Mesh resources use Kuma's units ('1d', '10y', '24h', '30s'), which Go-style
// parseDuration (api/rules.ts) does not know: days and years are not Go units.
import { parseDuration } from '../api/rules.js';

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  y: 365 * 86_400_000,
};

/** Milliseconds of `<n><y|w|d|h|m|s|ms>`, or of a Go duration (`1h30m`); undefined if malformed. */
export function parseCertDuration(s: string): number | undefined {
  const m = /^(\d+)(y|w|d|h|m|s|ms)$/.exec(s.trim());
  if (m) return Number(m[1]) * UNIT_MS[m[2]!]!;
  return parseDuration(s.trim());
}

/** `s` parsed, or `fallbackMs` when `s` is unset, malformed or not positive ('0' means "default" in Kuma). */
export function certDurationOr(s: string | undefined, fallbackMs: number): number {
  const ms = s === undefined ? undefined : parseCertDuration(s);
  return ms !== undefined && ms > 0 ? ms : fallbackMs;
}
