// Envoy resources as proto3 JSON (what MeshProxyPatch values and JSON patches are written against)
// and back. Type-directed, from Skein's Envoy protos: camelCase names (snake_case accepted on the
// way in), Duration as "5s", wrappers as bare scalars, Struct as plain JSON, Any as an object with
// "@type". A field the protos do not have, or an Any of a type Skein does not know, cannot be
// encoded: that is an error naming the field, never a field silently dropped.
import type protobuf from 'protobufjs';
import { envoyRoot, knowsType, typeNameOf, type AnyMessage } from '../../envoy/protos.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

const WRAPPERS = new Set(['DoubleValue', 'FloatValue', 'Int64Value', 'UInt64Value', 'Int32Value', 'UInt32Value', 'BoolValue', 'StringValue', 'BytesValue'].map((n) => `.google.protobuf.${n}`));

function lookup(typeUrl: string): protobuf.Type {
  return envoyRoot().lookupType(typeNameOf(typeUrl));
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

function durationText(seconds: number, nanos: number): string {
  if (!nanos) return `${seconds}s`;
  return `${(seconds + nanos / 1e9).toFixed(9).replace(/0+$/, '')}s`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** An encoded Any as proto3 JSON: the decoded message's fields next to "@type". */
export function anyToJson(any: AnyMessage): JsonObject {
  const type = lookup(any.type_url);
  const message = type.toObject(type.decode(any.value), { enums: String, longs: String, bytes: String, defaults: false, oneofs: false });
  return { '@type': any.type_url, ...messageToJson(type, message) };
}

function messageToJson(type: protobuf.Type, message: Record<string, unknown>): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(message)) {
    const field = type.fields[key];
    if (!field || value === undefined) continue;
    if (field.map) {
      const entries: JsonObject = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) entries[k] = valueToJson(field, v);
      out[field.jsonName] = entries;
    } else if (field.repeated) {
      out[field.jsonName] = (value as unknown[]).map((v) => valueToJson(field, v));
    } else {
      out[field.jsonName] = valueToJson(field, value);
    }
  }
  return out;
}

function valueToJson(field: protobuf.Field, value: unknown): Json {
  const resolved = field.resolvedType;
  if (resolved && 'fields' in resolved) return wellKnownToJson(resolved, value as Record<string, unknown>);
  if (value instanceof Uint8Array) return base64(value);
  return value as Json;
}

function wellKnownToJson(type: protobuf.Type, value: Record<string, unknown>): Json {
  const name = type.fullName;
  if (name === '.google.protobuf.Any') {
    const any = value as { type_url?: string; value?: Uint8Array | string };
    const bytes = typeof any.value === 'string' ? Buffer.from(any.value, 'base64') : (any.value ?? new Uint8Array());
    return anyToJson({ type_url: any.type_url ?? '', value: bytes });
  }
  if (name === '.google.protobuf.Duration') return durationText(Number(value['seconds'] ?? 0), Number(value['nanos'] ?? 0));
  if (WRAPPERS.has(name)) return (value['value'] ?? (name.endsWith('BoolValue') ? false : name.endsWith('StringValue') || name.endsWith('BytesValue') ? '' : 0)) as Json;
  if (name === '.google.protobuf.Struct') return structToJson(value);
  if (name === '.google.protobuf.Value') return protoValueToJson(value);
  if (name === '.google.protobuf.ListValue') return ((value['values'] as Record<string, unknown>[] | undefined) ?? []).map(protoValueToJson);
  return messageToJson(type, value);
}

function structToJson(value: Record<string, unknown>): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries((value['fields'] as Record<string, Record<string, unknown>> | undefined) ?? {})) out[k] = protoValueToJson(v);
  return out;
}

function protoValueToJson(v: Record<string, unknown>): Json {
  const pick = (camel: string, snake: string): unknown => v[camel] ?? v[snake];
  if (pick('structValue', 'struct_value') !== undefined) return structToJson(pick('structValue', 'struct_value') as Record<string, unknown>);
  if (pick('listValue', 'list_value') !== undefined) return (((pick('listValue', 'list_value') as Record<string, unknown>)['values'] as Record<string, unknown>[] | undefined) ?? []).map(protoValueToJson);
  for (const [camel, snake] of [['stringValue', 'string_value'], ['numberValue', 'number_value'], ['boolValue', 'bool_value']] as const) {
    if (pick(camel, snake) !== undefined) return pick(camel, snake) as Json;
  }
  return null;
}

/** Encodes proto3 JSON with an "@type" as an Any; throws naming the offending field. */
export function jsonToAny(json: JsonObject, path = ''): AnyMessage {
  const typeUrl = json['@type'];
  if (typeof typeUrl !== 'string') throw new Error(`${path || '<root>'}: "@type" is required`);
  if (!knowsType(typeUrl)) throw new Error(`${path ? `${path}.` : ''}@type: type "${typeUrl}" is not known to the control plane`);
  const type = lookup(typeUrl);
  const rest = { ...json };
  delete rest['@type'];
  return { type_url: typeUrl, value: type.encode(type.fromObject(jsonToMessage(type, rest, path))).finish() };
}

/** proto3 JSON of a message of `typeUrl` → protobufjs plain object (nested Any encoded). */
export function jsonToMessageOf(typeUrl: string, json: JsonObject, path = ''): Record<string, unknown> {
  return jsonToMessage(lookup(typeUrl), json, path);
}

function fieldOf(type: protobuf.Type, key: string): protobuf.Field | undefined {
  return type.fields[key] ?? type.fieldsArray.find((f) => f.jsonName === key);
}

function jsonToMessage(type: protobuf.Type, json: unknown, path: string): Record<string, unknown> {
  if (!isObject(json)) throw new Error(`${path || '<root>'}: must be an object (${type.fullName.slice(1)})`);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    const at = path ? `${path}.${key}` : key;
    const field = fieldOf(type, key);
    if (!field) throw new Error(`${at}: unknown field "${key}" in ${type.fullName.slice(1)}`);
    if (value === null) continue;
    if (field.map) {
      if (!isObject(value)) throw new Error(`${at}: must be an object`);
      const entries: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) entries[k] = jsonToValue(field, v, `${at}.${k}`);
      out[field.name] = entries;
    } else if (field.repeated) {
      if (!Array.isArray(value)) throw new Error(`${at}: must be a list`);
      out[field.name] = value.map((v, i) => jsonToValue(field, v, `${at}[${i}]`));
    } else {
      out[field.name] = jsonToValue(field, value, at);
    }
  }
  return out;
}

function jsonToValue(field: protobuf.Field, value: unknown, path: string): unknown {
  const resolved = field.resolvedType;
  if (resolved && 'fields' in resolved) return wellKnownFromJson(resolved, value, path);
  if (resolved && 'values' in resolved) {
    if (typeof value === 'string' && !(value in resolved.values)) throw new Error(`${path}: "${value}" is not a value of ${resolved.fullName.slice(1)}`);
    return value;
  }
  if (field.type === 'bool' && typeof value !== 'boolean') throw new Error(`${path}: must be a boolean`);
  if (field.type === 'string' && typeof value !== 'string') throw new Error(`${path}: must be a string`);
  if (['int32', 'uint32', 'sint32', 'fixed32', 'sfixed32', 'double', 'float'].includes(field.type) && typeof value !== 'number') throw new Error(`${path}: must be a number`);
  return value;
}

function wellKnownFromJson(type: protobuf.Type, value: unknown, path: string): unknown {
  const name = type.fullName;
  if (name === '.google.protobuf.Any') {
    if (!isObject(value)) throw new Error(`${path}: must be an object with "@type"`);
    return jsonToAny(value as JsonObject, path);
  }
  if (name === '.google.protobuf.Duration') {
    if (isObject(value)) return jsonToMessage(type, value, path);
    const match = typeof value === 'string' ? /^(-?\d+)(?:\.(\d{1,9}))?s$/.exec(value) : null;
    if (!match) throw new Error(`${path}: must be a duration such as "5s" or "0.250s"`);
    return { seconds: Number(match[1]), nanos: match[2] ? Number(match[2].padEnd(9, '0')) : 0 };
  }
  if (WRAPPERS.has(name)) return isObject(value) ? jsonToMessage(type, value, path) : { value: jsonToValue(type.fields['value']!, value, path) };
  if (name === '.google.protobuf.Struct') {
    if (!isObject(value)) throw new Error(`${path}: must be an object`);
    return structFromJson(type, value);
  }
  if (name === '.google.protobuf.Value') return protoValueFromJson(type, value);
  return jsonToMessage(type, value, path);
}

function structFromJson(structType: protobuf.Type, value: Record<string, unknown>): Record<string, unknown> {
  const valueType = structType.fields['fields']!.resolvedType as protobuf.Type;
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) fields[k] = protoValueFromJson(valueType, v);
  return { fields };
}

/** google.protobuf.Value by its own field names (protobufjs ships them camelCase). */
function protoValueFromJson(valueType: protobuf.Type, v: unknown): Record<string, unknown> {
  const name = (camel: string, snake: string) => (valueType.fields[camel] ? camel : snake);
  if (v === null || v === undefined) return { [name('nullValue', 'null_value')]: 'NULL_VALUE' };
  if (typeof v === 'string') return { [name('stringValue', 'string_value')]: v };
  if (typeof v === 'number') return { [name('numberValue', 'number_value')]: v };
  if (typeof v === 'boolean') return { [name('boolValue', 'bool_value')]: v };
  if (Array.isArray(v)) return { [name('listValue', 'list_value')]: { values: v.map((x) => protoValueFromJson(valueType, x)) } };
  const structType = valueType.fields[name('structValue', 'struct_value')]!.resolvedType as protobuf.Type;
  return { [name('structValue', 'struct_value')]: structFromJson(structType, v as Record<string, unknown>) };
}

/**
 * Canonical proto3 JSON of a value written by a user (snake_case or camelCase, durations as text):
 * encoded and decoded again, so it can be merged or compared with generated resources.
 */
export function canonicalJson(typeUrl: string, json: JsonObject, path = ''): JsonObject {
  const canonical = anyToJson(jsonToAny({ ...json, '@type': typeUrl }, path));
  delete canonical['@type'];
  return canonical;
}
