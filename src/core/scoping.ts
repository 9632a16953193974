// Which resources users may write on which control plane (Kuma 2.14 `resource_endpoints.go`).
//
//   standalone     everything writable (except read-only kinds and apiServer.readOnly)
//   global         only kinds provided by global (Mesh, policies, Secrets, Zones...): Dataplanes,
//                  ZoneIngress/ZoneEgress and insights come from zones → 405 `GLOBAL_READ_ONLY_MESSAGE`
//   zone           (not federated) like standalone, plus zone/origin label consistency
//   federated zone (zone mode with a global address) only kinds provided by zone (Dataplanes, Secrets,
//                  policies...): Mesh, Zone-less legacy kinds → 405 `ZONE_READ_ONLY_MESSAGE`; plugin kinds
//                  (new policies) must carry `kuma.io/origin: zone` (else 400 `the origin label must be set
//                  to 'zone'`), so a zone can only touch its own policies, never those synced from global.
//
// These are user-facing checks: the REST API asks the ResourceManager to write with `origin: 'api'`.
// Writes by the control plane itself (`'system'`) and by multi-zone sync (`'sync'`) skip them; see
// ResourceManager.upsert / delete.
import type { Labels, Violation } from '../api/resource.js';
import type { ResourceDescriptor } from '../api/descriptor.js';
import { ORIGIN_LABEL } from '../api/well-known.js';

export const GLOBAL_READ_ONLY_MESSAGE =
  "On global control plane you can not modify dataplane resources with 'kumactl apply' or via the HTTP API. You can still use 'kumactl' or the HTTP API to modify them on the zone control plane.\n";
export const ZONE_READ_ONLY_MESSAGE =
  "On zone control plane you can only modify zone resources with 'kumactl apply' or via the HTTP API. You can still use 'kumactl' or the HTTP API to modify the rest of the resource on the global control plane.\n";
export const K8S_READ_ONLY_MESSAGE =
  "On Kubernetes you cannot change the state of Kuma resources with 'kumactl apply' or via the HTTP API. As a best practice, you should always be using 'kubectl apply' instead. You can still use 'kumactl' or the HTTP API to make read-only operations. On Universal this limitation does not apply.\n";

export interface ScopeContext {
  mode: 'standalone' | 'global' | 'zone';
  /** Zone CP connected to a global CP (zone mode with a global address). */
  federated?: boolean;
  /** This CP's zone name (zone mode). */
  zone?: string;
  /** `apiServer.readOnly`: every kind is read-only over the API. */
  apiReadOnly?: boolean;
  /** `multizone.zone.disableOriginLabelValidation`. */
  disableOriginLabelValidation?: boolean;
}

/** Kuma's read-only message for the CP mode (a standalone CP is Kuma's zone mode). */
export function readOnlyMessage(ctx: Pick<ScopeContext, 'mode'>): string {
  return ctx.mode === 'global' ? GLOBAL_READ_ONLY_MESSAGE : ZONE_READ_ONLY_MESSAGE;
}

/**
 * Why a user may not PUT/DELETE this kind here at all (HTTP 405 `Method not allowed`), or undefined.
 * Order as Kuma: read-only kind, read-only API server, global for non-global kinds, federated zone
 * for non-zone kinds.
 */
export function writeNotAllowed(d: ResourceDescriptor, ctx: ScopeContext): string | undefined {
  if (d.readOnly || ctx.apiReadOnly) return readOnlyMessage(ctx);
  if (ctx.mode === 'global' && !d.providedByGlobal) return GLOBAL_READ_ONLY_MESSAGE;
  if (isFederated(ctx) && !d.providedByZone) return ZONE_READ_ONLY_MESSAGE;
  return undefined;
}

/**
 * Origin label rules for a user write (Kuma `validateOriginForWrite`), checked against the labels
 * the user sent on PUT (`prefix` 'labels') or the stored labels on DELETE (`prefix` ''):
 * on global an origin other than `global`; on a federated zone a plugin kind without origin `zone`.
 */
export function originViolations(labels: Labels, d: ResourceDescriptor, ctx: ScopeContext, prefix: 'labels' | '' = 'labels'): Violation[] {
  if (ctx.disableOriginLabelValidation) return [];
  const field = `${prefix}["${ORIGIN_LABEL}"]`;
  const origin = labels[ORIGIN_LABEL];
  const out: Violation[] = [];
  if (ctx.mode === 'global' && origin !== undefined && origin !== 'global') {
    out.push({ field, reason: "the origin label must be set to 'global'" });
  }
  if (isFederated(ctx) && !d.flat && origin !== 'zone') {
    out.push({ field, reason: "the origin label must be set to 'zone'" });
  }
  return out;
}

/**
 * A federated zone's resources are synced to global as `<zone>.<name>` in the worst case, so the
 * name must leave room for the prefix (Kuma `doesNameLengthFitsGlobal`).
 */
export function nameLengthViolations(name: string, ctx: ScopeContext): Violation[] {
  if (!isFederated(ctx) || `${ctx.zone ?? ''}.${name}`.length < 253) return [];
  return [{ field: 'name', reason: 'the length of the name must be shorter' }];
}

export function isFederated(ctx: ScopeContext): boolean {
  return ctx.mode === 'zone' && !!ctx.federated;
}
