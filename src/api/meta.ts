// Meta rules of every resource: name and mesh naming, label syntax (Kubernetes rules), label
// consistency with the CP mode, and the labels the CP computes on every write.
import { requireDescriptor } from './descriptor.js';
import type { Labels, Resource, Violation } from './resource.js';
import { key } from './rules.js';
import {
  DISPLAY_NAME_LABEL,
  ENV_LABEL,
  LISTENER_ZONE_EGRESS_LABEL,
  LISTENER_ZONE_INGRESS_LABEL,
  MESH_LABEL,
  NAMESPACE_LABEL,
  ORIGIN_LABEL,
  ORIGINS,
  PROXY_TYPE_LABEL,
  WORKLOAD_LABEL,
  ZONE_LABEL,
  ZONE_PROXY,
  type ProxyType,
} from './well-known.js';
import { effectiveListeners, isZoneProxy, zoneProxyRole } from './zone-proxy.js';

/** What the meta and label rules need to know about the control plane. */
export interface ApiContext {
  mode: 'standalone' | 'global' | 'zone';
  /** This CP's zone name (zone mode). */
  zone?: string;
  environment: 'universal' | 'kubernetes';
  /** Zone CP connected to a global CP. */
  federated?: boolean;
  disableOriginLabelValidation?: boolean;
  /**
   * The write comes from multi-zone sync (a resource another CP owns): the origin and zone label
   * rules, which guard user writes against the local CP's mode, do not apply.
   */
  synced?: boolean;
}

const MAX_NAME_LENGTH = 253;
const RFC1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LEGACY_MESH_NAME = /^[0-9a-z-_.]*$/;
export const INVALID_NAME_REASON =
  "invalid characters. A lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const INVALID_MESH_REASON = "invalid characters. Valid characters are numbers, lowercase latin letters and '-', '_', '.' symbols.";

/** `name` of any resource: empty → length → charset, one violation at most. */
export function validateName(name: string): Violation[] {
  if (!name) return [{ field: 'name', reason: 'cannot be empty' }];
  if (name.length > MAX_NAME_LENGTH) return [{ field: 'name', reason: `value length must less or equal ${MAX_NAME_LENGTH}` }];
  if (!RFC1123_SUBDOMAIN.test(name)) return [{ field: 'name', reason: INVALID_NAME_REASON }];
  return [];
}

export function isRfc1123Subdomain(s: string): boolean {
  return s.length <= MAX_NAME_LENGTH && RFC1123_SUBDOMAIN.test(s);
}

/** `mesh` of a mesh-scoped resource. */
export function validateMeshName(mesh: string): Violation[] {
  if (!mesh) return [{ field: 'mesh', reason: 'cannot be empty' }];
  if (mesh.length > MAX_NAME_LENGTH) return [{ field: 'mesh', reason: `value length must less or equal ${MAX_NAME_LENGTH}` }];
  if (!LEGACY_MESH_NAME.test(mesh)) return [{ field: 'mesh', reason: INVALID_MESH_REASON }];
  return [];
}

// Kubernetes apimachinery validation texts (k8s.io/apimachinery/pkg/util/validation).
const QUALIFIED_NAME_FMT = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const QUALIFIED_NAME = new RegExp(`^${QUALIFIED_NAME_FMT}$`);
const QUALIFIED_NAME_MSG = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT = `(${QUALIFIED_NAME_FMT})?`;
const LABEL_VALUE = new RegExp(`^${LABEL_VALUE_FMT}$`);
const LABEL_VALUE_MSG =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT = '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*';
const DNS1123_SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1035_LABEL_FMT = '[a-z]([-a-z0-9]*[a-z0-9])?';
const DNS1035_LABEL = new RegExp(`^${DNS1035_LABEL_FMT}$`);
const DNS1035_LABEL_MSG =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";

function regexError(msg: string, fmt: string, ...examples: string[]): string {
  return `${msg} (e.g. ${examples.map((e) => `'${e}', `).join(' or ')}regex used for validation is '${fmt}')`;
}

const maxLenError = (n: number) => `must be no more than ${n} characters`;

function dns1123SubdomainErrors(value: string): string[] {
  const errs: string[] = [];
  if (value.length > MAX_NAME_LENGTH) errs.push(maxLenError(MAX_NAME_LENGTH));
  if (!RFC1123_SUBDOMAIN.test(value)) errs.push(regexError(DNS1123_SUBDOMAIN_MSG, DNS1123_SUBDOMAIN_FMT, 'example.com'));
  return errs;
}

/** Kubernetes `IsQualifiedName`: an optional DNS subdomain prefix, '/', and a ≤63 char name. */
export function qualifiedNameErrors(value: string): string[] {
  const parts = value.split('/');
  if (parts.length > 2) {
    return [
      `a qualified name ${regexError(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, 'MyName', 'my.name', '123-abc')} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  }
  const errs: string[] = [];
  const name = parts.length === 2 ? parts[1]! : parts[0]!;
  if (parts.length === 2) {
    const prefix = parts[0]!;
    if (prefix === '') errs.push('prefix part must be non-empty');
    else errs.push(...dns1123SubdomainErrors(prefix).map((e) => `prefix part ${e}`));
  }
  if (name === '') errs.push('name part must be non-empty');
  else if (name.length > 63) errs.push(`name part ${maxLenError(63)}`);
  if (!QUALIFIED_NAME.test(name)) errs.push(`name part ${regexError(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, 'MyName', 'my.name', '123-abc')}`);
  return errs;
}

/** Kubernetes `IsValidLabelValue`. */
export function labelValueErrors(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 63) errs.push(maxLenError(63));
  if (!LABEL_VALUE.test(value)) errs.push(regexError(LABEL_VALUE_MSG, LABEL_VALUE_FMT, 'MyValue', 'my_value', '12345'));
  return errs;
}

/** Kubernetes `IsDNS1035Label`. */
export function dns1035LabelErrors(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 63) errs.push(maxLenError(63));
  if (!DNS1035_LABEL.test(value)) errs.push(regexError(DNS1035_LABEL_MSG, DNS1035_LABEL_FMT, 'my-name', 'abc-123'));
  return errs;
}

/**
 * Label rules checked on every write (after computeLabels): syntax of each key and value, then the
 * origin / zone / mesh labels against the CP mode.
 */
export function validateLabels(res: Resource, ctx: ApiContext): Violation[] {
  const out: Violation[] = [];
  const at = (k: string) => `labels${key(k)}`;
  const labels = res.labels;
  for (const k of Object.keys(labels).sort()) {
    for (const reason of qualifiedNameErrors(k)) out.push({ field: at(k), reason });
    for (const reason of labelValueErrors(labels[k]!)) out.push({ field: at(k), reason });
  }

  const origin = labels[ORIGIN_LABEL];
  if (origin !== undefined && !(ORIGINS as readonly string[]).includes(origin)) {
    out.push({ field: at(ORIGIN_LABEL), reason: `unknown resource origin "${origin}"` });
  }
  const d = requireDescriptor(res.type);
  if (!ctx.disableOriginLabelValidation && !ctx.synced) {
    if (ctx.mode === 'global' && origin !== undefined && origin !== 'global') {
      out.push({ field: at(ORIGIN_LABEL), reason: "the origin label must be set to 'global'" });
    }
    if (ctx.mode === 'zone' && ctx.federated && !d.flat && origin !== 'zone') {
      out.push({ field: at(ORIGIN_LABEL), reason: "the origin label must be set to 'zone'" });
    }
  }
  if (ctx.mode !== 'global' && origin !== 'global' && !ctx.synced) {
    const zone = labels[ZONE_LABEL];
    if (ctx.zone && zone !== undefined && zone !== ctx.zone) {
      out.push({ field: at(ZONE_LABEL), reason: `${ZONE_LABEL} label should have ${ctx.zone} value` });
    }
    if (d.scope === 'Mesh' && labels[MESH_LABEL] !== undefined && labels[MESH_LABEL] !== res.mesh) {
      out.push({ field: at(MESH_LABEL), reason: `${MESH_LABEL} label must not differ from mesh set on resource` });
    }
  }
  // A zone proxy's workload is computed (and may be longer than a DNS label); a user-set one is checked.
  const workload = labels[WORKLOAD_LABEL];
  if (res.type === 'Dataplane' && workload !== undefined && !isZoneProxy(res) && ctx.environment === 'universal') {
    const errs = dns1035LabelErrors(workload);
    if (errs.length > 0) {
      out.push({
        field: at(WORKLOAD_LABEL),
        reason: `must be a valid DNS-1035 label (at most 63 characters, matching regex ${DNS1035_LABEL_FMT}): ${errs.join('; ')}`,
      });
    }
  }
  return out;
}

/**
 * The labels to store for a resource: the user's labels plus the computed ones (existing values win,
 * except the proxy labels of Dataplanes, which are always derived from the spec).
 *   - mesh-scoped kinds: `kuma.io/mesh`;
 *   - zone CP, kinds a zone provides: `kuma.io/origin: zone`, and unless the origin is global (synced
 *     from global) `kuma.io/zone: <zone>` and `kuma.io/env`;
 *   - global CP, kinds global provides: `kuma.io/origin: global` (Kuma 3.0 forces the origin by mode;
 *     2.14 leaves it to the sync, which stamps it when sending to zones);
 *   - standalone: no origin labels.
 */
export function computeLabels(res: Resource, ctx: ApiContext): Labels {
  const d = requireDescriptor(res.type);
  const labels: Labels = { ...res.labels };
  if (d.scope === 'Mesh') labels[MESH_LABEL] ??= res.mesh || 'default';
  if (ctx.mode === 'zone' && d.providedByZone) {
    labels[ORIGIN_LABEL] ??= 'zone';
    if (labels[ORIGIN_LABEL] !== 'global') {
      if (ctx.zone) labels[ZONE_LABEL] ??= ctx.zone;
      labels[ENV_LABEL] ??= ctx.environment;
    }
  }
  if (ctx.mode === 'global' && d.providedByGlobal) labels[ORIGIN_LABEL] ??= 'global';
  if (res.type === 'Dataplane') computeProxyLabels(res, labels);
  return labels;
}

function computeProxyLabels(res: Resource, labels: Labels): void {
  const isGateway = (res.spec['networking'] as { gateway?: unknown } | undefined)?.gateway !== undefined;
  const proxyType: ProxyType = labels[PROXY_TYPE_LABEL] === ZONE_PROXY ? ZONE_PROXY : isGateway ? 'gateway' : 'sidecar';
  labels[PROXY_TYPE_LABEL] = proxyType;

  const withLabels = { labels, spec: res.spec };
  const role = zoneProxyRole(withLabels);
  if (proxyType === ZONE_PROXY && role) labels[WORKLOAD_LABEL] = `zone-proxy-${res.mesh}-${role}`;

  const types = new Set(effectiveListeners(withLabels).map((l) => l.type));
  setOrDelete(labels, LISTENER_ZONE_INGRESS_LABEL, types.has('ZoneIngress'));
  setOrDelete(labels, LISTENER_ZONE_EGRESS_LABEL, types.has('ZoneEgress'));
}

function setOrDelete(labels: Labels, k: string, enabled: boolean): void {
  if (enabled) labels[k] = 'enabled';
  else delete labels[k];
}

/** Kuma Resource Identifier: `kri_<short>_<mesh>_<zone>_<namespace>_<displayName>_`; undefined without a short name. */
export function kriOf(res: Pick<Resource, 'type' | 'mesh' | 'name' | 'labels'>): string | undefined {
  const short = requireDescriptor(res.type).shortName;
  if (!short) return undefined;
  const l = res.labels;
  return `kri_${short}_${res.mesh}_${l[ZONE_LABEL] ?? ''}_${l[NAMESPACE_LABEL] ?? ''}_${l[DISPLAY_NAME_LABEL] ?? res.name}_`;
}
