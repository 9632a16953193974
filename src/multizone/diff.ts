// Delta computation for the sender: what changed since the last message a peer got.
import crypto from 'node:crypto';
import { wireKey, type WireKey, type WireResource } from './naming.js';

/** Content version of a resource as sent: labels, spec, status (not times or store versions). */
export function contentVersion(w: WireResource): string {
  return crypto.createHash('sha256').update(stableJson({ labels: w.labels, spec: w.spec, status: w.status ?? null })).digest('hex').slice(0, 16);
}

export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${stableJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}

export interface Delta {
  upserts: WireResource[];
  removals: WireKey[];
  /** Versions by key after this delta is applied: the next `sent` state. */
  next: Map<string, string>;
}

/** Diffs the current outbound set against the versions last sent. */
export function computeDelta(sent: ReadonlyMap<string, string>, current: WireResource[]): Delta {
  const next = new Map<string, string>();
  const upserts: WireResource[] = [];
  for (const w of current) {
    const k = wireKey(w);
    const v = contentVersion(w);
    next.set(k, v);
    if (sent.get(k) !== v) upserts.push(w);
  }
  const removals: WireKey[] = [];
  for (const k of sent.keys()) {
    if (next.has(k)) continue;
    const [type, mesh, ...rest] = k.split('/');
    removals.push({ type: type!, mesh: mesh!, name: rest.join('/') });
  }
  return { upserts, removals, next };
}
