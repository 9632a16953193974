// MeshRetry (Kuma 2.14): retries of outbound TCP connections, HTTP and gRPC requests (`to[]`).
// API side only here: Skein creates its default policy with each mesh (`mesh-retry-all-<mesh>`).
import { Violations, type Resource } from '../../api/resource.js';
import { arrayOf, duration, integer, object, oneOfValues, string, stringMap } from '../../api/schema.js';
import type { PolicyKindInfo } from '../../policy-engine/kinds.js';
import { targetRefSchema, type TargetRef } from '../../policy-engine/target-ref.js';
import { checkGreaterThanZero, commonWarnings, checkPositiveDuration, checkTargetRefs, meshToMeshDefault, policyDescriptor, policySchema, type DefaultPolicy } from '../common/validate.js';

interface BackOff {
  baseInterval?: string;
  maxInterval?: string;
}

interface RateLimitedBackOff {
  resetHeaders?: { name?: string; format?: 'Seconds' | 'UnixTimestamp' }[];
  maxInterval?: string;
}

export interface MeshRetryConf {
  tcp?: { maxConnectAttempt?: number };
  http?: {
    numRetries?: number;
    perTryTimeout?: string;
    backOff?: BackOff;
    rateLimitedBackOff?: RateLimitedBackOff;
    retryOn?: string[];
    retriableResponseHeaders?: unknown[];
    retriableRequestHeaders?: unknown[];
    hostSelection?: { predicate?: string; tags?: Record<string, string>; updateFrequency?: number }[];
    hostSelectionMaxAttempts?: number;
  };
  grpc?: { numRetries?: number; perTryTimeout?: string; backOff?: BackOff; rateLimitedBackOff?: RateLimitedBackOff; retryOn?: string[] };
}

export interface MeshRetrySpec {
  targetRef?: TargetRef;
  to?: { targetRef?: TargetRef; default?: MeshRetryConf }[];
}

const backOff = object({ baseInterval: duration, maxInterval: duration });
const rateLimitedBackOff = object({ resetHeaders: arrayOf(object({ name: string, format: oneOfValues(['Seconds', 'UnixTimestamp']) })), maxInterval: duration });
const headerMatch = object({ type: string, name: string, value: string });
const confSchema = object({
  tcp: object({ maxConnectAttempt: integer }),
  http: object({
    numRetries: integer,
    perTryTimeout: duration,
    backOff,
    rateLimitedBackOff,
    retryOn: arrayOf(string),
    retriableResponseHeaders: arrayOf(headerMatch),
    retriableRequestHeaders: arrayOf(headerMatch),
    hostSelection: arrayOf(object({ predicate: oneOfValues(['OmitPreviousHosts', 'OmitHostsWithTags', 'OmitPreviousPriorities']), tags: stringMap, updateFrequency: integer })),
    hostSelectionMaxAttempts: integer,
  }),
  grpc: object({ numRetries: integer, perTryTimeout: duration, backOff, rateLimitedBackOff, retryOn: arrayOf(string) }),
});

export const meshRetrySchema = policySchema(targetRefSchema, { to: confSchema });

const HTTP_RETRY_ON = ['5xx', 'GatewayError', 'Reset', 'Retriable4xx', 'ConnectFailure', 'EnvoyRatelimited', 'RefusedStream', 'Http3PostConnectFailure'];
const GRPC_RETRY_ON = ['Canceled', 'DeadlineExceeded', 'Internal', 'ResourceExhausted', 'Unavailable'];

function checkBackOff(v: Violations, at: string, b: BackOff | undefined): void {
  if (!b) return;
  checkPositiveDuration(v, `${at}.baseInterval`, b.baseInterval);
  checkPositiveDuration(v, `${at}.maxInterval`, b.maxInterval);
}

function checkConf(v: Violations, at: string, conf: MeshRetryConf | undefined): void {
  const c = conf ?? {};
  if (!c.tcp && !c.http && !c.grpc) {
    v.add(at, "at least one of the 'tcp', 'http', 'grpc' must be specified");
    return;
  }
  if (c.tcp) {
    if (Object.keys(c.tcp).length === 0) v.add(`${at}.tcp`, 'must not be empty');
    checkGreaterThanZero(v, `${at}.tcp.maxConnectAttempt`, c.tcp.maxConnectAttempt);
  }
  for (const proto of ['http', 'grpc'] as const) {
    const section = c[proto];
    if (!section) continue;
    const s = `${at}.${proto}`;
    if (Object.keys(section).length === 0) v.add(s, 'must not be empty');
    checkPositiveDuration(v, `${s}.perTryTimeout`, section.perTryTimeout);
    checkBackOff(v, `${s}.backOff`, section.backOff);
    checkBackOff(v, `${s}.rateLimitedBackOff`, section.rateLimitedBackOff);
    (section.retryOn ?? []).forEach((item, k) => {
      const ok = proto === 'grpc' ? GRPC_RETRY_ON.includes(item) : HTTP_RETRY_ON.includes(item) || /^HttpMethod[A-Z]+$/.test(item) || /^[1-5]\d\d$/.test(item);
      if (!ok) v.add(`${s}.retryOn[${k}]`, `unknown item '${item}'`);
    });
  }
}

export function validateMeshRetry(res: Resource): Violations {
  const spec = res.spec as MeshRetrySpec;
  const v = new Violations();
  checkTargetRefs(v, spec, {
    topLevel: ['Mesh', 'MeshSubset', 'MeshService', 'MeshServiceSubset', 'MeshGateway', 'Dataplane'],
    to: ['Mesh', 'MeshService', 'MeshExternalService', 'MeshMultiZoneService', 'MeshHTTPRoute'],
  });
  const to = spec.to ?? [];
  if (to.length === 0) v.add('spec.to', 'needs at least one item');
  to.forEach((t, i) => checkConf(v, `spec.to[${i}].default`, t.default));
  return v;
}

export const meshRetryKind: PolicyKindInfo = { name: 'MeshRetry' };

export const meshRetryDescriptor = policyDescriptor('MeshRetry', 'mr', 'Mesh Retry', meshRetrySchema, validateMeshRetry, { warnings: (res) => commonWarnings(res) });

/** Kuma's default retries (`mesh-retry-all-<mesh>`). */
export function defaultRetryPolicy(mesh: string): DefaultPolicy<MeshRetrySpec> {
  const backOff = { baseInterval: '25ms', maxInterval: '250ms' };
  return meshToMeshDefault('MeshRetry', mesh, `mesh-retry-all-${mesh}`, {
    tcp: { maxConnectAttempt: 5 },
    http: { numRetries: 5, perTryTimeout: '16s', backOff },
    grpc: { numRetries: 5, perTryTimeout: '16s', backOff },
  });
}
