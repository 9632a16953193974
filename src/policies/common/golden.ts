// Golden files for the policy plugins' tests: the Envoy listeners and clusters a sidecar gets, as
// readable JSON (nested Any expanded as in a config dump). UPDATE_GOLDEN=1 rewrites the files.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Resource } from '../../api/resource.js';
import { makeSnapshot } from '../../xds/cache/snapshot.js';
import { configDump } from '../../xds/config-dump.js';
import { buildMeshContext } from '../../xds/context/mesh-context.js';
import { generateSidecar, type ProxyIdentity } from '../../xds/generator/sidecar.js';
import { generateZoneProxy } from '../../xds/generator/zone-proxy.js';

export function policyResource(type: string, name: string, spec: Record<string, unknown>, mesh = 'default'): Resource {
  return { type, mesh: type === 'Mesh' ? '' : mesh, name, labels: {}, spec, version: 1, creationTime: '', modificationTime: '' };
}

/** A placeholder workload identity: with it, a sidecar of an mTLS mesh gets its mTLS chains (and RBAC). */
export const placeholderIdentity: ProxyIdentity = { mode: 'STRICT', certPem: 'CERT', keyPem: 'KEY', caPem: 'CA' };

/** Listeners and clusters of `dp` generated in a context of the mesh's Dataplanes and policies. */
export function sidecarDump(mesh: Resource, dataplanes: Resource[], dp: Resource, policies: Resource[], identity?: ProxyIdentity): Record<string, unknown> {
  const ctx = buildMeshContext(mesh, dataplanes, policies.filter((p) => p.type === 'MeshTrafficPermission'), undefined, { policies });
  const dump = configDump(makeSnapshot(generateSidecar(dp, ctx, identity))).resources as Record<string, { name: string; resource: unknown }[]>;
  const pick = (type: string) => (dump[type] ?? []).map((r) => r.resource).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
  return { listeners: pick('Listener'), clusters: pick('Cluster') };
}

/**
 * Listeners and clusters of the zone proxy `dp` (with a placeholder identity: the egress needs
 * mTLS), in a context of the mesh's Dataplanes, MeshExternalServices and policies.
 */
export function zoneProxyDump(mesh: Resource, dataplanes: Resource[], dp: Resource, policies: Resource[], externalServices: Resource[] = []): Record<string, unknown> {
  const ctx = buildMeshContext(mesh, dataplanes, policies.filter((p) => p.type === 'MeshTrafficPermission'), undefined, { policies, externalServices });
  const identity = { mode: 'STRICT' as const, certPem: 'CERT', keyPem: 'KEY', caPem: 'CA' };
  const dump = configDump(makeSnapshot(generateZoneProxy(dp, ctx, identity))).resources as Record<string, { name: string; resource: unknown }[]>;
  const pick = (type: string) => (dump[type] ?? []).map((r) => r.resource).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
  return { listeners: pick('Listener'), clusters: pick('Cluster') };
}

/** The golden file's content, after rewriting it with `actual` when UPDATE_GOLDEN=1. */
export function golden(file: string, actual: unknown): unknown {
  if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(file, `${JSON.stringify(actual, null, 2)}\n`);
  else if (!existsSync(file)) throw new Error(`golden file ${file} is missing: run with UPDATE_GOLDEN=1`);
  return JSON.parse(readFileSync(file, 'utf8'));
}
