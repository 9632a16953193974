// MeshAccessLog → access log entries on the HttpConnectionManager / tcp_proxy of a proxy's chains.
//   inbound listeners   every backend of every catch-all rule (`rules[]` without match, `from[]`)
//                       of the policies selecting the inbound (fan-out, in rule order)
//   outbound listeners  the merged `to[]` conf naming the destination (backends replaced on merge)
//   zone proxy chains   per SNI chain of an ingress / egress listener: the catch-all rules plus the
//                       rules matching exactly that SNI (`rules[].matches[].sni`)
// Backends:
//   File           envoy.access_loggers.file to `path`, plain text or JSON
//   Tcp            envoy.access_loggers.file to the proxy's access log pipe (node metadata
//                  `accessLogSocketPath`, a FIFO the DP agent reads), one JSON line per entry:
//                  `{"address": "<host:port>", "message": <line>}`; the agent sends `message` to address
//   OpenTelemetry  envoy.access_loggers.open_telemetry (OTLP/gRPC) to a cluster
//                  `system_meshaccesslog_<address-port>` of the collector (MeshOpenTelemetryBackend
//                  by `backendRef`, or the deprecated inline `endpoint`)
// Kuma's %KUMA_*% placeholders are replaced here; Envoy's own operators are left to the proxy.
// Not generated yet: rules that match callers by spiffeID (Envoy needs a CEL filter), and
// OpenTelemetry backends with `protocol: http` (the data plane exports OTLP over gRPC only).
import { isIP } from 'node:net';
import type { Resource } from '../../api/resource.js';
import { matchPolicies, outboundConf, proxyViewOf, type DestinationView, type InboundView, type ListenerView, type ProxyView, type Rule } from '../../policy-engine/index.js';
import { selectionViewOf } from '../common/plugin-view.js';
import {
  clusterResource,
  fileAccessLog,
  openTelemetryAccessLog,
  staticCluster,
  type AccessLog,
  type Cluster,
  type OtlpAnyValue,
  type OtlpKeyValue,
} from '../../xds/envoy/index.js';
import { DEFAULT_OTLP_PORT, resolveBackendRef } from '../meshopentelemetrybackend/api.js';
import type { Format, MeshAccessLogBackend, MeshAccessLogConf } from './api.js';

export const DEFAULT_TCP_FORMAT =
  '[%START_TIME%] %RESPONSE_FLAGS% %KUMA_MESH% %KUMA_SOURCE_ADDRESS_WITHOUT_PORT%(%KUMA_SOURCE_SERVICE%)->%UPSTREAM_HOST%(%KUMA_DESTINATION_SERVICE%) took %DURATION%ms, sent %BYTES_SENT% bytes, received: %BYTES_RECEIVED% bytes';
export const DEFAULT_HTTP_FORMAT =
  '[%START_TIME%] %KUMA_MESH% "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-B3-TRACEID?X-DATADOG-TRACEID)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%KUMA_SOURCE_SERVICE%" "%KUMA_DESTINATION_SERVICE%" "%KUMA_SOURCE_ADDRESS_WITHOUT_PORT%" "%UPSTREAM_HOST%"';

const HTTP_PROTOCOLS = new Set(['http', 'http2', 'grpc']);
const LOG_NAME = 'MeshAccessLog';

/** What the control plane knows about the proxy process from its node metadata. */
import type { ProxyMetadata } from '../common/proxy-metadata.js';

export type { ProxyMetadata };

/** One access log entry, as plain data (the cache key of the listener that carries it). */
export type AccessLogEntry =
  | { type: 'file'; path: string; text?: string; json?: Record<string, unknown>; omitEmptyValues?: boolean }
  | { type: 'otel'; cluster: string; body: OtlpAnyValue; attributes: OtlpKeyValue[]; resource: OtlpKeyValue[] };

/** Where a chain's entries are: values of the %KUMA_*% placeholders and whether it speaks HTTP. */
interface Site {
  direction: 'INBOUND' | 'OUTBOUND' | 'UNSPECIFIED';
  sourceService: string;
  destinationService: string;
  protocol: string;
}

interface Collector {
  name: string;
  address: string;
  port: number;
}

/** A proxy's access logs: entries per chain, and the collector clusters they need. */
export class AccessLogPlan {
  private readonly collectors = new Map<string, Collector>();
  private readonly view: ProxyView;
  private readonly address: string;
  private readonly identifyingService: string;

  constructor(
    private readonly policies: readonly Resource[],
    private readonly dp: Resource,
    private readonly meta: ProxyMetadata = {},
  ) {
    this.view = { ...proxyViewOf(dp), inbounds: [], listeners: [], outbounds: [] };
    const net = (dp.spec['networking'] ?? {}) as { address?: string; inbound?: { tags?: Record<string, string> }[] };
    this.address = net.address ?? '';
    this.identifyingService = net.inbound?.[0]?.tags?.['kuma.io/service'] ?? 'unknown';
  }

  /** Entries of an inbound's chains: every backend of every catch-all rule. */
  inbound(inbound: InboundView, service: string, protocol: string): AccessLogEntry[] {
    if (!this.any()) return [];
    const rules = matchPolicies<MeshAccessLogConf>({ ...this.view, inbounds: [inbound] }, this.policies, 'MeshAccessLog').inbounds[0];
    const confs = (rules?.rules ?? []).filter((r) => !r.match).map((r) => r.conf);
    return this.entries(confs, { direction: 'INBOUND', sourceService: 'unknown', destinationService: service, protocol });
  }

  /** Per-destination resolver for outbound chains: the merged `to[]` conf naming it. */
  outbound(): (destination: DestinationView, service: string, protocol: string) => AccessLogEntry[] {
    if (!this.any()) return () => [];
    // The whole proxy: a top-level MeshService, MeshSubset or Dataplane targetRef selects it by its inbounds.
    const to = matchPolicies<MeshAccessLogConf>(selectionViewOf(this.dp), this.policies, 'MeshAccessLog').to;
    return (destination, service, protocol) => {
      const merged = outboundConf(to, destination);
      return merged.conf ? this.entries([merged.conf], { direction: 'OUTBOUND', sourceService: this.identifyingService, destinationService: service, protocol }) : [];
    };
  }

  /** Entries of a zone proxy listener's chain for one SNI (TCP format, direction unspecified). */
  zoneProxyChain(listener: ListenerView, sni: string, service: string): AccessLogEntry[] {
    if (!this.any()) return [];
    const rules = matchPolicies<MeshAccessLogConf>({ ...this.view, listeners: [listener] }, this.policies, 'MeshAccessLog').listeners[0];
    const applies = (r: Rule<MeshAccessLogConf>) => !r.match || (!r.match.spiffeID && r.match.sni?.value === sni);
    const confs = (rules?.rules ?? []).filter(applies).map((r) => r.conf);
    return this.entries(confs, { direction: 'UNSPECIFIED', sourceService: 'unknown', destinationService: service, protocol: 'tcp' });
  }

  /** The OTLP collector clusters of the entries handed out so far. */
  clusters(): ReturnType<typeof clusterResource>[] {
    return [...this.collectors.values()].map((c) => clusterResource(collectorCluster(c)));
  }

  private any(): boolean {
    return this.policies.some((p) => p.type === 'MeshAccessLog' && p.mesh === this.dp.mesh);
  }

  private entries(confs: MeshAccessLogConf[], site: Site): AccessLogEntry[] {
    return confs.flatMap((c) => c.backends ?? []).flatMap((b) => this.entry(b, site) ?? []);
  }

  private entry(b: MeshAccessLogBackend, site: Site): AccessLogEntry | undefined {
    const fill = placeholders(this.dp, this.address, site);
    const type = b.type ?? (b.file ? 'File' : b.tcp ? 'Tcp' : b.openTelemetry ? 'OpenTelemetry' : undefined);
    if (type === 'File' && b.file?.path) return { type: 'file', path: b.file.path, ...formatOf(b.file.format, site, fill) };
    if (type === 'Tcp' && b.tcp?.address) {
      const path = this.meta.accessLogSocketPath;
      if (!path) return undefined;
      const f = formatOf(b.tcp.format, site, fill);
      return { type: 'file', path, json: { address: b.tcp.address, message: f.json ?? f.text }, ...(f.omitEmptyValues ? { omitEmptyValues: true } : {}) };
    }
    if (type === 'OpenTelemetry' && b.openTelemetry) {
      const collector = this.collector(b.openTelemetry);
      if (!collector) return undefined;
      const o = b.openTelemetry;
      const body = o.body === undefined ? { string_value: fill(defaultFormat(site)) } : anyValue(o.body, fill);
      const attributes = (o.attributes ?? []).map((a) => ({ key: a.key ?? '', value: { string_value: fill(a.value ?? '') } }));
      const zone = this.dp.labels['kuma.io/zone'];
      const workload = this.dp.labels['kuma.io/workload'];
      const resource = [
        { key: 'kuma.mesh', value: { string_value: this.dp.mesh } },
        ...(zone ? [{ key: 'kuma.zone', value: { string_value: zone } }] : []),
        ...(workload ? [{ key: 'kuma.workload', value: { string_value: workload } }] : []),
      ];
      return { type: 'otel', cluster: collector.name, body, attributes, resource };
    }
    return undefined;
  }

  /** The collector of an OpenTelemetry backend; undefined for a dangling ref or an OTLP/HTTP backend. */
  private collector(o: NonNullable<MeshAccessLogBackend['openTelemetry']>): Collector | undefined {
    let address: string;
    let port: number;
    if (o.backendRef) {
      const motbs = this.policies.filter((p) => p.type === 'MeshOpenTelemetryBackend' && p.mesh === this.dp.mesh);
      const resolved = resolveBackendRef(motbs, o.backendRef, 'logs');
      if (!resolved || resolved.protocol !== 'grpc') return undefined;
      address = resolved.address || '127.0.0.1';
      port = resolved.port;
    } else if (o.endpoint) {
      const m = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(o.endpoint);
      if (!m) return undefined;
      address = m[1] ?? m[2]!;
      port = m[3] ? Number(m[3]) : DEFAULT_OTLP_PORT;
    } else return undefined;
    const name = `system_meshaccesslog_${cleanName(`${address}-${port}`)}`;
    const collector = { name, address, port };
    this.collectors.set(name, collector);
    return collector;
  }
}

/** The Envoy access_log list of a chain. */
export function accessLogEntries(entries: readonly AccessLogEntry[] | undefined): AccessLog[] {
  return (entries ?? []).map((e) =>
    e.type === 'file'
      ? fileAccessLog(e.path, e.json ? { json: e.json, omitEmptyValues: e.omitEmptyValues } : { text: e.text ?? '', omitEmptyValues: e.omitEmptyValues })
      : openTelemetryAccessLog({ logName: LOG_NAME, cluster: e.cluster, body: e.body, attributes: e.attributes, resourceAttributes: e.resource }),
  );
}

/** A cluster of an OTLP/gRPC collector: HTTP/2, STATIC for an IP, STRICT_DNS for a name (as Kuma). */
function collectorCluster(c: Collector): Cluster {
  const cluster = staticCluster({ name: c.name, http2: true, connectTimeoutMs: 5_000, localities: [{ endpoints: [{ address: c.address, port: c.port }] }] });
  if (isIP(c.address) === 0) cluster.type = 'STRICT_DNS';
  return cluster;
}

/** Kuma's CleanName: anything outside [a-z0-9_-] becomes `-`. */
function cleanName(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9_-]/g, '-');
}

function defaultFormat(site: Site): string {
  return HTTP_PROTOCOLS.has(site.protocol) ? DEFAULT_HTTP_FORMAT : DEFAULT_TCP_FORMAT;
}

/** The line format of a File / Tcp backend, placeholders filled in; plain lines end with a newline. */
function formatOf(f: Format | undefined, site: Site, fill: (s: string) => string): { text?: string; json?: Record<string, unknown>; omitEmptyValues?: boolean } {
  const omit = f?.omitEmptyValues ? { omitEmptyValues: true } : {};
  const isJson = f?.type === 'Json' || (!f?.type && f?.json !== undefined);
  if (isJson) return { json: Object.fromEntries((f?.json ?? []).map((kv) => [kv.key ?? '', fill(kv.value ?? '')])), ...omit };
  return { text: `${fill(f?.plain ?? defaultFormat(site))}\n`, ...omit };
}

/** Replaces Kuma's placeholders with what the control plane knows about the chain. */
function placeholders(dp: Resource, address: string, site: Site): (s: string) => string {
  const values: Record<string, string> = {
    KUMA_MESH: dp.mesh,
    KUMA_SOURCE_ADDRESS: `${address}:0`,
    KUMA_SOURCE_ADDRESS_WITHOUT_PORT: address,
    KUMA_SOURCE_IP: address,
    KUMA_SOURCE_SERVICE: site.sourceService,
    KUMA_DESTINATION_SERVICE: site.destinationService,
    KUMA_TRAFFIC_DIRECTION: site.direction,
    KUMA_ZONE: dp.labels['kuma.io/zone'] ?? '',
    KUMA_WORKLOAD: dp.labels['kuma.io/workload'] ?? '',
  };
  return (s) => s.replace(/%(KUMA_[A-Z_]+)%/g, (whole, name: string) => values[name] ?? whole);
}

const ANY_VALUE_KEYS: Record<string, string> = {
  stringValue: 'string_value',
  boolValue: 'bool_value',
  intValue: 'int_value',
  doubleValue: 'double_value',
  arrayValue: 'array_value',
  kvlistValue: 'kvlist_value',
  bytesValue: 'bytes_value',
};

/** A user `body`: an OTLP AnyValue in JSON (placeholders filled in), else the JSON as a string. */
function anyValue(body: unknown, fill: (s: string) => string): OtlpAnyValue {
  const convert = (v: unknown): OtlpAnyValue | undefined => {
    if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
    const entries = Object.entries(v as Record<string, unknown>);
    if (entries.length !== 1) return undefined;
    const [key, value] = entries[0]!;
    const field = ANY_VALUE_KEYS[key] ?? (Object.values(ANY_VALUE_KEYS).includes(key) ? key : undefined);
    if (field === 'string_value' && typeof value === 'string') return { string_value: fill(value) };
    if (field === 'bool_value' && typeof value === 'boolean') return { bool_value: value };
    if (field === 'int_value' && (typeof value === 'number' || typeof value === 'string')) return { int_value: Number(value) };
    if (field === 'double_value' && typeof value === 'number') return { double_value: value };
    const values = (value as { values?: unknown[] } | undefined)?.values;
    if (field === 'array_value' && Array.isArray(values)) {
      const items = values.map(convert);
      return items.every((i) => i) ? { array_value: { values: items as OtlpAnyValue[] } } : undefined;
    }
    if (field === 'kvlist_value' && Array.isArray(values)) {
      const kvs = values.map((kv) => {
        const { key: k, value: val } = (kv ?? {}) as { key?: unknown; value?: unknown };
        const converted = convert(val);
        return typeof k === 'string' && converted ? { key: k, value: converted } : undefined;
      });
      return kvs.every((kv) => kv) ? { kvlist_value: { values: kvs as OtlpKeyValue[] } } : undefined;
    }
    return undefined;
  };
  return convert(body) ?? { string_value: fill(typeof body === 'string' ? body : JSON.stringify(body)) };
}
