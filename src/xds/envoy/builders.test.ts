/* eslint-disable @typescript-eslint/no-explicit-any -- decoded protos are inspected field by field */
import { describe, expect, it } from 'vitest';
import { TypeUrl, unpackAny } from '../../envoy/protos.js';
import {
  apiListener,
  clusterLoadAssignmentResource,
  clusterLoadAssignment,
  clusterResource,
  edsCluster,
  filterChain,
  httpConnectionManager,
  httpConnectionManagerFilter,
  listener,
  listenerResource,
  originalDstCluster,
  route,
  routeConfiguration,
  routeConfigurationResource,
  staticCluster,
  tcpProxyFilter,
  tlsInspector,
  virtualHost,
} from './index.js';

describe('Envoy builders', () => {
  it('encodes a listener with SNI/transport/port matching and nested filters', () => {
    const resource = listenerResource(
      listener({
        name: 'inbound:10.0.0.1:8080',
        address: '10.0.0.1',
        port: 8080,
        trafficDirection: 'INBOUND',
        listenerFilters: [tlsInspector()],
        filterChains: [
          filterChain({
            name: 'tls',
            match: { serverNames: ['backend.mesh'], transportProtocol: 'tls', destinationPort: 8080 },
            filters: [tcpProxyFilter({ statPrefix: 'backend', cluster: 'localhost:8080', idleTimeoutMs: 3_600_000 })],
          }),
          filterChain({
            filters: [httpConnectionManagerFilter({ statPrefix: 'backend', rdsRouteConfigName: 'inbound:backend' })],
          }),
        ],
      }),
    );
    expect(resource.name).toBe('inbound:10.0.0.1:8080');
    expect(resource.any.type_url).toBe(TypeUrl.Listener);
    const decoded = unpackAny(resource.any) as any;
    expect(decoded.address.socket_address).toMatchObject({ address: '10.0.0.1', port_value: 8080 });
    expect(decoded.traffic_direction).toBe('INBOUND');
    expect(decoded.listener_filters[0].name).toBe('envoy.filters.listener.tls_inspector');
    const [tls, plain] = decoded.filter_chains;
    expect(tls.filter_chain_match).toMatchObject({
      server_names: ['backend.mesh'],
      transport_protocol: 'tls',
      destination_port: { value: 8080 },
    });
    const tcp = unpackAny(tls.filters[0].typed_config) as any;
    expect(tcp).toMatchObject({ stat_prefix: 'backend', cluster: 'localhost:8080', idle_timeout: { seconds: '3600' } });
    const hcm = unpackAny(plain.filters[0].typed_config) as any;
    expect(hcm.rds).toMatchObject({ route_config_name: 'inbound:backend', config_source: { ads: {}, resource_api_version: 'V3' } });
    expect(hcm.http_filters.map((f: { name: string }) => f.name)).toMatchObject(['envoy.filters.http.router']);
  });

  it('encodes an API listener with an inline route config', () => {
    const routes = routeConfiguration('inline', [virtualHost('all', ['*'], [route({ prefix: '', cluster: 'c' })])]);
    const decoded = unpackAny(listenerResource(apiListener('greeter', httpConnectionManager({ statPrefix: 'g', routeConfig: routes }))).any) as any;
    const hcm = unpackAny(decoded.api_listener.api_listener) as any;
    expect(hcm.route_config.virtual_hosts[0].routes[0]).toMatchObject({ match: { prefix: '' }, route: { cluster: 'c' } });
  });

  it('encodes routes with path, header matching, weighted clusters and timeouts', () => {
    const resource = routeConfigurationResource(
      routeConfiguration('outbound', [
        virtualHost('backend', ['backend', 'backend:80'], [
          route({ path: '/exact', headers: [{ name: 'x-version', exact: 'v2' }, { name: 'x-debug' }], cluster: 'v2' }),
          route({ prefix: '/', weightedClusters: [{ name: 'v1', weight: 90 }, { name: 'v2', weight: 10 }], timeoutMs: 1500 }),
        ]),
      ]),
    );
    expect(resource.name).toBe('outbound');
    const [exact, split] = (unpackAny(resource.any) as any).virtual_hosts[0].routes;
    expect(exact.match).toMatchObject({
      path: '/exact',
      headers: [
        { name: 'x-version', string_match: { exact: 'v2' } },
        { name: 'x-debug', present_match: true },
      ],
    });
    expect(split.route).toMatchObject({
      weighted_clusters: { clusters: [{ name: 'v1', weight: { value: 90 } }, { name: 'v2', weight: { value: 10 } }] },
      timeout: { seconds: '1', nanos: 500_000_000 },
    });
  });

  it('encodes EDS and STATIC clusters and load assignments', () => {
    const eds = unpackAny(clusterResource(edsCluster({ name: 'backend', lbPolicy: 'LEAST_REQUEST', http2: true })).any) as any;
    expect(eds.type).toBe('EDS');
    expect(eds.lb_policy).toBe('LEAST_REQUEST');
    expect(eds.connect_timeout).toMatchObject({ seconds: '5' });
    expect(eds.eds_cluster_config.eds_config.ads).toMatchObject({});
    const protocolOptions = eds.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'];
    expect(unpackAny(protocolOptions)).toMatchObject({ explicit_http_config: { http2_protocol_options: {} } });

    const local = unpackAny(
      clusterResource(staticCluster({ name: 'localhost:8080', localities: [{ endpoints: [{ address: '127.0.0.1', port: 8080 }] }] })).any,
    ) as any;
    expect(local.type).toBe('STATIC');
    expect(local.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value).toBe(8080);

    const cla = clusterLoadAssignmentResource(
      clusterLoadAssignment('backend', [
        { zone: 'east', weight: 3, endpoints: [{ address: '10.0.0.2', port: 80, health: 'UNHEALTHY', weight: 2 }] },
      ]),
    );
    expect(cla.name).toBe('backend');
    expect((unpackAny(cla.any) as any).endpoints[0]).toMatchObject({
      locality: { zone: 'east' },
      lb_endpoints: [
        {
          endpoint: { address: { socket_address: { address: '10.0.0.2', port_value: 80 } } },
          health_status: 'UNHEALTHY',
          load_balancing_weight: { value: 2 },
        },
      ],
      load_balancing_weight: { value: 3 },
    });
  });

  it('encodes a transparent-proxy listener and an ORIGINAL_DST cluster', () => {
    const l = unpackAny(
      listenerResource(
        listener({
          name: 'outbound:passthrough:ipv4',
          address: '0.0.0.0',
          port: 15001,
          trafficDirection: 'OUTBOUND',
          useOriginalDst: true,
          filterChains: [filterChain({ filters: [tcpProxyFilter({ statPrefix: 'outbound_passthrough_ipv4', cluster: 'outbound:passthrough:ipv4' })] })],
        }),
      ).any,
    ) as any;
    expect(l).toMatchObject({ use_original_dst: { value: true }, traffic_direction: 'OUTBOUND', address: { socket_address: { address: '0.0.0.0', port_value: 15001 } } });
    const unbound = unpackAny(listenerResource(listener({ name: 'l', address: '240.0.0.1', port: 80, bindToPort: false, filterChains: [] })).any) as any;
    expect(unbound.bind_to_port).toEqual({});
    const c = unpackAny(clusterResource(originalDstCluster({ name: 'outbound:passthrough:ipv4', altStatName: 'outbound_passthrough_ipv4', connectTimeoutMs: 10_000 })).any) as any;
    expect(c).toMatchObject({ type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', alt_stat_name: 'outbound_passthrough_ipv4', connect_timeout: { seconds: '10' } });
    expect(c.load_assignment).toBeUndefined();
  });

  it('refuses ambiguous options', () => {
    expect(() => route({ prefix: '/', path: '/x', cluster: 'c' })).toThrow(/exactly one of prefix/);
    expect(() => httpConnectionManager({ statPrefix: 's' })).toThrow(/exactly one of/);
    expect(() => tcpProxyFilter({ statPrefix: 's' })).toThrow(/exactly one of/);
  });
});
