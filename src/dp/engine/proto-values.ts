// Readers for decoded Envoy protos (protobufjs toObject: snake_case, enums as names, 64-bit ints as
// strings, defaults omitted, oneof discriminators added as `<oneof>: '<field>'`).
import fs from 'node:fs';
import { envoyRoot, unpackAny, knowsType, type AnyMessage } from '../../envoy/protos.js';
import { reject } from './config-error.js';

export type Obj = Record<string, unknown>;

/**
 * Rejects any field not in `allowed`, so config the engine would not honour is never silently ignored.
 * A key whose value is the name of another present key is a oneof discriminator, not config.
 */
export function checkFields(obj: Obj, path: string, allowed: readonly string[]): void {
  for (const key of Object.keys(obj)) {
    if (allowed.includes(key)) continue;
    const value = obj[key];
    if (typeof value === 'string' && value in obj && value !== key) continue;
    reject(`${path}.${key}`, 'field is not supported by the Skein data plane');
  }
}

export function obj(value: unknown, path: string): Obj {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) reject(path, 'expected a message');
  return value as Obj;
}

export function list(value: unknown, path: string): Obj[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) reject(path, 'expected a list');
  return value as Obj[];
}

export function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** uint32/int values, and wrappers (`{value: n}`), decoded as numbers or strings. */
export function num(value: unknown, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value === 'object') return num((value as Obj).value, 0);
  const n = Number(value);
  return Number.isFinite(n) ? n : fallback;
}

/** google.protobuf.BoolValue or plain bool. */
export function bool(value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === null) return fallback;
  if (typeof value === 'object') return (value as Obj).value === true;
  return value === true;
}

/** google.protobuf.Duration in milliseconds; `fallback` when unset. */
export function durationMs(value: unknown, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  const d = value as Obj;
  return num(d.seconds, 0) * 1000 + Math.floor(num(d.nanos, 0) / 1e6);
}

/** Decodes a nested google.protobuf.Any (typed_config), rejecting types the proto set does not know. */
export function unpackTyped(value: unknown, path: string): { typeUrl: string; config: Obj } {
  const any = obj(value, path) as unknown as AnyMessage;
  if (typeof any.type_url !== 'string' || !any.type_url) reject(path, 'typed_config without type_url');
  if (!knowsType(any.type_url)) reject(path, `unsupported type ${any.type_url}`);
  try {
    return { typeUrl: any.type_url, config: unpackAny({ type_url: any.type_url, value: any.value ?? new Uint8Array() }) };
  } catch (err) {
    return reject(path, `cannot decode ${any.type_url}: ${(err as Error).message}`);
  }
}

/**
 * Bytes from a core.v3.DataSource: inline_bytes / inline_string, or `filename`, read when the
 * resource is applied (Envoy also watches the file; here a new config reads it again).
 */
export function dataSource(value: unknown, path: string): Buffer {
  const ds = obj(value, path);
  checkFields(ds, path, ['inline_bytes', 'inline_string', 'filename', 'specifier']);
  if (ds.filename !== undefined) {
    try {
      return fs.readFileSync(str(ds.filename));
    } catch (err) {
      return reject(`${path}.filename`, `cannot read: ${(err as Error).message}`);
    }
  }
  if (ds.inline_string !== undefined) return Buffer.from(str(ds.inline_string));
  if (ds.inline_bytes instanceof Uint8Array) return Buffer.from(ds.inline_bytes);
  if (typeof ds.inline_bytes === 'string') return Buffer.from(ds.inline_bytes, 'base64');
  return reject(path, 'expected inline_bytes, inline_string or filename');
}

/** type.v3.HttpStatus: its `code` enum (decoded by name, e.g. `TooManyRequests`) as a number. */
export function httpStatus(value: unknown, path: string, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  const status = obj(value, path);
  checkFields(status, path, ['code']);
  const code = status.code;
  if (typeof code === 'number') return code || fallback;
  const n = (envoyRoot().lookupEnum('envoy.type.v3.StatusCode').values as Record<string, number>)[str(code)];
  if (n === undefined) reject(`${path}.code`, `unknown status ${String(code)}`);
  return n || fallback;
}

/** A decoded google.protobuf.Struct (or Value) as plain JSON. */
export function structToJson(value: unknown): unknown {
  const v = value as Obj | undefined;
  if (!v || typeof v !== 'object') return v ?? null;
  if ('fields' in v || Object.keys(v).length === 0) {
    return Object.fromEntries(Object.entries((v.fields as Obj | undefined) ?? {}).map(([k, f]) => [k, valueToJson(f)]));
  }
  return valueToJson(v);
}

function valueToJson(value: unknown): unknown {
  // protobufjs defines google.protobuf.Value with camelCase fields (its bundled well-known types).
  const v = obj(value, 'value');
  const pick = (snake: string, camel: string): unknown => v[camel] ?? v[snake];
  const s = pick('string_value', 'stringValue');
  if (s !== undefined) return s;
  const n = pick('number_value', 'numberValue');
  if (n !== undefined) return n;
  const b = pick('bool_value', 'boolValue');
  if (b !== undefined) return b;
  const st = pick('struct_value', 'structValue');
  if (st !== undefined) return structToJson(st);
  const l = pick('list_value', 'listValue');
  if (l !== undefined) return list(obj(l, 'list_value').values, 'values').map(valueToJson);
  return null;
}
