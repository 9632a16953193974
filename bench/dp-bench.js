// Data path: HTTP requests with 1 KB responses through a client proxy and a server proxy (two
// `skein dp run` processes configured by a `--auth none` control plane) against the same requests
// sent straight to the server. Latency at a fixed 1,000 req/s, then throughput at saturation and the
// proxies' CPU cost per request. The HTTP server and every proxy run in their own processes.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import autocannon from 'autocannon';
import { cpuSeconds, dataplaneYaml, freePort, paced, pass, percentile, startCp, startDp, startHttpServer, tempDir, waitFor } from './support.js';

const FIXED_RATE = 1_000;
const FIXED_RATE_CONNECTIONS = 10;
const MAX_CONNECTIONS = 32;
const DURATION_S = Number(process.env.BENCH_DP_DURATION_S ?? 10);
const TARGET_RPS_PER_CORE = 5_000;
const TARGET_ADDED_P99_MS = 3;



/** autocannon run that also keeps every response time (autocannon's own histogram has 1 ms resolution). */
async function load(url, options) {
  const latencies = [];
  const instance = autocannon({ url, duration: DURATION_S, ...options });
  instance.on('response', (_client, _status, _bytes, responseTimeMs) => latencies.push(responseTimeMs));
  const result = await instance;
  latencies.sort((a, b) => a - b);
  const errors = result.errors + result.timeouts + result.non2xx;
  if (errors > 0) throw new Error(`${url}: ${errors} failed requests (errors ${result.errors}, timeouts ${result.timeouts}, non-2xx ${result.non2xx})`);
  return { rps: result.requests.total / DURATION_S, latencies };
}

const ms = (v) => `${v.toFixed(2)} ms`.padStart(9);

export async function run({ log }) {
  const dir = tempDir('bench-dp');
  const processes = [];
  try {
    const server = startHttpServer();
    processes.push(server);
    const serverPort = Number((await server.ready)[1]);
    const cp = await startCp(['--auth', 'none']);
    processes.push(cp);

    const [webInbound, clientInbound, webOutbound] = [await freePort(), await freePort(), await freePort()];
    const backend = startDp(cp.dpPort, dir, 'backend', dataplaneYaml('backend', { port: webInbound, servicePort: serverPort, service: 'web' }));
    const client = startDp(cp.dpPort, dir, 'client', dataplaneYaml('client', { port: clientInbound, servicePort: await freePort(), service: 'client' }, [{ port: webOutbound, service: 'web' }]));
    processes.push(backend, client);
    await Promise.all([backend.ready, client.ready]);

    const direct = `http://127.0.0.1:${serverPort}/`;
    const proxied = `http://127.0.0.1:${webOutbound}/`;
    await waitFor(async () => {
      const res = await fetch(proxied).catch(() => undefined);
      return res?.status === 200 && (await res.arrayBuffer()).byteLength === 1024;
    }, { timeoutMs: 20_000, what: `HTTP through the proxies\n${backend.output()}\n${client.output()}` });

    log(`${os.cpus().length} CPU cores shared by the load generator, the server and both proxies; 1 KB responses, HTTP/1.1 keep-alive`);
    // Warm-up: JIT and connection pools of both proxies, then the paced load generator and its
    // connections. The proxied run goes first, so that the proxies are measured warm rather than
    // after idling through the direct run.
    await autocannon({ url: proxied, connections: MAX_CONNECTIONS, duration: 2 });
    const targets = { direct, proxied };
    const agents = { direct: new http.Agent({ keepAlive: true, maxSockets: FIXED_RATE_CONNECTIONS }), proxied: new http.Agent({ keepAlive: true, maxSockets: FIXED_RATE_CONNECTIONS }) };
    for (const label of ['direct', 'proxied']) await paced(targets[label], agents[label], 1, FIXED_RATE);

    log(`\n(a) fixed ${FIXED_RATE} req/s for ${DURATION_S}s, ${FIXED_RATE_CONNECTIONS} connections (paced: one request every ${1000 / FIXED_RATE} ms)`);
    const fixed = {};
    for (const label of ['proxied', 'direct']) {
      fixed[label] = await paced(targets[label], agents[label], DURATION_S, FIXED_RATE);
      agents[label].destroy();
      fixed[label].latencies.sort((a, b) => a - b);
    }
    for (const label of ['direct', 'proxied']) {
      const l = fixed[label].latencies;
      log(`${label.padEnd(8)} ${String(Math.round(l.length / fixed[label].seconds)).padStart(6)} req/s   p50 ${ms(percentile(l, 50))}   p90 ${ms(percentile(l, 90))}   p99 ${ms(percentile(l, 99))}`);
    }
    const added = (p) => percentile(fixed.proxied.latencies, p) - percentile(fixed.direct.latencies, p);
    log(`added    by the two proxies   p50 ${ms(added(50))}   p90 ${ms(added(90))}   p99 ${ms(added(99))}   target p99 ≤ ${TARGET_ADDED_P99_MS} ms: ${pass(added(99) <= TARGET_ADDED_P99_MS)}`);

    log(`\n(b) maximum throughput for ${DURATION_S}s, ${MAX_CONNECTIONS} connections`);
    const max = await load(direct, { connections: MAX_CONNECTIONS });
    log(`direct   ${String(Math.round(max.rps)).padStart(6)} req/s   p50 ${ms(percentile(max.latencies, 50))}   p99 ${ms(percentile(max.latencies, 99))}`);
    const proxyPids = [backend.proc.pid, client.proc.pid];
    const cpuBefore = proxyPids.map(cpuSeconds);
    const started = process.hrtime.bigint();
    const through = await load(proxied, { connections: MAX_CONNECTIONS });
    const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    const proxyCores = proxyPids.map((pid, i) => (cpuSeconds(pid) - cpuBefore[i]) / wallSeconds);
    const cores = proxyCores[0] + proxyCores[1];
    const perCore = through.rps / cores;
    log(`proxied  ${String(Math.round(through.rps)).padStart(6)} req/s   p50 ${ms(percentile(through.latencies, 50))}   p99 ${ms(percentile(through.latencies, 99))}`);
    log(`proxy CPU: server-side ${proxyCores[0].toFixed(2)} + client-side ${proxyCores[1].toFixed(2)} = ${cores.toFixed(2)} cores busy`);
    log(`proxied req/s per core of the proxy pair: ${Math.round(perCore)}   target ≥ ${TARGET_RPS_PER_CORE}: ${pass(perCore >= TARGET_RPS_PER_CORE)}`);
  } finally {
    for (const p of processes.reverse()) await p.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run({ log: console.log });
