// MeshTrace (Kuma 2.14): tracing on a proxy's HTTP connection managers, to an OpenTelemetry
// collector (inline `endpoint`, deprecated, or `backendRef` to a MeshOpenTelemetryBackend).
// Proxy-wide single conf. Kuma's Zipkin and Datadog backends are validated as Kuma does and then
// refused (`backends[0].type`): the Skein data plane has no tracer for them.
import { Violations, type Resource } from '../../api/resource.js';
import { arrayOf, boolean, object, string } from '../../api/schema.js';
import type { PolicyKindInfo } from '../../policy-engine/kinds.js';
import { targetRefSchema, type TargetRef } from '../../policy-engine/target-ref.js';
import { OTEL_ENDPOINT_DEPRECATED, checkOtelBackend, commonWarnings, checkTargetRefs, intOrString, otelBackendRefSchema, policyDescriptor, policySchema, type OtelBackend } from '../common/validate.js';

export interface MeshTraceBackend {
  type?: 'Zipkin' | 'Datadog' | 'OpenTelemetry';
  zipkin?: { url?: string; traceId128bit?: boolean; apiVersion?: 'httpJson' | 'httpProto'; sharedSpanContext?: boolean };
  datadog?: { url?: string; splitService?: boolean };
  openTelemetry?: OtelBackend;
}

export interface MeshTraceConf {
  backends?: MeshTraceBackend[];
  sampling?: { overall?: number | string; client?: number | string; random?: number | string };
  tags?: { name?: string; literal?: string; header?: { name?: string; default?: string } }[];
}

export interface MeshTraceSpec {
  targetRef?: TargetRef;
  default?: MeshTraceConf;
}

export const meshTraceSchema = policySchema(targetRefSchema, {
  default: object({
    backends: arrayOf(
      object({
        type: string,
        zipkin: object({ url: string, traceId128bit: boolean, apiVersion: string, sharedSpanContext: boolean }),
        datadog: object({ url: string, splitService: boolean }),
        openTelemetry: object({ endpoint: string, backendRef: otelBackendRefSchema }),
      }),
    ),
    sampling: object({ overall: intOrString, client: intOrString, random: intOrString }),
    tags: arrayOf(object({ name: string, literal: string, header: object({ name: string, default: string }) })),
  }),
});

/** Why a Zipkin or Datadog backend is refused. */
export const UNSUPPORTED_BACKEND = (type: string): string =>
  `${type} is not supported: the Skein data plane exports traces with OpenTelemetry (OTLP/gRPC) only, use type OpenTelemetry`;

function checkDatadogUrl(v: Violations, at: string, raw: string | undefined): void {
  let url: URL;
  try {
    url = new URL(raw ?? '');
  } catch {
    v.add(at, 'must be a valid url');
    return;
  }
  if (url.protocol !== 'http:') v.add(at, 'scheme must be http');
  if (!url.port) v.add(at, 'port must be defined');
  if (url.username || url.password) v.add(at, 'user must not be defined');
  if (url.pathname !== '' && url.pathname !== '/') v.add(at, 'path must not be defined');
  if (url.search) v.add(at, 'query must not be defined');
  if (url.hash) v.add(at, 'fragment must not be defined');
}

export function validateMeshTrace(res: Resource): Violations {
  const spec = res.spec as MeshTraceSpec;
  const v = new Violations();
  checkTargetRefs(v, spec, { topLevel: ['Mesh', 'MeshSubset', 'MeshGateway', 'MeshService', 'MeshServiceSubset', 'Dataplane'] });
  const conf = spec.default;
  if (!conf) {
    v.add('spec.default', 'must be defined');
    return v;
  }
  if (!conf.backends) v.add('spec.default.backends', 'must be defined');
  else if (conf.backends.length > 1) v.add('spec.default.backends', 'must have zero or one backend defined');
  else if (conf.backends.length === 1) {
    const b = conf.backends[0]!;
    const at = 'spec.default.backends[0]';
    if (b.type === 'Datadog' || (!b.type && b.datadog)) {
      if (!b.datadog) v.add(`${at}.datadog`, 'must be defined');
      else checkDatadogUrl(v, `${at}.datadog.url`, b.datadog.url);
    } else if (b.type === 'Zipkin' || (!b.type && b.zipkin)) {
      if (!b.zipkin) v.add(`${at}.zipkin`, 'must be defined');
      else if (!b.zipkin.url) v.add(`${at}.zipkin.url`, 'must not be empty');
      else if (!URL.canParse(b.zipkin.url)) v.add(`${at}.zipkin.url`, 'must be a valid url');
    } else if (b.type === 'OpenTelemetry' || (!b.type && b.openTelemetry)) {
      if (!b.openTelemetry) v.add(`${at}.openTelemetry`, 'must be defined');
      else checkOtelBackend(v, `${at}.openTelemetry`, b.openTelemetry);
    } else v.add(`${at}.type`, '"type" must be one of ["Zipkin", "Datadog", "OpenTelemetry"]');
    // Kuma's schema has them, Skein's data plane has no Zipkin or Datadog tracer: refused here rather
    // than accepted and never applied (or NACKed by every proxy of the mesh).
    const unsupported = b.type ?? (b.zipkin ? 'Zipkin' : b.datadog ? 'Datadog' : undefined);
    if (unsupported === 'Zipkin' || unsupported === 'Datadog') v.add(`${at}.type`, UNSUPPORTED_BACKEND(unsupported));
  }
  for (const key of ['overall', 'client', 'random'] as const) {
    const value = conf.sampling?.[key];
    if (value === undefined) continue;
    const n = Number(value);
    if (typeof value === 'string' && (value.trim() === '' || Number.isNaN(n))) v.add(`spec.default.sampling.${key}`, 'string is not a number');
    else if (n < 0 || n > 100) v.add(`spec.default.sampling.${key}`, 'must be between 0 and 100');
  }
  (conf.tags ?? []).forEach((t, i) => {
    const at = `spec.default.tags[${i}]`;
    if (!t.name) v.add(`${at}.name`, 'must not be empty');
    if ((t.literal === undefined) === (t.header === undefined)) v.add(at, 'tag must have only one type defined: header, literal');
  });
  return v;
}

export const meshTraceKind: PolicyKindInfo = { name: 'MeshTrace', singleItem: true };

export const meshTraceDescriptor = policyDescriptor('MeshTrace', 'mtr', 'Mesh Trace', meshTraceSchema, validateMeshTrace, {
  warnings: (res) => [
    ...commonWarnings(res),
    ...((res.spec as MeshTraceSpec).default?.backends ?? []).filter((b) => b.openTelemetry?.endpoint !== undefined).map(() => OTEL_ENDPOINT_DEPRECATED),
  ],
});
