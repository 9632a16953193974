import http2 from 'node:http2';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { packAny } from '../../envoy/protos.js';
import { Engine } from './engine.js';
import { T, get, httpListener, listen, routeConfig, staticCluster, type TestServer } from './fixtures.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

async function startH2cServer(name: string): Promise<TestServer> {
  const server = http2.createServer((req, res) => {
    res.setHeader('x-server', name);
    res.end(`${name} ${req.httpVersion} ${req.url}`);
  });
  const s = await listen(server as never);
  cleanups.push(() => s.close());
  return s;
}

function h2cGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    const stream = session.request({ ':path': path });
    let body = '';
    let status = 0;
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => (body += d));
    stream.on('end', () => {
      session.close();
      resolve({ status, body });
    });
    stream.on('error', reject);
  });
}

describe('Engine HTTP/2', () => {
  it('accepts h2c and HTTP/1.1 on one AUTO listener and forwards to an HTTP/2 upstream', async () => {
    const upstream = await startH2cServer('h2');
    const engine = new Engine();
    cleanups.push(() => engine.stop());
    await engine.apply({
      listeners: [httpListener('http', { route_config: routeConfig('rc', [{ match: { prefix: '/' }, route: { cluster: 'h2' } }]) })],
      clusters: [staticCluster('h2', [upstream.port], {
        typed_extension_protocol_options: {
          'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': packAny(T.httpProtocolOptions, { explicit_http_config: { http2_protocol_options: {} } }),
        },
      })],
    });
    const port = engine.listenerPort('http') ?? 0;
    expect(await h2cGet(port, '/a')).toEqual({ status: 200, body: 'h2 2.0 /a' });
    const h1 = await get(port, '/b');
    expect(h1.status).toBe(200);
    expect(h1.body).toBe('h2 2.0 /b');
    expect(h1.headers['x-server']).toBe('h2');
  });

  it('detects the HTTP/2 preface when it arrives in pieces (AUTO)', async () => {
    const engine = new Engine();
    cleanups.push(() => engine.stop());
    await engine.apply({ listeners: [httpListener('http', { route_config: routeConfig('rc', [{ match: { prefix: '/' }, direct_response: { status: 204 } }]) })] });
    const port = engine.listenerPort('http') ?? 0;
    const first = await new Promise<Buffer>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.write('PRI *');
        setTimeout(() => socket.write(' HTTP/2.0\r\n\r\nSM\r\n\r\n'), 50);
      });
      socket.once('data', (d) => {
        socket.destroy();
        resolve(d);
      });
      socket.on('error', reject);
    });
    // An HTTP/2 server speaks first with a SETTINGS frame (type 4 on stream 0), not `HTTP/1.1 400`.
    expect(first[3]).toBe(4);
    expect(first.readUInt32BE(5) & 0x7fffffff).toBe(0);
  });
});
