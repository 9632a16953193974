import path from 'node:path';
import { describe, expect, it } from 'vitest';
import '../kinds.js';
import type { Resource } from '../../api/resource.js';
import { makeSnapshot } from '../../xds/cache/snapshot.js';
import { configDump } from '../../xds/config-dump.js';
import { buildMeshContext } from '../../xds/context/mesh-context.js';
import { generateSidecar } from '../../xds/generator/sidecar.js';
import { generateZoneProxy } from '../../xds/generator/zone-proxy.js';
import { golden, policyResource } from '../common/golden.js';
import { goldenBackend, goldenMesh, goldenWeb } from '../common/golden-fixtures.js';
import type { ProxyMetadata } from './plugin.js';

const testdata = (name: string) => path.join(import.meta.dirname, 'testdata', name);
const META: ProxyMetadata = { accessLogSocketPath: '/var/run/kuma-dp/kuma-al-backend-1-default.sock' };

function generate(dp: Resource, policies: Resource[], meta: ProxyMetadata = META, dataplanes = [goldenBackend, goldenWeb, dp]) {
  const ctx = buildMeshContext(goldenMesh, [...new Set(dataplanes)], [], undefined, { policies });
  const zoneProxy = dp.labels['kuma.io/proxy-type'] === 'zoneproxy';
  return zoneProxy ? generateZoneProxy(dp, ctx, undefined, meta) : generateSidecar(dp, ctx, undefined, meta);
}

function dump(dp: Resource, policies: Resource[], meta?: ProxyMetadata, dataplanes?: Resource[]): { listeners: unknown[]; clusters: unknown[] } {
  const d = configDump(makeSnapshot(generate(dp, policies, meta, dataplanes))).resources as Record<string, { resource: unknown }[]>;
  const pick = (type: string) => (d[type] ?? []).map((r) => r.resource).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
  return { listeners: pick('Listener'), clusters: pick('Cluster') };
}

/** The access_log entries of a listener's first chain's terminal filter, as in the dump. */
function accessLogsOf(d: { listeners: unknown[] }, listener: string): { name: string; typed_config: Record<string, unknown> }[] {
  const l = d.listeners.find((x) => (x as { name: string }).name === listener) as { filter_chains: { filters: { typed_config: { access_log?: unknown[] } }[] }[] } | undefined;
  const filters = l?.filter_chains[0]?.filters ?? [];
  return (filters[filters.length - 1]?.typed_config.access_log ?? []) as { name: string; typed_config: Record<string, unknown> }[];
}

const motb = { ...policyResource('MeshOpenTelemetryBackend', 'otel-collector', { endpoint: { address: '10.0.0.50', port: 4317 }, protocol: 'grpc' }), labels: { backend: 'otel' } };

describe('MeshAccessLog plugin', () => {
  it('file, tcp and OpenTelemetry backends on inbounds (HTTP and TCP) with Kuma placeholders filled in', () => {
    const policy = policyResource('MeshAccessLog', 'inbound-logs', {
      targetRef: { kind: 'Mesh' },
      rules: [
        {
          default: {
            backends: [
              { type: 'File', file: { path: '/var/log/access.log' } },
              { type: 'File', file: { path: '/var/log/access.json', format: { type: 'Json', json: [{ key: 'mesh', value: '%KUMA_MESH%' }, { key: 'status', value: '%RESPONSE_CODE%' }], omitEmptyValues: true } } },
              { type: 'Tcp', tcp: { address: 'logstash:5000', format: { type: 'Plain', plain: '%KUMA_SOURCE_SERVICE%->%KUMA_DESTINATION_SERVICE% %KUMA_TRAFFIC_DIRECTION%' } } },
              { type: 'OpenTelemetry', openTelemetry: { backendRef: { kind: 'MeshOpenTelemetryBackend', labels: { backend: 'otel' } }, attributes: [{ key: 'mesh', value: '%KUMA_MESH%' }] } },
            ],
          },
        },
        // Matched rules are not generated (no CEL filter in the data plane).
        { matches: [{ spiffeID: { type: 'Exact', value: 'spiffe://default/web' } }], default: { backends: [{ type: 'File', file: { path: '/var/log/web-only.log' } }] } },
      ],
    });
    const d = dump(goldenBackend, [policy, motb]);
    expect(d).toEqual(golden(testdata('inbound.golden.json'), d));
    const http = accessLogsOf(d, 'inbound:10.0.0.1:8080');
    expect(http.map((l) => l.name)).toEqual(['envoy.access_loggers.file', 'envoy.access_loggers.file', 'envoy.access_loggers.file', 'envoy.access_loggers.open_telemetry']);
    const text = JSON.stringify(d);
    expect(text).toContain('[%START_TIME%] default \\"%REQ(:METHOD)%');
    expect(text).toContain('unknown->backend INBOUND');
    expect(text).not.toContain('web-only');
    expect(text).not.toContain('%KUMA_');
    // tcp_proxy gets the TCP default format; the collector gets an HTTP/2 cluster.
    expect(JSON.stringify(accessLogsOf(d, 'inbound:10.0.0.1:9090'))).toContain('(backend-tcp) took %DURATION%ms');
    expect(text).toContain('system_meshaccesslog_10-0-0-50-4317');
  });

  it('outbound `to[]` per destination, merged (backends replaced) and nothing for others', () => {
    const mesh = policyResource('MeshAccessLog', 'all-out', { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: { backends: [{ type: 'File', file: { path: '/dev/stdout' } }] } }] });
    const backend = policyResource('MeshAccessLog', 'backend-out', {
      targetRef: { kind: 'Mesh' },
      to: [{ targetRef: { kind: 'MeshService', name: 'backend' }, default: { backends: [{ type: 'OpenTelemetry', openTelemetry: { endpoint: 'otel.local:4317' } }] } }],
    });
    const d = dump(goldenWeb, [mesh, backend]);
    expect(d).toEqual(golden(testdata('outbound.golden.json'), d));
    expect(accessLogsOf(d, 'outbound:127.0.0.1:20001').map((l) => l.name)).toEqual(['envoy.access_loggers.open_telemetry']);
    expect(accessLogsOf(d, 'outbound:127.0.0.1:20002').map((l) => l.name)).toEqual(['envoy.access_loggers.file']);
    expect(accessLogsOf(d, 'inbound:10.0.0.2:8080')).toEqual([]);
  });

  it('drops what cannot be generated: Tcp without the agent pipe, dangling or OTLP/HTTP backendRefs', () => {
    const httpMotb = { ...policyResource('MeshOpenTelemetryBackend', 'otel-http', { endpoint: { address: '10.0.0.51', port: 4318 }, protocol: 'http' }), labels: { backend: 'http' } };
    const policy = policyResource('MeshAccessLog', 'p', {
      targetRef: { kind: 'Mesh' },
      rules: [{
        default: {
          backends: [
            { type: 'Tcp', tcp: { address: '127.0.0.1:5000' } },
            { type: 'OpenTelemetry', openTelemetry: { backendRef: { kind: 'MeshOpenTelemetryBackend', labels: { backend: 'missing' } } } },
            { type: 'OpenTelemetry', openTelemetry: { backendRef: { kind: 'MeshOpenTelemetryBackend', labels: { backend: 'http' } } } },
          ],
        },
      }],
    });
    const d = dump(goldenBackend, [policy, httpMotb], {});
    expect(accessLogsOf(d, 'inbound:10.0.0.1:8080')).toEqual([]);
    expect(JSON.stringify(d.clusters)).not.toContain('system_meshaccesslog');
  });

  it('zone proxy: tcp_proxy access logs per SNI chain, selected by rules[].matches[].sni', () => {
    const ingress = { ...policyResource('Dataplane', 'zone-proxy-1', { networking: { address: '10.0.0.9' } }), labels: { 'kuma.io/proxy-type': 'zoneproxy', 'kuma.io/zone-proxy-role': 'ingress' } };
    const policy = policyResource('MeshAccessLog', 'zone-logs', {
      targetRef: { kind: 'Dataplane', labels: { 'kuma.io/proxy-type': 'zoneproxy' } },
      rules: [
        { default: { backends: [{ type: 'File', file: { path: '/var/log/zone.log' } }] } },
        { matches: [{ sni: { type: 'Exact', value: 'sni.msvc.default.backend.8080' } }], default: { backends: [{ type: 'File', file: { path: '/var/log/zone-backend.log' } }] } },
      ],
    });
    const d = dump(ingress, [policy], {}, [goldenBackend, goldenWeb, ingress]);
    expect(d).toEqual(golden(testdata('zone-proxy.golden.json'), d));
    const listener = d.listeners.find((l) => (l as { name: string }).name === 'self_zoneingress_dp_10001') as { filter_chains: { name: string; filters: { typed_config: { access_log?: { typed_config: { path: string } }[] } }[] }[] };
    const paths = Object.fromEntries(listener.filter_chains.map((c) => [c.name, (c.filters[0]!.typed_config.access_log ?? []).map((l) => l.typed_config.path)]));
    expect(paths['sni.msvc.default.backend.8080']).toEqual(['/var/log/zone-backend.log', '/var/log/zone.log']);
    expect(paths['sni.msvc.default.web.8080']).toEqual(['/var/log/zone.log']);
  });

  it('zone proxy: sectionName puts access logs on that listener only', () => {
    const ingress = {
      ...policyResource('Dataplane', 'zone-proxy-2', { networking: { address: '10.0.0.9', listeners: [{ type: 'ZoneIngress', port: 10001, name: 'public' }, { type: 'ZoneIngress', port: 10011, name: 'private' }] } }),
      labels: { 'kuma.io/proxy-type': 'zoneproxy', 'kuma.io/zone-proxy-role': 'ingress' },
    };
    const policy = policyResource('MeshAccessLog', 'public-only', {
      targetRef: { kind: 'Dataplane', name: 'zone-proxy-2', sectionName: 'public' },
      rules: [{ default: { backends: [{ type: 'File', file: { path: '/var/log/public.log' } }] } }],
    });
    const d = dump(ingress, [policy], {}, [goldenBackend, goldenWeb, ingress]);
    const logs = (name: string) => JSON.stringify((d.listeners.find((l) => (l as { name: string }).name === name) as { filter_chains: unknown[] }).filter_chains);
    expect(logs('self_zoneingress_dp_public')).toContain('/var/log/public.log');
    expect(logs('self_zoneingress_dp_private')).not.toContain('access_log');
  });

  it('a policy of another mesh changes nothing', () => {
    const other = policyResource('MeshAccessLog', 'other', { targetRef: { kind: 'Mesh' }, rules: [{ default: { backends: [{ type: 'File', file: { path: '/tmp/x.log' } }] } }] }, 'other-mesh');
    expect(dump(goldenBackend, [other])).toEqual(dump(goldenBackend, []));
  });
});
