// Cross-zone latency: the same 1 KB HTTP request at a fixed 1,000 req/s, sent
//   direct       straight to the server;
//   same zone    client sidecar → server sidecar (mTLS);
//   cross zone   client sidecar → zone ingress of the server's zone (TLS passthrough by SNI) → server sidecar.
// One control plane stands in for both zones: the server sidecar and the ingress carry
// `kuma.io/zone: zone-2`, so the client (local zone) reaches them through the ingress, exactly as a
// zone CP does with Dataplanes synced from another zone. Every proxy is its own `skein dp run`.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { dataplaneYaml, freePort, paced, percentile, startCp, startDp, startHttpServer, tempDir, waitFor } from './support.js';

const RATE = 1_000;
const CONNECTIONS = 10;
const DURATION_S = Number(process.env.BENCH_CROSSZONE_DURATION_S ?? 10);


const ms = (v) => `${v.toFixed(2)} ms`.padStart(9);

async function put(apiUrl, p, body) {
  const res = await fetch(`${apiUrl}${p}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status !== 200 && res.status !== 201) throw new Error(`PUT ${p}: ${res.status} ${await res.text()}`);
}

export async function run({ log }) {
  const dir = tempDir('bench-crosszone');
  const processes = [];
  try {
    const server = startHttpServer();
    processes.push(server);
    const serverPort = Number((await server.ready)[1]);
    const cp = await startCp(['--auth', 'none']);
    processes.push(cp);
    await put(cp.apiUrl, '/meshes/default', { type: 'Mesh', name: 'default', mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin', mode: 'STRICT' }] } });

    const p = {};
    for (const k of ['local', 'remote', 'ingress', 'client', 'toLocal', 'toRemote']) p[k] = await freePort();
    const proxies = [
      startDp(cp.dpPort, dir, 'web-local', dataplaneYaml('web-local', { port: p.local, servicePort: serverPort, service: 'web-local' })),
      startDp(cp.dpPort, dir, 'web-remote', dataplaneYaml('web-remote', { port: p.remote, servicePort: serverPort, service: 'web-remote' }, [], { 'kuma.io/zone': 'zone-2' })),
      startDp(cp.dpPort, dir, 'ingress', [
        'type: Dataplane', 'mesh: default', 'name: ingress',
        'labels: { kuma.io/proxy-type: zoneproxy, kuma.io/zone-proxy-role: ingress, kuma.io/zone: zone-2 }',
        'networking:', '  address: 127.0.0.1', '  advertisedAddress: 127.0.0.1', `  advertisedPort: ${p.ingress}`,
        `  listeners: [{ type: ZoneIngress, port: ${p.ingress} }]`, '',
      ].join('\n')),
      startDp(cp.dpPort, dir, 'client', dataplaneYaml('client', { port: p.client, servicePort: await freePort(), service: 'client' }, [
        { port: p.toLocal, service: 'web-local' },
        { port: p.toRemote, service: 'web-remote' },
      ])),
    ];
    processes.push(...proxies);
    await Promise.all(proxies.map((x) => x.ready));

    const targets = { direct: `http://127.0.0.1:${serverPort}/`, 'same zone': `http://127.0.0.1:${p.toLocal}/`, 'cross zone': `http://127.0.0.1:${p.toRemote}/` };
    for (const url of Object.values(targets)) {
      await waitFor(async () => (await fetch(url).catch(() => undefined))?.status === 200, { timeoutMs: 30_000, what: `${url}\n${proxies.map((x) => x.output()).join('\n')}` });
    }
    log(`${os.cpus().length} CPU cores shared by the load generator, the server and four proxies; 1 KB responses, HTTP/1.1 keep-alive, mesh mTLS`);
    log(`fixed ${RATE} req/s for ${DURATION_S}s, ${CONNECTIONS} connections; cross zone = client sidecar → zone ingress (TLS passthrough) → server sidecar`);
    const agents = Object.fromEntries(Object.keys(targets).map((k) => [k, new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS })]));
    for (const [label, url] of Object.entries(targets)) await paced(url, agents[label], 1, RATE).catch((err) => log(`warm-up ${label}: ${err.message}`));
    const results = {};
    for (const [label, url] of Object.entries(targets)) {
      const r = await paced(url, agents[label], DURATION_S, RATE);
      r.latencies.sort((a, b) => a - b);
      results[label] = r.latencies;
      agents[label].destroy();
    }
    for (const [label, l] of Object.entries(results)) {
      log(`${label.padEnd(11)} p50 ${ms(percentile(l, 50))}   p90 ${ms(percentile(l, 90))}   p99 ${ms(percentile(l, 99))}`);
    }
    const diff = (a, b, q) => percentile(results[a], q) - percentile(results[b], q);
    log(`added by the ingress hop (cross − same zone)   p50 ${ms(diff('cross zone', 'same zone', 50))}   p99 ${ms(diff('cross zone', 'same zone', 99))}`);
  } finally {
    for (const x of processes.reverse()) await x.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run({ log: console.log });
