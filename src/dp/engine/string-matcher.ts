// envoy.type.matcher.v3.StringMatcher, used by header matching and certificate SAN matching.
import { reject } from './config-error.js';
import { bool, checkFields, obj, str } from './proto-values.js';

export type StringMatch = (value: string) => boolean;

export function compileStringMatcher(value: unknown, path: string): StringMatch {
  const m = obj(value, path);
  checkFields(m, path, ['exact', 'prefix', 'suffix', 'contains', 'safe_regex', 'ignore_case']);
  const ignoreCase = bool(m.ignore_case, false);
  const norm = (s: string): string => (ignoreCase ? s.toLowerCase() : s);
  if (m.exact !== undefined) {
    const want = norm(str(m.exact));
    return (v) => norm(v) === want;
  }
  if (m.prefix !== undefined) {
    const want = norm(str(m.prefix));
    return (v) => norm(v).startsWith(want);
  }
  if (m.suffix !== undefined) {
    const want = norm(str(m.suffix));
    return (v) => norm(v).endsWith(want);
  }
  if (m.contains !== undefined) {
    const want = norm(str(m.contains));
    return (v) => norm(v).includes(want);
  }
  if (m.safe_regex !== undefined) {
    const re = compileRegex(m.safe_regex, `${path}.safe_regex`, ignoreCase ? 'i' : '');
    return (v) => re.test(v);
  }
  return reject(path, 'one of exact, prefix, suffix, contains, safe_regex is required');
}

/** RegexMatcher (RE2 syntax) as an anchored JavaScript RegExp: Envoy requires a full match. */
export function compileRegex(value: unknown, path: string, flags = ''): RegExp {
  const rm = obj(value, path);
  checkFields(rm, path, ['regex', 'google_re2']);
  try {
    return new RegExp(`^(?:${str(rm.regex)})$`, flags);
  } catch (err) {
    return reject(`${path}.regex`, `invalid regex: ${(err as Error).message}`);
  }
}
