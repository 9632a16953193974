// Table layouts of `skein get`, per kind, as kumactl prints them.
import type { ResourceDescriptor } from '../api/descriptor.js';
import { formatAge, renderTable } from './format.js';

/** A resource as the REST API returns it (Universal JSON). */
export type WireResource = Record<string, unknown> & { name: string; mesh?: string; modificationTime?: string };

type Obj = Record<string, unknown>;

const obj = (v: unknown): Obj => (v && typeof v === 'object' ? (v as Obj) : {});
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Renders resources of one kind. `status` (dataplanes only) maps name → `Online`/`Offline`. */
export function resourceTable(d: ResourceDescriptor, items: WireResource[], now: number, status?: Map<string, string>): string {
  if (d.name === 'Mesh') {
    return renderTable(
      ['NAME', 'mTLS', 'LOCALITY', 'ZONEEGRESS', 'AGE'],
      items.map((m) => [m.name, meshMtls(m), onOff(obj(m['routing'])['localityAwareLoadBalancing']), onOff(obj(m['routing'])['zoneEgress']), formatAge(m.modificationTime, now)]),
    );
  }
  if (d.name === 'Dataplane') {
    const header = ['MESH', 'NAME', 'TAGS', 'ADDRESS', 'AGE'];
    const rows = items.map((dp) => [str(dp.mesh), dp.name, dataplaneTags(dp), dataplaneAddress(dp), formatAge(dp.modificationTime, now)]);
    if (!status) return renderTable(header, rows);
    return renderTable([...header, 'STATUS'], rows.map((row, i) => [...row, status.get(items[i]!.name) ?? 'Offline']));
  }
  if (d.scope === 'Mesh') {
    return renderTable(['MESH', 'NAME', 'AGE'], items.map((r) => [str(r.mesh), r.name, formatAge(r.modificationTime, now)]));
  }
  return renderTable(['NAME', 'AGE'], items.map((r) => [r.name, formatAge(r.modificationTime, now)]));
}

/** `<type>/<name>` of the enabled CA backend, or `off`. */
export function meshMtls(mesh: Obj): string {
  const mtls = obj(mesh['mtls']);
  const enabled = str(mtls['enabledBackend']);
  if (!enabled) return 'off';
  const backends = Array.isArray(mtls['backends']) ? (mtls['backends'] as Obj[]) : [];
  const backend = backends.find((b) => b['name'] === enabled);
  return `${str(backend?.['type'])}/${enabled}`;
}

function onOff(v: unknown): string {
  return v === true ? 'on' : 'off';
}

/** All inbound and gateway tags: keys sorted, each with its sorted values comma-joined, pairs space-separated. */
export function dataplaneTags(dp: Obj): string {
  const networking = obj(dp['networking']);
  const tagSets: Obj[] = [];
  if (Array.isArray(networking['inbound'])) for (const inbound of networking['inbound'] as Obj[]) tagSets.push(obj(inbound['tags']));
  tagSets.push(obj(obj(networking['gateway'])['tags']));
  const values = new Map<string, Set<string>>();
  for (const tags of tagSets) {
    for (const [k, v] of Object.entries(tags)) {
      if (!values.has(k)) values.set(k, new Set());
      values.get(k)!.add(String(v));
    }
  }
  return [...values.keys()]
    .sort()
    .map((k) => `${k}=${[...values.get(k)!].sort().join(',')}`)
    .join(' ');
}

export function dataplaneAddress(dp: Obj): string {
  const networking = obj(dp['networking']);
  return str(networking['advertisedAddress']) || str(networking['address']);
}

/** A proxy is online when its last xDS subscription connected and has not disconnected. */
export function isOnline(insight: unknown): boolean {
  const subscriptions = obj(insight)['subscriptions'];
  if (!Array.isArray(subscriptions) || subscriptions.length === 0) return false;
  const last = obj(subscriptions[subscriptions.length - 1]);
  return Boolean(last['connectTime']) && !last['disconnectTime'];
}
