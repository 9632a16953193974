// REST API throughput and latency: GET one resource and a list of 1,000, side by side with an empty
// Fastify route (the framework's ceiling on this machine). Each server runs in its own process.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 5);

function startProcess(args, readyPattern) {
  const proc = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (d) => {
      out += d.toString();
      const m = readyPattern.exec(out);
      if (m) resolve({ proc, match: m });
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
  });
}

async function load(url, title, log) {
  const result = await autocannon({ url, connections: 20, duration: DURATION_S, pipelining: 1 });
  log(`${title.padEnd(34)} ${String(Math.round(result.requests.average)).padStart(8)} req/s   p50 ${result.latency.p50} ms   p99 ${result.latency.p99} ms   errors ${result.errors + result.non2xx}`);
  return result;
}

export async function run({ log }) {
  const ceiling = await startProcess(
    ['--input-type=module', '-e', "import F from 'fastify'; const a = F(); a.get('/', async () => ({})); await a.listen({ port: 0, host: '127.0.0.1' }); console.log('PORT=' + a.server.address().port);"],
    /PORT=(\d+)/,
  );
  const cp = await startProcess(
    [path.join(root, 'bin', 'skein.js'), 'cp', 'run', '--store', 'memory', '--api-port', '0', '--dp-port', '0', '--diagnostics-port', '0', '--kds-port', '0', '--api-address', '127.0.0.1'],
    /"apiPort":(\d+)/,
  );
  const apiUrl = `http://127.0.0.1:${cp.match[1]}`;
  try {
    for (let i = 0; i < 1000; i++) {
      const name = `dp-${String(i).padStart(4, '0')}`;
      const res = await fetch(`${apiUrl}/meshes/default/dataplanes/${name}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'Dataplane', mesh: 'default', name, networking: { address: '10.0.0.1', inbound: [{ port: 10000 + (i % 50000), servicePort: 8080, tags: { 'kuma.io/service': `svc-${i}` } }] } }),
      });
      if (res.status !== 201) throw new Error(`seeding failed: ${res.status} ${await res.text()}`);
    }
    log(`${DURATION_S}s per run, 20 connections, autocannon`);
    await load(`http://127.0.0.1:${ceiling.match[1]}/`, 'empty Fastify route (ceiling)', log);
    await load(`${apiUrl}/meshes/default/dataplanes/dp-0500`, 'GET one Dataplane', log);
    await load(`${apiUrl}/meshes/default/dataplanes?size=1000`, 'GET list of 1,000 Dataplanes', log);
  } finally {
    ceiling.proc.kill();
    cp.proc.kill();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run({ log: console.log });
