import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { packAny } from '../../../envoy/protos.js';
import { Engine } from '../engine.js';
import {
  T, decoded, eventually, get, httpListener, routeConfig, socketAddress, startHttpServer, startTcpEcho, staticCluster, type TestServer,
} from '../fixtures.js';
import type { Obj } from '../proto-values.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});
function track<X extends TestServer | Engine>(thing: X): X {
  cleanups.push(() => ('stop' in thing ? thing.stop() : thing.close()));
  return thing;
}

function tempFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skein-al-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'access.log');
}

const fileLog = (file: string, logFormat?: Obj): Obj => ({
  name: 'envoy.access_loggers.file',
  typed_config: packAny(T.fileAccessLog, { path: file, ...(logFormat ? { log_format: logFormat } : {}) }),
});

const readLines = (file: string): string[] => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

describe('access logs', () => {
  it('writes HTTP requests with a text format (Kuma-style operators)', async () => {
    const backend = track(await startHttpServer('a'));
    const file = tempFile();
    const format = '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% ' +
      '%BYTES_RECEIVED% %BYTES_SENT% %DURATION% "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER% %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% %REQ(X-MISSING):3%\n';
    const engine = track(new Engine());
    await engine.apply({
      listeners: [httpListener('http', { route_config: routeConfig('rc', [
        { match: { prefix: '/none' }, route: { cluster: 'down' } },
        { match: { prefix: '/' }, route: { cluster: 'a' } },
      ]) }, 0, { access_log: [fileLog(file, { text_format_source: { inline_string: format } })] })],
      clusters: [staticCluster('a', [backend.port]), staticCluster('down', [])],
    });
    const port = engine.listenerPort('http') ?? 0;
    const ok = await get(port, '/hello?x=1', { 'user-agent': 'test-agent', 'x-request-id': 'rid-1' });
    await get(port, '/none');
    const lines = await eventually(() => {
      const l = readLines(file);
      expect(l).toHaveLength(2);
      return l;
    });
    const ts = /^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\] /;
    expect(lines[0]).toMatch(ts);
    const first = lines[0].replace(ts, '');
    expect(first).toMatch(new RegExp(
      `^"GET /hello\\?x=1 HTTP/1.1" 200 - 0 ${Buffer.byteLength(ok.body)} \\d+ "test-agent" "rid-1" "127.0.0.1:${port}" "127.0.0.1:${backend.port}" a 127.0.0.1 -$`,
    ));
    expect(lines[1]).toMatch(/"GET \/none HTTP\/1.1" 503 UH 0 19 \d+ "-" "[0-9a-f-]{36}" "127.0.0.1:\d+" "-" down 127.0.0.1 -$/);
  });

  it('writes JSON lines with typed values', async () => {
    const backend = track(await startHttpServer('a'));
    const file = tempFile();
    const engine = track(new Engine());
    await engine.apply({
      listeners: [httpListener('http', { route_config: routeConfig('rc', [{ match: { prefix: '/' }, route: { cluster: 'a' } }]) }, 0, {
        access_log: [fileLog(file, { json_format: { fields: {
          status: { stringValue: '%RESPONSE_CODE%' },
          method: { stringValue: '%REQ(:METHOD)%' },
          missing: { stringValue: '%REQ(X-NOPE)%' },
          line: { stringValue: '%REQ(:METHOD)% %RESPONSE_CODE%' },
          nested: { structValue: { fields: { cluster: { stringValue: '%UPSTREAM_CLUSTER%' } } } },
        } } })],
      })],
      clusters: [staticCluster('a', [backend.port])],
    });
    await get(engine.listenerPort('http') ?? 0, '/');
    const line = await eventually(() => {
      const l = readLines(file);
      expect(l).toHaveLength(1);
      return l[0];
    });
    expect(JSON.parse(line)).toEqual({ status: 200, method: 'GET', missing: null, line: 'GET 200', nested: { cluster: 'a' } });
  });

  it('omit_empty_values: unavailable values print nothing (text) or are left out (JSON)', async () => {
    const backend = track(await startHttpServer('a'));
    const [text, json] = [tempFile(), tempFile()];
    const engine = track(new Engine());
    await engine.apply({
      listeners: [httpListener('http', { route_config: routeConfig('rc', [{ match: { prefix: '/' }, route: { cluster: 'a' } }]) }, 0, {
        access_log: [
          fileLog(text, { text_format_source: { inline_string: '%RESPONSE_CODE% [%REQ(X-NOPE)%] %RESPONSE_FLAGS%\n' }, omit_empty_values: true }),
          fileLog(json, { json_format: { fields: { status: { stringValue: '%RESPONSE_CODE%' }, missing: { stringValue: '%REQ(X-NOPE)%' }, nested: { structValue: { fields: { flags: { stringValue: '%RESPONSE_FLAGS%' } } } } } }, omit_empty_values: true }),
        ],
      })],
      clusters: [staticCluster('a', [backend.port])],
    });
    await get(engine.listenerPort('http') ?? 0, '/');
    await eventually(() => {
      expect(readLines(text)).toEqual(['200 [] ']);
      expect(readLines(json).map((l) => JSON.parse(l) as unknown)).toEqual([{ status: 200 }]);
    });
  });

  it('logs tcp_proxy connections', async () => {
    const echo = track(await startTcpEcho('echo'));
    const file = tempFile();
    const engine = track(new Engine());
    await engine.apply({
      listeners: [decoded('listeners', {
        name: 'tcp',
        address: socketAddress(0),
        filter_chains: [{ filters: [{ name: 'tcp', typed_config: packAny(T.tcpProxy, {
          stat_prefix: 'tcp', cluster: 'echo',
          access_log: [fileLog(file, { text_format_source: { inline_string: '%RESPONSE_FLAGS% %UPSTREAM_HOST% sent %BYTES_SENT% received %BYTES_RECEIVED% %PROTOCOL%\n' } })],
        }) }] }],
      })],
      clusters: [staticCluster('echo', [echo.port])],
    });
    await new Promise<void>((resolve) => {
      const socket = net.connect(engine.listenerPort('tcp') ?? 0, '127.0.0.1', () => socket.write('hello'));
      socket.on('data', () => socket.end());
      socket.on('close', () => resolve());
    });
    const line = await eventually(() => {
      const l = readLines(file);
      expect(l).toHaveLength(1);
      return l[0];
    });
    expect(line).toBe(`- 127.0.0.1:${echo.port} sent 10 received 5 -`);
  });

  it('logs only what the access log filter lets through', async () => {
    const backend = track(await startHttpServer('a'));
    const [errors, flagged, both] = [tempFile(), tempFile(), tempFile()];
    const line = { text_format_source: { inline_string: '%RESPONSE_CODE% %REQ(:PATH)%\n' } };
    const withFilter = (file: string, filter: Obj): Obj => ({ ...fileLog(file, line), filter });
    const engine = track(new Engine());
    await engine.apply({
      listeners: [httpListener('http', { route_config: routeConfig('rc', [
        { match: { prefix: '/none' }, route: { cluster: 'down' } },
        { match: { prefix: '/' }, route: { cluster: 'a' } },
      ]) }, 0, { access_log: [
        withFilter(errors, { status_code_filter: { comparison: { op: 'GE', value: { default_value: 500, runtime_key: 'k' } } } }),
        withFilter(flagged, { response_flag_filter: { flags: ['UH'] } }),
        withFilter(both, { and_filter: { filters: [
          { header_filter: { header: { name: 'x-debug', present_match: true } } },
          { duration_filter: { comparison: { op: 'GE', value: { default_value: 0, runtime_key: 'd' } } } },
        ] } }),
      ] })],
      clusters: [staticCluster('a', [backend.port]), staticCluster('down', [])],
    });
    const port = engine.listenerPort('http') ?? 0;
    await get(port, '/ok');
    await get(port, '/none');
    await get(port, '/debug', { 'x-debug': '1' });
    await eventually(() => {
      expect(readLines(errors)).toEqual(['503 /none']);
      expect(readLines(flagged)).toEqual(['503 /none']);
      expect(readLines(both)).toEqual(['200 /debug']);
    });
  });

  it('rejects unknown command operators, naming them', async () => {
    const engine = track(new Engine());
    await expect(engine.apply({
      listeners: [httpListener('http', { route_config: routeConfig('rc', []) }, 0, {
        access_log: [fileLog('unused.log', { text_format: '%REQ(:PATH)% %UPSTREAM_WIRE_BYTES_SENT%\n' })],
      })],
    })).rejects.toThrow(/access_log\[0\].typed_config.log_format.text_format: command operator %UPSTREAM_WIRE_BYTES_SENT% is not supported/);
  });
});
