// Data path end to end: a real control plane, two `skein dp run` processes and two real services.
// Service "web" (HTTP) and "db" (TCP) are reached from the "client" proxy's outbounds.
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, runSkein, startCp, tempDir, waitFor, type RunningCp } from '../harness.js';
import { adminGet, dataplaneTokenFile, freePort, httpGet, startDp, tcpEcho, type RunningDp } from '../dp-harness.js';

interface Subscription {
  id?: string;
  connectTime?: string;
  disconnectTime?: string;
  status?: { total?: { responsesAcknowledged?: number } };
}

/** The newest xDS subscription of each Dataplane, from the insights the CP serves. */
async function latestSubscriptions(cp: RunningCp): Promise<Record<string, Subscription>> {
  const overview = await api(cp.apiUrl, 'GET', '/meshes/default/dataplanes/_overview');
  const items = (overview.body as { items: { name: string; dataplaneInsight?: { subscriptions: Subscription[] } }[] }).items;
  return Object.fromEntries(items.map((i) => [i.name, i.dataplaneInsight?.subscriptions.at(-1) ?? {}]));
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
  const dataDir = tempDir('datapath-store');

  beforeAll(async () => {
    cp = await startCp({ store: 'embedded', dataDir });
    // Real services behind the proxies.
    const web = http.createServer((req, res) => res.end(`web says hi to ${req.url}`));
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', () => r()));
    webPort = (web.address() as AddressInfo).port;
    const db = net.createServer((s) => s.on('data', (d: Buffer) => s.write(`echo:${d.toString()}`)));
    await new Promise<void>((r) => db.listen(0, '127.0.0.1', () => r()));
    dbPort = (db.address() as AddressInfo).port;
    servers.push(web, db);
    for (const k of ['webInbound', 'dbInbound', 'webOutbound', 'dbOutbound', 'clientInbound', 'clientService']) ports[k] = await freePort();

    tokenFile = (name: string) => dataplaneTokenFile(cp, dir, 'default', name);
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
    }, { timeoutMs: 20_000, what: () => `HTTP through the proxies\n${dps.map((d) => d.logs()).join('\n')}` });
    expect(res.body).toBe('web says hi to /hello');
    expect(await tcpEcho(ports.dbOutbound!, 'ping')).toBe('echo:ping');

    // The insight shows both proxies online (insights are written in batches), and ACKs counted.
    const subscriptions = await waitFor(async () => {
      const latest = await latestSubscriptions(cp);
      return latest.backend?.connectTime && latest.client?.connectTime && (latest.client.status?.total?.responsesAcknowledged ?? 0) > 0 ? latest : undefined;
    }, { what: 'both proxies online in their insights' });
    expect(subscriptions.backend!.disconnectTime).toBeUndefined();
    expect(subscriptions.client!.disconnectTime).toBeUndefined();
    const xds = await api(cp.apiUrl, 'GET', '/meshes/default/dataplanes/client/xds');
    expect(xds.status).toBe(200);
    expect(JSON.stringify(xds.body)).toContain(`outbound:127.0.0.1:${ports.webOutbound}`);
    const table = await runSkein(['get', 'dataplanes', '--api-url', cp.apiUrl]);
    expect(table.stdout).toMatch(/client.*Online/);
  });

  it('removes the endpoint of a deleted Dataplane from the other proxy', async () => {
    const client = dps[1]!;
    const backendEndpoint = `127.0.0.1:${ports.webInbound}`;
    expect(await adminGet(client, '/clusters')).toContain(backendEndpoint);
    // Stop the backend proxy first: while it is connected it would bring its Dataplane back.
    const backend = dps.shift()!;
    await backend.stop();
    expect((await api(cp.apiUrl, 'DELETE', '/meshes/default/dataplanes/backend')).status).toBe(200);
    await waitFor(async () => !(await adminGet(client, '/clusters')).includes(backendEndpoint), { what: 'backend endpoint removed from the client proxy' });
    const r = await httpGet(ports.webOutbound!).catch(() => ({ status: 0, body: '' }));
    expect(r.status).not.toBe(200);
  });

  it('keeps traffic flowing while the CP is down and reconnects when it returns', async () => {
    const backendFile = path.join(dir, 'backend.yaml');
    dps.unshift(startDp(cp, ['--dataplane-file', backendFile, '--dataplane-token-file', await tokenFile('backend')]));
    await waitFor(async () => (await httpGet(ports.webOutbound!).catch(() => ({ status: 0 }))).status === 200, { timeoutMs: 20_000, what: 'backend back' });

    const dpPort = cp.dpPort;
    const apiPort = cp.apiPort;
    const before = await latestSubscriptions(cp);
    await cp.kill();
    for (let i = 0; i < 20; i++) expect((await httpGet(ports.webOutbound!)).status).toBe(200);

    // Same work dir: the restarted CP serves the same certificate, which the proxies verify.
    cp = await startCp({ store: 'embedded', dataDir, dpPort, apiPort, workDir: cp.workDir });
    // Both proxies open a new xDS subscription to the new CP (backoff is capped at a few seconds).
    await waitFor(async () => {
      const latest = await latestSubscriptions(cp);
      return ['backend', 'client'].every((n) => latest[n]?.connectTime && !latest[n]?.disconnectTime && latest[n]?.connectTime !== before[n]?.connectTime);
    }, { timeoutMs: 30_000, what: 'proxies to reconnect' });
    expect((await httpGet(ports.webOutbound!)).status).toBe(200);
    // A change made while connected again reaches the proxies: the backend's endpoint stays served.
    expect(await adminGet(dps[1]!, '/clusters')).toContain(`127.0.0.1:${ports.webInbound}`);
  });

  it('refuses a bad token with the reason in the DP log', async () => {
    const file = path.join(dir, 'bad.token');
    fs.writeFileSync(file, 'not-a-jwt');
    const dp = startDp(cp, ['--mesh', 'default', '--name', 'client', '--dataplane-token-file', file]);
    await waitFor(() => dp.logs().includes('could not parse token'), { timeoutMs: 15_000, what: () => `token error in log:\n${dp.logs()}` });
    await dp.stop();
  });

  it('surfaces a missing mesh (422) from skein dp run', async () => {
    const file = path.join(dir, 'nomesh.yaml');
    fs.writeFileSync(file, 'type: Dataplane\nmesh: missing\nname: x\nnetworking:\n  address: 127.0.0.1\n');
    const dp = startDp(cp, ['--dataplane-file', file, '--dataplane-token-file', path.join(dir, 'bad.token')]);
    await waitFor(() => dp.logs().includes('mesh: mesh \\"missing\\" does not exist') || dp.logs().includes('mesh: mesh "missing" does not exist'), {
      timeoutMs: 15_000,
      what: () => `422 in log:\n${dp.logs()}`,
    });
    await dp.stop();
  });
});
