// Envoy's percentages: type.v3.FractionalPercent and core.v3.RuntimeFractionalPercent, as the
// probability of an event. Skein has no runtime layer, so a runtime_key never overrides the default
// (as in Envoy when the key is not set in any runtime layer).
import { reject } from './config-error.js';
import { checkFields, num, obj, str } from './proto-values.js';

const DENOMINATORS: Record<string, number> = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 };

/** The probability (0..1) of a FractionalPercent; `fallback` when unset. */
export function fractionalPercent(value: unknown, path: string, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  const fp = obj(value, path);
  checkFields(fp, path, ['numerator', 'denominator']);
  const denominatorName = str(fp.denominator) || 'HUNDRED';
  const denominator = DENOMINATORS[denominatorName] ?? reject(`${path}.denominator`, `${denominatorName} is not a valid denominator`);
  // Envoy caps the numerator at the denominator.
  return Math.min(num(fp.numerator, 0), denominator) / denominator;
}

/** RuntimeFractionalPercent: its default_value (runtime_key only names the runtime override). */
export function runtimeFractionalPercent(value: unknown, path: string, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  const rfp = obj(value, path);
  checkFields(rfp, path, ['default_value', 'runtime_key']);
  return fractionalPercent(rfp.default_value, `${path}.default_value`, 0);
}

/** RuntimeFeatureFlag: its default_value (true when unset, as in Envoy). */
export function runtimeFeatureFlag(value: unknown, path: string): boolean {
  if (value === undefined || value === null) return true;
  const flag = obj(value, path);
  checkFields(flag, path, ['default_value', 'runtime_key']);
  const def = obj(flag.default_value, `${path}.default_value`);
  if (flag.default_value === undefined) reject(`${path}.default_value`, 'is required');
  return def.value === true;
}

/** True with probability `p`; no random draw for 0 and 1. */
export function chance(p: number): boolean {
  return p >= 1 || (p > 0 && Math.random() < p);
}
