import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startAccessLogStreamer, type AccessLogStreamer } from './access-log-streamer.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()?.();
});

async function collector(): Promise<{ port: number; lines: string[] }> {
  const lines: string[] = [];
  const server = net.createServer((s) => {
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      const parts = buf.split('\n');
      buf = parts.pop()!;
      lines.push(...parts);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanups.push(() => server.close());
  return { port: (server.address() as AddressInfo).port, lines };
}

async function eventually(check: () => void, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      return check();
    } catch (err) {
      if (Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

describe('access log streamer (MeshAccessLog Tcp backends)', () => {
  it('forwards the message of each JSON line on the pipe to its TCP address', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skein-als-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const streamer = startAccessLogStreamer(path.join(dir, 'kuma-al-web-default.sock'), pino({ level: 'silent' })) as AccessLogStreamer;
    expect(streamer).toBeDefined();
    cleanups.push(() => streamer.close());
    expect(fs.statSync(streamer.path).isFIFO()).toBe(true);
    const [a, b] = [await collector(), await collector()];
    // What the proxy's file logger writes: appended lines, as Envoy opens the path.
    const out = fs.createWriteStream(streamer.path, { flags: 'a' });
    cleanups.push(() => out.destroy());
    out.write(`${JSON.stringify({ address: `127.0.0.1:${a.port}`, message: 'GET /one 200\n' })}\n`);
    out.write('not json\n');
    out.write(`${JSON.stringify({ address: `127.0.0.1:${b.port}`, message: { path: '/two', status: 200 } })}\n`);
    out.write(`${JSON.stringify({ address: `127.0.0.1:${a.port}`, message: 'GET /three 200' })}\n`);
    await eventually(() => {
      expect(a.lines).toEqual(['GET /one 200', 'GET /three 200']);
      expect(b.lines).toEqual(['{"path":"/two","status":200}']);
    });
  });
});
