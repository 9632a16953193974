import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { BootstrapHttpError, parseBootstrapResponse, requestBootstrap, type BootstrapRequestBody } from './bootstrap-client.js';

const url = new URL('http://cp:5678/bootstrap');

describe('bootstrap response parsing', () => {
  it("reads Skein's nodeId and xdsServer", () => {
    expect(parseBootstrapResponse({ nodeId: 'default.web', xdsServer: { address: '10.0.0.1', port: 5678 } }, url)).toEqual({
      nodeId: 'default.web',
      xds: { host: '10.0.0.1', port: 5678, tls: false },
      nodeMetadata: {},
    });
  });

  it("reads Kuma's base64 Envoy bootstrap (ADS cluster address, node id, metadata, TLS)", () => {
    const envoy = [
      'node: {id: m.web, metadata: {dataplane.mesh: m}}',
      'dynamic_resources: {ads_config: {grpc_services: [{envoy_grpc: {cluster_name: ads_cluster}}]}}',
      'static_resources:',
      '  clusters:',
      '  - name: ads_cluster',
      '    transport_socket: {name: tls}',
      '    load_assignment: {endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: cp.local, port_value: 5678}}}}]}]}',
    ].join('\n');
    const parsed = parseBootstrapResponse({ bootstrap: Buffer.from(envoy).toString('base64') }, url);
    expect(parsed).toEqual({ nodeId: 'm.web', xds: { host: 'cp.local', port: 5678, tls: true }, nodeMetadata: { 'dataplane.mesh': 'm' } });
  });

  it('takes TLS from the response when it says (the CP answers how the request reached it)', () => {
    const https = new URL('https://cp:5678/bootstrap');
    expect(parseBootstrapResponse({ nodeId: 'a.b', xdsServer: { address: 'cp', port: 5678, tls: true } }, url).xds.tls).toBe(true);
    expect(parseBootstrapResponse({ nodeId: 'a.b', xdsServer: { address: 'cp', port: 5678, tls: false } }, https).xds.tls).toBe(false);
    expect(parseBootstrapResponse({ nodeId: 'a.b', xdsServer: { address: 'cp', port: 5678 } }, https).xds.tls).toBe(true);
  });

  it('says what is missing', () => {
    expect(() => parseBootstrapResponse({ nodeId: 'a.b' }, url)).toThrow(/no xDS server address/);
    expect(() => parseBootstrapResponse({}, url)).toThrow(/no node id/);
  });
});

describe('bootstrap request', () => {
  it('posts Kuma-shaped JSON and reports HTTP status and body on errors', async () => {
    let received: Record<string, unknown> = {};
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += String(d)));
      req.on('end', () => {
        received = JSON.parse(body) as Record<string, unknown>;
        res.writeHead(422, { 'content-type': 'text/plain' }).end('mesh: mesh "x" does not exist');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const body = { mesh: 'x', name: 'web', dataplaneToken: 't0k' } as BootstrapRequestBody;
      const err = (await requestBootstrap(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, body).catch((e: unknown) => e)) as BootstrapHttpError;
      expect(err).toBeInstanceOf(BootstrapHttpError);
      expect(err.message).toBe('bootstrap request failed: HTTP 422: mesh: mesh "x" does not exist');
      expect(err.retryable).toBe(true);
      expect(received).toMatchObject({ mesh: 'x', name: 'web', dataplaneToken: 't0k' });
      expect(new BootstrapHttpError(401, 'authentication failed').retryable).toBe(false);
      // A Dataplane the mesh's constraints refuse stays refused until someone changes something.
      const refused = 'networking.inbound[0].tags: dataplane cannot be a member of mesh "x" because its tags "kuma.io/service=web" does not fulfill any requirements defined on the Mesh';
      expect(new BootstrapHttpError(422, refused).retryable).toBe(false);
    } finally {
      server.close();
    }
  });
});
