// MeshTimeout (Kuma 2.14): connection, idle and HTTP timeouts on inbounds (`rules[]`, or `from[]`
// read as catch-all rules), outbounds (`to[]`) and zone-proxy listeners (`rules[].matches[].sni`).
import { Violations, type Resource } from '../../api/resource.js';
import { duration, object } from '../../api/schema.js';
import type { PolicyKindInfo } from '../../policy-engine/kinds.js';
import { targetRefSchema } from '../../policy-engine/target-ref.js';
import { checkMatch, commonWarnings, checkNonNegativeDuration, checkPositiveDuration, checkTargetRefs, hasSpiffeMatch, policyDescriptor, policySchema, type DefaultPolicy, type PolicySections } from '../common/validate.js';

export interface MeshTimeoutConf {
  connectionTimeout?: string;
  idleTimeout?: string;
  http?: {
    requestTimeout?: string;
    streamIdleTimeout?: string;
    maxStreamDuration?: string;
    maxConnectionDuration?: string;
    requestHeadersTimeout?: string;
  };
}

export type MeshTimeoutSpec = PolicySections<MeshTimeoutConf>;

const confSchema = object({
  connectionTimeout: duration,
  idleTimeout: duration,
  http: object({ requestTimeout: duration, streamIdleTimeout: duration, maxStreamDuration: duration, maxConnectionDuration: duration, requestHeadersTimeout: duration }),
});

export const meshTimeoutSchema = policySchema(targetRefSchema, { from: confSchema, to: confSchema, rules: confSchema });

const SPIFFE_FORBIDDEN = ['connectionTimeout', 'idleTimeout', 'http.requestHeadersTimeout', 'http.maxStreamDuration', 'http.maxConnectionDuration'];
const ROUTE_FORBIDDEN = ['connectionTimeout', 'idleTimeout', 'http.maxStreamDuration', 'http.maxConnectionDuration'];

function fieldAt(conf: MeshTimeoutConf, path: string): unknown {
  const [a, b] = path.split('.') as [keyof MeshTimeoutConf, string | undefined];
  const value = conf[a];
  return b ? (value as Record<string, unknown> | undefined)?.[b] : value;
}

function checkConf(v: Violations, at: string, conf: MeshTimeoutConf | undefined): void {
  if (!conf || (conf.connectionTimeout === undefined && conf.idleTimeout === undefined && conf.http === undefined)) {
    v.add(at, 'at least one timeout should be configured');
    return;
  }
  checkPositiveDuration(v, `${at}.connectionTimeout`, conf.connectionTimeout);
  checkNonNegativeDuration(v, `${at}.idleTimeout`, conf.idleTimeout);
  const http = conf.http;
  if (http) {
    if ([http.requestTimeout, http.streamIdleTimeout, http.maxStreamDuration, http.maxConnectionDuration].every((d) => d === undefined)) {
      v.add(`${at}.http`, 'at least one timeout in this section should be configured');
    }
    for (const key of ['requestTimeout', 'streamIdleTimeout', 'maxStreamDuration', 'maxConnectionDuration', 'requestHeadersTimeout'] as const) {
      checkNonNegativeDuration(v, `${at}.http.${key}`, http[key]);
    }
  }
}

export function validateMeshTimeout(res: Resource): Violations {
  const spec = res.spec as MeshTimeoutSpec;
  const v = new Violations();
  const top = spec.targetRef ?? { kind: 'Mesh' };
  const routeOrGateway = top.kind === 'MeshHTTPRoute' || top.kind === 'MeshGateway';
  checkTargetRefs(v, spec, {
    topLevel: ['Mesh', 'MeshSubset', 'Dataplane', 'MeshGateway', 'MeshService', 'MeshServiceSubset', 'MeshHTTPRoute'],
    from: ['Mesh'],
    to: routeOrGateway ? ['Mesh', 'MeshExternalService'] : ['Mesh', 'MeshService', 'MeshExternalService', 'MeshMultiZoneService', 'MeshHTTPRoute'],
    gatewayListenerTags: true,
  });
  const from = spec.from ?? [];
  const to = spec.to ?? [];
  const rules = spec.rules ?? [];
  if (rules.length > 0 && (to.length > 0 || from.length > 0)) v.add('spec', "fields 'to' and 'from' must be empty when 'rules' is defined");
  if (rules.length === 0 && to.length === 0 && from.length === 0) v.add('spec', "at least one of 'from', 'to' or 'rules' has to be defined");
  if (routeOrGateway && from.length > 0) v.add('spec.from', 'must not be defined');
  from.forEach((f, i) => checkConf(v, `spec.from[${i}].default`, f.default));
  to.forEach((t, i) => {
    checkConf(v, `spec.to[${i}].default`, t.default);
    if (top.kind === 'MeshHTTPRoute') {
      for (const f of ROUTE_FORBIDDEN) {
        if (t.default && fieldAt(t.default, f) !== undefined) v.add(`spec.to[${i}].default.${f}`, "can't be specified when top-level TargetRef is referencing MeshHTTPRoute");
      }
    }
  });
  rules.forEach((r, i) => {
    (r.matches ?? []).forEach((m, j) => checkMatch(v, `spec.rules[${i}].matches[${j}]`, m));
    checkConf(v, `spec.rules[${i}].default`, r.default);
    if (hasSpiffeMatch(r) && r.default) {
      for (const f of SPIFFE_FORBIDDEN) {
        if (fieldAt(r.default, f) !== undefined) {
          v.add(`spec.rules[${i}].default.${f}`, "can't be specified when matches contain spiffeID because this field cannot be conditioned on source identity");
        }
      }
    }
  });
  return v;
}

export const meshTimeoutKind: PolicyKindInfo = { name: 'MeshTimeout', fromAsRules: true };

export const meshTimeoutDescriptor = policyDescriptor('MeshTimeout', 'mt', 'Mesh Timeout', meshTimeoutSchema, validateMeshTimeout, {
  warnings: (res) => commonWarnings(res),
});

type Initial = DefaultPolicy<MeshTimeoutSpec>;

/** Kuma 2.14's default timeouts for sidecars (`mesh-timeout-all-<mesh>`). */
export function defaultTimeoutPolicy(mesh: string): Initial {
  return {
    type: 'MeshTimeout',
    mesh,
    name: `mesh-timeout-all-${mesh}`,
    labels: {},
    spec: {
      targetRef: { kind: 'Mesh', proxyTypes: ['Sidecar'] },
      from: [{ targetRef: { kind: 'Mesh' }, default: { connectionTimeout: '10s', idleTimeout: '2h', http: { requestTimeout: '0s', streamIdleTimeout: '1h', maxStreamDuration: '0s' } } }],
      to: [{ targetRef: { kind: 'Mesh' }, default: { connectionTimeout: '5s', idleTimeout: '1h', http: { requestTimeout: '15s', streamIdleTimeout: '30m' } } }],
    },
  };
}

/** Kuma 2.14's default timeouts for gateways (`mesh-gateways-timeout-all-<mesh>`). */
export function defaultGatewayTimeoutPolicy(mesh: string): Initial {
  return {
    type: 'MeshTimeout',
    mesh,
    name: `mesh-gateways-timeout-all-${mesh}`,
    labels: {},
    spec: {
      targetRef: { kind: 'Mesh', proxyTypes: ['Gateway'] },
      from: [{ targetRef: { kind: 'Mesh' }, default: { idleTimeout: '5m', http: { streamIdleTimeout: '5s', requestHeadersTimeout: '500ms' } } }],
      to: [{ targetRef: { kind: 'Mesh' }, default: { idleTimeout: '1h', http: { streamIdleTimeout: '5s' } } }],
    },
  };
}
