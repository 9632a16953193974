// AccessLog.filter: which requests (connections) a logger writes. Status code, duration, response
// flags, request headers, sampling, traceable, not-health-check, and/or combinations.
import { reject } from '../config-error.js';
import { checkFields, list, num, obj, str, type Obj } from '../proto-values.js';
import { chance, fractionalPercent } from '../percent.js';
import type { RequestLog } from '../registry.js';
import { compileHeaderMatcher } from '../http/route-table.js';

export type LogFilter = (log: RequestLog, sampled: boolean) => boolean;

const FILTERS = ['status_code_filter', 'duration_filter', 'not_health_check_filter', 'traceable_filter', 'runtime_filter', 'and_filter', 'or_filter', 'header_filter', 'response_flag_filter', 'filter_specifier'];

export function compileLogFilter(value: unknown, path: string): LogFilter {
  const f = obj(value, path);
  checkFields(f, path, FILTERS);
  if (f.status_code_filter) return comparison(obj(f.status_code_filter, path), `${path}.status_code_filter`, (l) => l.status);
  if (f.duration_filter) return comparison(obj(f.duration_filter, path), `${path}.duration_filter`, (l) => l.durationMs);
  // The engine has no health check filter, so no request is a health check request.
  if (f.not_health_check_filter) return () => true;
  if (f.traceable_filter) return (_l, sampled) => sampled;
  if (f.runtime_filter) {
    const r = obj(f.runtime_filter, `${path}.runtime_filter`);
    checkFields(r, `${path}.runtime_filter`, ['runtime_key', 'percent_sampled', 'use_independent_randomness']);
    const p = fractionalPercent(r.percent_sampled, `${path}.runtime_filter.percent_sampled`, 0);
    return () => chance(p);
  }
  if (f.and_filter || f.or_filter) {
    const key = f.and_filter ? 'and_filter' : 'or_filter';
    const inner = obj(f[key], `${path}.${key}`);
    checkFields(inner, `${path}.${key}`, ['filters']);
    const filters = list(inner.filters, `${path}.${key}.filters`).map((x, i) => compileLogFilter(x, `${path}.${key}.filters[${i}]`));
    if (filters.length < 2) reject(`${path}.${key}.filters`, 'needs at least two filters');
    return key === 'and_filter' ? (l, s) => filters.every((x) => x(l, s)) : (l, s) => filters.some((x) => x(l, s));
  }
  if (f.header_filter) {
    const h = obj(f.header_filter, `${path}.header_filter`);
    checkFields(h, `${path}.header_filter`, ['header']);
    const match = compileHeaderMatcher(obj(h.header, `${path}.header_filter.header`), `${path}.header_filter.header`);
    return (l) => match(l.request?.headers ?? {});
  }
  if (f.response_flag_filter) {
    const r = obj(f.response_flag_filter, `${path}.response_flag_filter`);
    checkFields(r, `${path}.response_flag_filter`, ['flags']);
    const flags = ((r.flags as string[] | undefined) ?? []).map(String);
    return flags.length === 0 ? (l) => l.flags.length > 0 : (l) => l.flags.some((x) => flags.includes(x));
  }
  return reject(path, `one of ${FILTERS.slice(0, -1).join(', ')} is required`);
}

function comparison(filter: Obj, path: string, value: (l: RequestLog) => number): LogFilter {
  checkFields(filter, path, ['comparison']);
  const c = obj(filter.comparison, `${path}.comparison`);
  checkFields(c, `${path}.comparison`, ['op', 'value']);
  const v = obj(c.value, `${path}.comparison.value`);
  checkFields(v, `${path}.comparison.value`, ['default_value', 'runtime_key']);
  const target = num(v.default_value, 0);
  const op = str(c.op) || 'EQ';
  if (op === 'EQ') return (l) => value(l) === target;
  if (op === 'GE') return (l) => value(l) >= target;
  if (op === 'LE') return (l) => value(l) <= target;
  return reject(`${path}.comparison.op`, `${op} is not supported`);
}
