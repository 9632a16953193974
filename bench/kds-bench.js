// Multi-zone sync: one global control plane and ZONES zone control planes over KDS (gRPC + TLS), all
// `--store memory`. Dataplanes are created on the zones; each zone sends its own to global, and
// global forwards them to the other zones, so once in sync global and every zone hold all N.
//
// (1) Burst: N Dataplanes PUT over the zones' REST APIs at once (≈N/ZONES per zone, PUT_CONCURRENCY
//     in flight per zone); time from the last write's completion until global and every zone list N.
// (2) Global restart: SIGKILL global and start it again on the same ports and work dir (so the zones
//     still trust its KDS certificate). With a memory store it starts empty; time from its "ready"
//     until global lists N again, with every zone still at exactly N (no duplicates, nothing lost).
import net from 'node:net';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { pass, putDataplanes, rssKiB, startCp, tempDir } from './support.js';

const N = Number(process.env.BENCH_KDS_DATAPLANES ?? 10_000);
const ZONES = 3;
const SERVICES = 100;
const PUT_CONCURRENCY = 32;
const POLL_MS = 50;
const TARGET_SYNC_MS = 2000;
const SYNC_TIMEOUT_MS = Number(process.env.BENCH_KDS_TIMEOUT_MS ?? 45_000);
/** After convergence, how long the counts must stay exactly N (catches late duplicates). */
const STABLE_MS = 1000;
const CP_HEAP_MB = 4096;
// BENCH_KDS_CP_NODE_ARGS: extra Node flags for every control plane, e.g. `--cpu-prof --cpu-prof-dir=<dir>`.
const EXTRA_NODE_ARGS = (process.env.BENCH_KDS_CP_NODE_ARGS ?? '').split(' ').filter(Boolean);
const NODE_ARGS = [`--max-old-space-size=${CP_HEAP_MB}`, ...EXTRA_NODE_ARGS];

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function dataplane(i) {
  const name = `dp-${i}`;
  return {
    type: 'Dataplane',
    mesh: 'default',
    name,
    networking: {
      address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      inbound: [{ port: 8080, tags: { 'kuma.io/service': `svc-${i % SERVICES}` } }],
    },
  };
}


/** `total` of the Dataplane list in mesh default, or NaN when the CP does not answer. */
async function total(apiUrl) {
  try {
    const res = await fetch(`${apiUrl}/meshes/default/dataplanes?size=1`, { signal: AbortSignal.timeout(5000) });
    if (res.status !== 200) return NaN;
    return (await res.json()).total;
  } catch {
    return NaN;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls every CP's Dataplane count every POLL_MS until all equal N and stay N for STABLE_MS.
 * Returns the time (from `t0`) each CP reached N for good (a CP that drops below N and comes back
 * counts from its return), when all did, and the highest count seen
 * and lowest counts seen on each CP (above N = duplicates).
 */
async function converge(cps, t0) {
  const reachedAt = cps.map(() => NaN);
  const max = cps.map(() => 0);
  const min = cps.map(() => Infinity);
  let last = cps.map(() => NaN);
  let allAt = NaN;
  const deadline = Date.now() + SYNC_TIMEOUT_MS;
  while (Date.now() < deadline) {
    last = await Promise.all(cps.map((cp) => total(cp.apiUrl)));
    const now = Date.now();
    last.forEach((t, k) => {
      if (t > max[k]) max[k] = t;
      if (t < min[k]) min[k] = t;
      if (t !== N) reachedAt[k] = NaN;
      else if (Number.isNaN(reachedAt[k])) reachedAt[k] = now - t0;
    });
    if (last.every((t) => t === N)) {
      if (Number.isNaN(allAt)) allAt = now - t0;
      if (now - t0 - allAt >= STABLE_MS) return { ok: true, allMs: allAt, reachedAt, max, min, last };
    } else {
      allAt = NaN;
    }
    await sleep(POLL_MS);
  }
  return { ok: false, allMs: NaN, reachedAt, max, min, last };
}

const fmtMs = (v) => (Number.isFinite(v) ? `${Math.round(v)} ms` : 'n/a');

function report(log, names, r) {
  const per = names.map((name, k) => `${name} ${fmtMs(r.reachedAt[k])}${r.max[k] > N ? ` (max seen ${r.max[k]}!)` : ''}`).join(', ');
  if (r.ok) log(`    all ${ZONES + 1} CPs at ${N}: ${fmtMs(r.allMs)} (each at N for good: ${per})`);
  else log(`    not converged after ${SYNC_TIMEOUT_MS / 1000} s: counts ${names.map((name, k) => `${name}=${r.last[k]}`).join(', ')} (each at N when last polled: ${per})`);
}

export async function run({ log }) {
  log(`${os.cpus().length} CPU cores shared by 1 global + ${ZONES} zone control planes and this driver; memory store, KDS over gRPC + TLS on 127.0.0.1`);
  const kdsPort = await freePort();
  const globalWork = tempDir('bench-kds-global');
  const globalArgs = ['--mode', 'global', '--kds-port', String(kdsPort), '--work-dir', globalWork];
  let global = await startCp(globalArgs, { nodeArgs: NODE_ARGS });
  const globalApiPort = new URL(global.apiUrl).port;
  const zones = [];
  try {
    for (let z = 1; z <= ZONES; z++) {
      zones.push(await startCp(['--mode', 'zone', '--zone', `zone-${z}`, '--global-address', `grpcs://127.0.0.1:${kdsPort}`,
        '--kds-root-ca-file', path.join(globalWork, 'dp-server.crt')], { nodeArgs: NODE_ARGS }));
    }
    const names = ['global', ...zones.map((_, k) => `zone-${k + 1}`)];
    // The zones get mesh default from global.
    const meshDeadline = Date.now() + 30_000;
    for (const zone of zones) {
      while ((await fetch(`${zone.apiUrl}/meshes/default`)).status !== 200) {
        if (Date.now() > meshDeadline) throw new Error('mesh default did not reach the zones within 30 s');
        await sleep(100);
      }
    }

    // (1) Burst.
    const all = Array.from({ length: N }, (_, i) => dataplane(i));
    const perZone = zones.map((_, k) => all.filter((_, i) => i % ZONES === k));
    log(`\nburst: ${N.toLocaleString('en-US')} Dataplanes PUT on ${ZONES} zones at once (${perZone.map((p) => p.length).join('/')}, ${PUT_CONCURRENCY} in flight per zone), ${SERVICES} services`);
    const w0 = Date.now();
    const writeEnd = zones.map(() => NaN);
    await Promise.all(zones.map(async (zone, k) => {
      await putDataplanes(zone.apiUrl, perZone[k], PUT_CONCURRENCY);
      writeEnd[k] = Date.now() - w0;
    }));
    const lastWrite = Date.now();
    const writeMs = lastWrite - w0;
    log(`  writes: ${(writeMs / 1000).toFixed(2)} s = ${Math.round(N / (writeMs / 1000))}/s overall (per zone done at ${writeEnd.map((t) => fmtMs(t)).join(', ')})`);
    const burst = await converge([global, ...zones], lastWrite);
    log(`  sync after the last write (polling every ${POLL_MS} ms):`);
    report(log, names, burst);

    // (2) Global restart.
    log(`\nglobal restart: SIGKILL, start again on the same API/KDS ports and work dir (memory store: starts empty)`);
    global.proc.kill('SIGKILL');
    await global.stop();
    const r0 = Date.now();
    global = await startCp([...globalArgs, '--api-port', globalApiPort], { nodeArgs: NODE_ARGS });
    const readyAt = Date.now();
    log(`  restart → ready: ${fmtMs(readyAt - r0)}; global then lists ${await total(global.apiUrl)} Dataplanes`);
    const restart = await converge([global, ...zones], readyAt);
    log(`  refill after ready:`);
    report(log, names, restart);
    log(`    zones' counts while global refilled: min ${restart.min.slice(1).join('/')}, max ${restart.max.slice(1).join('/')}`);
    const noDup = restart.ok && restart.max.every((m) => m <= N);

    // The poll itself is not free: the REST list lists (and copies) every Dataplane to count them.
    const p0 = performance.now();
    for (let i = 0; i < 10; i++) await total(zones[0].apiUrl);
    log(`\none \`GET /meshes/default/dataplanes?size=1\` poll on a zone with ${N} Dataplanes: ${((performance.now() - p0) / 10).toFixed(1)} ms (sequential, idle CP)`);

    log(`\nCP RSS: ${[global, ...zones].map((cp, k) => `${names[k]} ${Math.round(rssKiB(cp.proc.pid) / 1024)} MiB`).join(', ')}`);
    log(`\ntargets at ${N.toLocaleString('en-US')} Dataplanes across ${ZONES} zones:`);
    log(`  global and every zone agree ≤ ${TARGET_SYNC_MS / 1000} s after the burst's last write (${fmtMs(burst.allMs)}): ${pass(burst.ok && burst.allMs <= TARGET_SYNC_MS)}`);
    log(`  after a global restart, global refilled and all exactly ${N}, no duplicates (${fmtMs(restart.allMs)} after ready): ${pass(noDup)}`);
    const zonesMin = Math.min(...restart.min.slice(1));
    log(`  zones keep all ${N} while global refills (lowest zone count seen: ${zonesMin}): ${pass(zonesMin >= N)}`);
  } finally {
    for (const zone of zones) await zone.stop();
    await global.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run({ log: console.log });
