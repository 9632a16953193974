// MeshHealthCheck (Kuma 2.14): active health checks on outbound clusters (`to[]`), including the
// zone-egress clusters of MeshExternalServices.
import { Violations, type Resource } from '../../api/resource.js';
import { arrayOf, boolean, duration, integer, object, string } from '../../api/schema.js';
import type { PolicyKindInfo } from '../../policy-engine/kinds.js';
import { targetRefSchema, type TargetRef } from '../../policy-engine/target-ref.js';
import { checkPercentage, commonWarnings, checkPositiveDuration, checkTargetRefs, checkUintPercent, intOrString, policyDescriptor, policySchema } from '../common/validate.js';

export interface MeshHealthCheckConf {
  interval?: string;
  timeout?: string;
  unhealthyThreshold?: number;
  healthyThreshold?: number;
  initialJitter?: string;
  intervalJitter?: string;
  intervalJitterPercent?: number;
  healthyPanicThreshold?: number | string;
  failTrafficOnPanic?: boolean;
  eventLogPath?: string;
  alwaysLogHealthCheckFailures?: boolean;
  noTrafficInterval?: string;
  reuseConnection?: boolean;
  tcp?: { disabled?: boolean; send?: string; receive?: string[] };
  http?: {
    disabled?: boolean;
    path?: string;
    requestHeadersToAdd?: { set?: { name?: string; value?: string }[]; add?: { name?: string; value?: string }[] };
    expectedStatuses?: number[];
  };
  grpc?: { disabled?: boolean; serviceName?: string; authority?: string };
}

export interface MeshHealthCheckSpec {
  targetRef?: TargetRef;
  to?: { targetRef?: TargetRef; default?: MeshHealthCheckConf }[];
}

const headers = arrayOf(object({ name: string, value: string }));
const confSchema = object({
  interval: duration,
  timeout: duration,
  unhealthyThreshold: integer,
  healthyThreshold: integer,
  initialJitter: duration,
  intervalJitter: duration,
  intervalJitterPercent: integer,
  healthyPanicThreshold: intOrString,
  failTrafficOnPanic: boolean,
  eventLogPath: string,
  alwaysLogHealthCheckFailures: boolean,
  noTrafficInterval: duration,
  reuseConnection: boolean,
  tcp: object({ disabled: boolean, send: string, receive: arrayOf(string) }),
  http: object({ disabled: boolean, path: string, requestHeadersToAdd: object({ set: headers, add: headers }), expectedStatuses: arrayOf(integer) }),
  grpc: object({ disabled: boolean, serviceName: string, authority: string }),
});

export const meshHealthCheckSchema = policySchema(targetRefSchema, { to: confSchema });

function checkConf(v: Violations, at: string, conf: MeshHealthCheckConf | undefined): void {
  const c = conf ?? {};
  for (const key of ['interval', 'timeout', 'initialJitter', 'intervalJitter', 'noTrafficInterval'] as const) checkPositiveDuration(v, `${at}.${key}`, c[key]);
  for (const key of ['unhealthyThreshold', 'healthyThreshold'] as const) {
    if (c[key] !== undefined && c[key]! <= 0) v.add(`${at}.${key}`, 'must be greater than zero when defined');
  }
  checkUintPercent(v, `${at}.intervalJitterPercent`, c.intervalJitterPercent);
  checkPercentage(v, `${at}.healthyPanicThreshold`, c.healthyPanicThreshold);
  if (c.eventLogPath !== undefined && (c.eventLogPath === '' || /\0/.test(c.eventLogPath) || c.eventLogPath.endsWith('/'))) {
    v.add(`${at}.eventLogPath`, 'must be a valid path when defined');
  }
  if (!c.http && !c.tcp && !c.grpc) v.add(at, 'must have at least one defined: http, tcp, grpc');
  if (c.http) {
    if (c.http.path !== undefined && c.http.path === '') v.add(`${at}.http.path`, 'must be defined');
    (c.http.expectedStatuses ?? []).forEach((s, k) => {
      if (s < 100 || s > 599) v.add(`${at}.http.expectedStatuses[${k}]`, 'must be in inclusive range [100, 599]');
    });
  }
}

export function validateMeshHealthCheck(res: Resource): Violations {
  const spec = res.spec as MeshHealthCheckSpec;
  const v = new Violations();
  checkTargetRefs(v, spec, {
    sectionNameWithTo: true,
    topLevel: ['Mesh', 'MeshSubset', 'MeshGateway', 'MeshService', 'MeshServiceSubset', 'Dataplane'],
    to: ['Mesh', 'MeshService', 'MeshExternalService', 'MeshMultiZoneService'],
  });
  const to = spec.to ?? [];
  if (to.length === 0) v.add('spec.to', 'needs at least one item');
  to.forEach((t, i) => checkConf(v, `spec.to[${i}].default`, t.default));
  return v;
}

export const meshHealthCheckKind: PolicyKindInfo = { name: 'MeshHealthCheck' };

export const meshHealthCheckDescriptor = policyDescriptor('MeshHealthCheck', 'mhc', 'Mesh Health Check', meshHealthCheckSchema, validateMeshHealthCheck, {
  warnings: (res) => [
    ...commonWarnings(res),
    ...((res.spec as MeshHealthCheckSpec).to ?? []).filter((t) => t.default?.healthyPanicThreshold !== undefined).slice(0, 1).map(
      () => "healthyPanicThreshold for 'to[].default' is deprecated. The setting has been moved to MeshCircuitBreaker policy, please use MeshCircuitBreaker policy instead.",
    ),
  ],
});
