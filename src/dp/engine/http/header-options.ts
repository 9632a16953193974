// core.v3.HeaderValueOption lists (response_headers_to_add and friends) as flat name/value pairs.
import { reject } from '../config-error.js';
import { checkFields, list, obj, str } from '../proto-values.js';

export function headerValueOptions(value: unknown, path: string): string[] {
  const out: string[] = [];
  list(value, path).forEach((o, i) => {
    const opath = `${path}[${i}]`;
    checkFields(o, opath, ['header', 'append', 'append_action', 'keep_empty_value']);
    const action = str(o.append_action) || 'APPEND_IF_EXISTS_OR_ADD';
    // The headers go on a response the filter makes or adds to, where appending and adding agree.
    if (action !== 'APPEND_IF_EXISTS_OR_ADD' && action !== 'OVERWRITE_IF_EXISTS_OR_ADD') reject(`${opath}.append_action`, `${action} is not supported`);
    const header = obj(o.header, `${opath}.header`);
    checkFields(header, `${opath}.header`, ['key', 'value']);
    const key = str(header.key).toLowerCase();
    if (!key) reject(`${opath}.header.key`, 'is required');
    out.push(key, str(header.value));
  });
  return out;
}
