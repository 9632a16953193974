// Data path end to end: a real control plane, two `skein dp run` processes and two real services.
// Service "web" (HTTP) and "db" (TCP) are reached from the "client" proxy's outbounds.
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, runSkein, SKEIN_BIN, startCp, tempDir, waitFor, type RunningCp } from '../harness.js';

interface RunningDp {
  proc: ChildProcess;
  logs: () => string;
  workDir: string;
  stop(): Promise<void>;
}

function startDp(cp: { dpPort: number }, args: string[], workDir = tempDir('dp')): RunningDp {
  const proc = spawn(process.execPath, [SKEIN_BIN, 'dp', 'run', '--cp-address', `http://127.0.0.1:${cp.dpPort}`, '--work-dir', workDir, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return {
    proc,
    workDir,
    logs: () => output,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function httpGet(port: number, p = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent: false, timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function tcpEcho(port: number, message: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(message));
    let got = '';
    socket.setTimeout(3000, () => socket.destroy(new Error('timeout')));
    socket.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.length >= message.length + 5) socket.end();
    });
    socket.on('end', () => resolve(got));
    socket.on('error', reject);
  });
}

describe('traffic between two data planes', () => {
  let cp: RunningCp;
  const dps: RunningDp[] = [];
  const servers: (http.Server | net.Server)[] = [];
  let webPort: number;
  let dbPort: number;
  const ports: Record<string, number> = {};
  let tokenFile: (name: string) => Promise<string>;
  const dir = tempDir('datapath');

  beforeAll(async () => {
    cp = await startCp({ store: 'memory' });
    // Real services behind the proxies.
    const web = http.createServer((req, res) => res.end(`web says hi to ${req.url}`));
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', () => r()));
    webPort = (web.address() as AddressInfo).port;
    const db = net.createServer((s) => s.on('data', (d: Buffer) => s.write(`echo:${d.toString()}`)));
    await new Promise<void>((r) => db.listen(0, '127.0.0.1', () => r()));
    dbPort = (db.address() as AddressInfo).port;
    servers.push(web, db);
    for (const k of ['webInbound', 'dbInbound', 'webOutbound', 'dbOutbound', 'clientInbound', 'clientService']) ports[k] = await freePort();

    tokenFile = async (name: string) => {
      const res = await runSkein(['generate', 'dataplane-token', '--api-url', cp.apiUrl, '--mesh', 'default', '--name', name, '--valid-for', '1h']);
      expect(res.code, res.stderr).toBe(0);
      const file = path.join(dir, `${name}.token`);
      fs.writeFileSync(file, res.stdout.trim());
      return file;
    };
  });

  afterAll(async () => {
    for (const dp of dps) await dp.stop();
    for (const s of servers) s.close();
    await cp?.stop();
  });

  it('routes HTTP and TCP through client proxy → server proxy → service', async () => {
    const backendFile = path.join(dir, 'backend.yaml');
    fs.writeFileSync(
      backendFile,
      `type: Dataplane
mesh: default
name: backend
networking:
  address: 127.0.0.1
  inbound:
    - port: ${ports.webInbound}
      servicePort: ${webPort}
      tags: { kuma.io/service: web, kuma.io/protocol: http }
    - port: ${ports.dbInbound}
      servicePort: ${dbPort}
      tags: { kuma.io/service: db, kuma.io/protocol: tcp }
`,
    );
    const clientFile = path.join(dir, 'client.yaml');
    fs.writeFileSync(
      clientFile,
      `type: Dataplane
mesh: default
name: client
networking:
  address: 127.0.0.1
  inbound:
    - port: ${ports.clientInbound}
      servicePort: ${ports.clientService}
      tags: { kuma.io/service: client }
  outbound:
    - port: ${ports.webOutbound}
      tags: { kuma.io/service: web }
    - port: ${ports.dbOutbound}
      tags: { kuma.io/service: db }
`,
    );
    dps.push(startDp(cp, ['--dataplane-file', backendFile, '--dataplane-token-file', await tokenFile('backend')]));
    dps.push(startDp(cp, ['--dataplane-file', clientFile, '--dataplane-token-file', await tokenFile('client')]));

    const res = await waitFor(async () => {
      const r = await httpGet(ports.webOutbound!, '/hello').catch(() => undefined);
      return r?.status === 200 ? r : undefined;
    }, { timeoutMs: 20_000, what: `HTTP through the proxies\n${dps.map((d) => d.logs()).join('\n')}` });
    expect(res.body).toBe('web says hi to /hello');
    expect(await tcpEcho(ports.dbOutbound!, 'ping')).toBe('echo:ping');

    // The insight shows both proxies online, and the CP can show the config it sent.
    const overview = await api(cp.apiUrl, 'GET', '/meshes/default/dataplanes/_overview');
    const items = (overview.body as { items: { name: string; dataplaneInsight?: { subscriptions: { connectTime?: string; disconnectTime?: string }[] } }[] }).items;
    for (const name of ['backend', 'client']) {
      const insight = items.find((i) => i.name === name)?.dataplaneInsight;
      expect(insight?.subscriptions.at(-1)?.connectTime, name).toBeTruthy();
      expect(insight?.subscriptions.at(-1)?.disconnectTime).toBeUndefined();
    }
    const xds = await api(cp.apiUrl, 'GET', '/meshes/default/dataplanes/client/xds');
    expect(xds.status).toBe(200);
    expect(JSON.stringify(xds.body)).toContain(`outbound:127.0.0.1:${ports.webOutbound}`);
    const table = await runSkein(['get', 'dataplanes', '--api-url', cp.apiUrl]);
    expect(table.stdout).toMatch(/client.*Online/);
  });

  it('removes the endpoint of a deleted Dataplane from the other proxy', async () => {
    expect((await api(cp.apiUrl, 'DELETE', '/meshes/default/dataplanes/backend')).status).toBe(200);
    await waitFor(async () => {
      const r = await httpGet(ports.webOutbound!).catch(() => ({ status: 0, body: '' }));
      return r.status === 503 ? r : undefined;
    }, { timeoutMs: 10_000, what: 'web to become unavailable' });
    // The backend DP is still connected: it re-registers itself when it reconnects, so put it back.
    const backend = dps[0]!;
    await backend.stop();
    dps.shift();
  });

  it('keeps traffic flowing while the CP is down and reconnects when it returns', async () => {
    const backendFile = path.join(dir, 'backend.yaml');
    dps.unshift(startDp(cp, ['--dataplane-file', backendFile, '--dataplane-token-file', await tokenFile('backend')]));
    await waitFor(async () => (await httpGet(ports.webOutbound!).catch(() => ({ status: 0 }))).status === 200, { timeoutMs: 20_000, what: 'backend back' });

    const dpPort = cp.dpPort;
    const apiPort = cp.apiPort;
    await cp.kill();
    for (let i = 0; i < 20; i++) expect((await httpGet(ports.webOutbound!)).status).toBe(200);

    cp = await startCp({ store: 'memory', dpPort, apiPort });
    // The memory store starts empty: proxies re-register over their xDS streams.
    await waitFor(async () => {
      const list = await api(cp.apiUrl, 'GET', '/meshes/default/dataplanes');
      return (list.body as { total: number }).total === 2;
    }, { timeoutMs: 30_000, what: 'proxies to reconnect' });
    expect((await httpGet(ports.webOutbound!)).status).toBe(200);
  });

  it('refuses a bad token with the reason in the DP log', async () => {
    const file = path.join(dir, 'bad.token');
    fs.writeFileSync(file, 'not-a-jwt');
    const dp = startDp(cp, ['--mesh', 'default', '--name', 'client', '--dataplane-token-file', file]);
    await waitFor(() => dp.logs().includes('could not parse token'), { timeoutMs: 15_000, what: `token error in log:\n${dp.logs()}` });
    await dp.stop();
  });

  it('surfaces a missing mesh (422) from skein dp run', async () => {
    const file = path.join(dir, 'nomesh.yaml');
    fs.writeFileSync(file, 'type: Dataplane\nmesh: missing\nname: x\nnetworking:\n  address: 127.0.0.1\n');
    const dp = startDp(cp, ['--dataplane-file', file, '--dataplane-token-file', path.join(dir, 'bad.token')]);
    await waitFor(() => dp.logs().includes('mesh: mesh \\"missing\\" does not exist') || dp.logs().includes('mesh: mesh "missing" does not exist'), {
      timeoutMs: 15_000,
      what: `422 in log:\n${dp.logs()}`,
    });
    await dp.stop();
  });
});
