// Kuma's Universal wire format (REST JSON / YAML): legacy kinds flatten their spec beside the meta
// fields, plugin kinds nest it under `spec` (and `status`).
import YAML from 'yaml';
import { descriptorByName, requireDescriptor } from './descriptor.js';
import { kriOf } from './meta.js';
import type { Labels, Resource, Violation } from './resource.js';
import { key } from './rules.js';

/** A resource as read from the wire: no times or version yet. */
export interface WireResource {
  type: string;
  mesh: string;
  name: string;
  labels: Labels;
  spec: Record<string, unknown>;
  status?: Record<string, unknown>;
}

export interface FromWireResult {
  /** Undefined when the input cannot be read as a resource at all (not an object, unknown type). */
  resource?: WireResource;
  /** Meta problems; may be non-empty even when `resource` is set. */
  violations: Violation[];
}

/** Top-level keys that are meta, never spec. Output-only ones (times, kri, snis) are ignored on input. */
const META_KEYS = new Set(['type', 'mesh', 'name', 'labels', 'creationTime', 'modificationTime', 'kri', 'snis']);

/** Universal JSON of a resource, fields in Kuma's order. */
export function toWire(res: Resource): Record<string, unknown> {
  const d = requireDescriptor(res.type);
  const out: Record<string, unknown> = { type: res.type };
  if (d.scope === 'Mesh' && res.mesh) out['mesh'] = res.mesh;
  out['name'] = res.name;
  out['creationTime'] = res.creationTime;
  out['modificationTime'] = res.modificationTime;
  if (Object.keys(res.labels).length > 0) out['labels'] = res.labels;
  const kri = kriOf(res);
  if (kri) out['kri'] = kri;
  if (d.flat) {
    for (const [k, v] of Object.entries(res.spec)) if (!META_KEYS.has(k)) out[k] = v;
  } else {
    out['spec'] = res.spec;
    if (d.hasStatus) out['status'] = res.status ?? {};
  }
  if (d.wireExtras) Object.assign(out, d.wireExtras(res));
  return out;
}

/** Reads a Universal JSON/YAML object into a resource, reporting meta problems as violations. */
export function fromWire(obj: unknown): FromWireResult {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    return { violations: [{ field: '', reason: 'resource must be an object' }] };
  }
  const raw = obj as Record<string, unknown>;
  const type = raw['type'];
  if (type === undefined || type === '') return { violations: [{ field: 'type', reason: 'cannot be empty' }] };
  if (typeof type !== 'string') return { violations: [{ field: 'type', reason: 'must be a string' }] };
  const d = descriptorByName(type);
  if (!d) return { violations: [{ field: 'type', reason: `invalid resource type "${type}"` }] };

  const violations: Violation[] = [];
  const text = (field: string): string => {
    const value = raw[field];
    if (value === undefined || value === null) return '';
    if (typeof value === 'string') return value;
    violations.push({ field, reason: 'must be a string' });
    return '';
  };
  const name = text('name');
  if (!name && !violations.some((v) => v.field === 'name')) violations.push({ field: 'name', reason: 'cannot be empty' });
  let mesh = '';
  if (d.scope === 'Mesh') {
    mesh = text('mesh');
    // Plugin kinds default to mesh `default` (as Kuma's schema default); legacy kinds must name it.
    if (!mesh && !d.flat) mesh = 'default';
    else if (!mesh && !violations.some((v) => v.field === 'mesh')) violations.push({ field: 'mesh', reason: 'cannot be empty' });
  }
  const labels = readLabels(raw['labels'], violations);

  let spec: Record<string, unknown>;
  let status: Record<string, unknown> | undefined;
  if (d.flat) {
    spec = Object.fromEntries(Object.entries(raw).filter(([k]) => !META_KEYS.has(k)));
  } else {
    spec = readObject(raw, 'spec', violations) ?? {};
    status = readObject(raw, 'status', violations);
    for (const k of Object.keys(raw)) {
      if (!META_KEYS.has(k) && k !== 'spec' && k !== 'status') violations.push({ field: k, reason: `unknown field "${k}"` });
    }
  }
  return { resource: { type, mesh, name, labels, spec, ...(status !== undefined ? { status } : {}) }, violations };
}

function readObject(raw: Record<string, unknown>, field: string, violations: Violation[]): Record<string, unknown> | undefined {
  const value = raw[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  violations.push({ field, reason: 'must be an object' });
  return undefined;
}

function readLabels(value: unknown, violations: Violation[]): Labels {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    violations.push({ field: 'labels', reason: 'must be an object' });
    return {};
  }
  const labels: Labels = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v === 'string') labels[k] = v;
    else violations.push({ field: `labels${key(k)}`, reason: 'must be a string' });
  }
  return labels;
}

/** One document of a multi-document YAML/JSON text: its value, or why it could not be parsed. */
export interface ParsedDocument {
  /** Position among the `---`-separated documents, from 0. */
  index: number;
  value?: unknown;
  error?: string;
}

/** Splits YAML/JSON text into documents; empty documents are skipped (their index is not reused). */
export function parseDocuments(text: string): ParsedDocument[] {
  const out: ParsedDocument[] = [];
  YAML.parseAllDocuments(text).forEach((doc, index) => {
    if (doc.errors.length > 0) {
      // YAML errors span several lines (with a source excerpt); the first says what and where.
      const message = doc.errors[0]!.message.split('\n')[0]!.replace(/:$/, '');
      out.push({ index, error: `resource[${index}]: failed to parse resource: ${message}` });
      return;
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return;
    out.push({ index, value });
  });
  return out;
}
