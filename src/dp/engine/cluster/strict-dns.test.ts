import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../engine.js';
import { decoded, tcpProxyListener } from '../fixtures.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

describe('STRICT_DNS clusters', () => {
  it('connect to an endpoint given by host name', async () => {
    // Listens where `localhost` resolves first, which is also where a connect to it goes.
    const echo = net.createServer((s) => s.on('data', (d: Buffer) => s.end(`echo:${d.toString()}`)));
    await new Promise<void>((r) => echo.listen(0, 'localhost', () => r()));
    cleanups.push(() => echo.close());
    const engine = new Engine();
    cleanups.push(() => engine.stop());
    await engine.apply({
      listeners: [tcpProxyListener('tcp', 'named')],
      clusters: [decoded('clusters', {
        name: 'named',
        type: 'STRICT_DNS',
        connect_timeout: { seconds: 1 },
        load_assignment: { cluster_name: 'named', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 'localhost', port_value: (echo.address() as AddressInfo).port } } } }] }] },
      })],
    });
    const reply = await new Promise<string>((resolve, reject) => {
      let got = '';
      const socket = net.connect(engine.listenerPort('tcp') ?? 0, '127.0.0.1', () => socket.write('hi'));
      socket.on('data', (d: Buffer) => (got += d.toString()));
      socket.on('end', () => resolve(got));
      socket.on('error', reject);
    });
    expect(reply).toBe('echo:hi');
  });
});
