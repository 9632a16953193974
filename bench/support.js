// Shared by the data path and xDS benchmarks: start `skein` processes from the built product, read
// a process's CPU time and memory from /proc, compute percentiles.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const skeinBin = path.join(root, 'bin', 'skein.js');

const CLOCK_TICKS_PER_SECOND = 100;
const KEPT_OUTPUT_CHARS = 20_000;

/**
 * Spawns a Node process; `ready` resolves once its combined output matches `readyPattern`.
 * Output is drained for the process's whole life (a full pipe would stall it); the tail is kept
 * for error messages.
 */
export function startProcess(args, readyPattern, { env, what = args.join(' ') } = {}) {
  const proc = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  const ready = new Promise((resolve, reject) => {
    let matched = false;
    const onData = (d) => {
      out = (out + d.toString()).slice(-KEPT_OUTPUT_CHARS);
      if (matched) return;
      const m = readyPattern.exec(out);
      if (m) {
        matched = true;
        resolve(m);
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.once('exit', (code, signal) => reject(new Error(`${what} exited (${code ?? signal}) before it was ready:\n${out}`)));
  });
  return {
    proc,
    ready,
    output: () => out,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * `skein cp run` with a memory store on free ports; resolves with its ports once ready.
 * `nodeArgs` go to Node itself (e.g. `--max-old-space-size=4096`, `--cpu-prof`).
 */
export async function startCp(extraArgs = [], { env, nodeArgs = [] } = {}) {
  const cp = startProcess(
    [...nodeArgs, skeinBin, 'cp', 'run', '--store', 'memory', '--api-port', '0', '--dp-port', '0', '--diagnostics-port', '0', '--kds-port', '0',
      '--api-address', '127.0.0.1', '--diagnostics-address', '127.0.0.1', '--work-dir', tempDir('bench-cp'),
      // Benchmarks reach the DP port with http:// and h2c: plaintext must be accepted there.
      '--dp-server-plaintext', ...extraArgs],
    /^.*"msg":"control plane ready".*$/m,
    { what: 'skein cp run', env },
  );
  const line = (await cp.ready)[0];
  const apiPort = Number(/"apiPort":(\d+)/.exec(line)?.[1]);
  const dpPort = Number(/"dpPort":(\d+)/.exec(line)?.[1]);
  return { ...cp, apiUrl: `http://127.0.0.1:${apiPort}`, dpPort };
}

export function tempDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `skein-${prefix}-`));
}

/** User + system CPU time a process has used so far, in seconds. */
export function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start at field 3; utime/stime are 14/15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** Resident set size of a process, in KiB. */
export function rssKiB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export async function waitFor(check, { timeoutMs, what, intervalMs = 100 }) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function pass(ok) {
  return ok ? 'PASS' : 'FAIL';
}

/** PUT one Dataplane of mesh `default` over the REST API. */
export async function putDataplane(apiUrl, resource) {
  const res = await fetch(`${apiUrl}/meshes/default/dataplanes/${resource.name}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(resource),
  });
  if (res.status !== 200 && res.status !== 201) throw new Error(`PUT ${resource.name}: ${res.status} ${await res.text()}`);
}

/** PUT many Dataplanes with `concurrency` requests in flight. */
export async function putDataplanes(apiUrl, resources, concurrency) {
  let next = 0;
  const worker = async () => {
    while (next < resources.length) await putDataplane(apiUrl, resources[next++]);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

export async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/** Plaintext to the CP (startCp passes --dp-server-plaintext): the benchmark measures the data path. */
export function startDp(cpDpPort, dir, name, yaml) {
  const file = path.join(dir, `${name}.yaml`);
  fs.writeFileSync(file, yaml);
  const dp = startProcess(
    [skeinBin, 'dp', 'run', '--cp-address', `http://127.0.0.1:${cpDpPort}`, '--dataplane-file', file, '--work-dir', path.join(dir, name)],
    /data plane is ready/,
    { what: `skein dp run (${name})` },
  );
  return dp;
}

/**
 * Open-loop load at `rate` req/s for `durationS`: request i is sent i/rate seconds after the start (a
 * 1 ms timer sends whatever is due) on a free keep-alive connection of `agent`, or waits in its queue
 * when all are busy; its latency runs from the send to the end of the response body, so that wait
 * counts. (autocannon's overallRate does not pace: each connection sends its share of a second back
 * to back, then idles until the next second, which measures bursts at saturation instead.)
 */
export async function paced(url, agent, durationS, rate) {
  const total = Math.round(rate * durationS);
  const latencies = [];
  let failed = 0;
  const reasons = new Map();
  const start = performance.now();
  await new Promise((resolve) => {
    let sent = 0;
    let completed = 0;
    const complete = (ok, sentAt, reason) => {
      if (ok) latencies.push(performance.now() - sentAt);
      else {
        failed++;
        reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
      }
      if (++completed === total) resolve();
    };
    const send = () => {
      const sentAt = performance.now();
      let done = false;
      const finish = (ok, reason) => {
        if (!done) complete(ok, sentAt, reason);
        done = true;
      };
      const req = http.get(url, { agent }, (res) => {
        let body = '';
        if (res.statusCode === 200) res.resume();
        else res.on('data', (d) => (body += d.toString()));
        res.on('end', () => finish(res.statusCode === 200, `HTTP ${res.statusCode} ${body.slice(0, 200)}`.trim()));
        res.on('error', (err) => finish(false, err.message));
      });
      req.on('error', (err) => finish(false, err.message));
    };
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate) + 1);
      while (sent < due) {
        sent++;
        send();
      }
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
  });
  if (failed > 0) throw new Error(`${url}: ${failed} failed requests (${[...reasons].map(([r, n]) => `${n}× ${r}`).join(', ')})`);
  return { latencies, seconds: (performance.now() - start) / 1000 };
}


const HTTP_SERVER_SOURCE = `
import http from 'node:http';
const body = Buffer.alloc(1024, 'x');
const server = http.createServer((req, res) => { res.setHeader('content-type', 'text/plain'); res.end(body); });
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log('PORT=' + server.address().port));
`;

/** An HTTP server answering 1 KB to every request, in its own process; `ready` yields its port at [1]. */
export function startHttpServer() {
  return startProcess(['--input-type=module', '-e', HTTP_SERVER_SOURCE], /PORT=(\d+)/, { what: 'HTTP server' });
}

/** A Universal Dataplane of mesh `default` with one HTTP inbound and `kuma.io/service` outbounds. */
export function dataplaneYaml(name, inbound, outbounds = [], labels = {}) {
  const lines = ['type: Dataplane', 'mesh: default', `name: ${name}`, `labels: ${JSON.stringify(labels)}`, 'networking:', '  address: 127.0.0.1', '  inbound:'];
  lines.push(`    - { port: ${inbound.port}, servicePort: ${inbound.servicePort}, tags: { kuma.io/service: ${inbound.service}, kuma.io/protocol: http } }`);
  if (outbounds.length) lines.push('  outbound:', ...outbounds.map((o) => `    - { port: ${o.port}, tags: { kuma.io/service: ${o.service} } }`));
  return `${lines.join('\n')}\n`;
}
