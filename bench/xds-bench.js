// Control-plane scale: one `skein cp run --store memory --auth none` process serving N simulated
// proxies (Delta ADS streams opened by bench/xds-sim.js in a separate process). For each N: time for
// every proxy to get its first complete config, how long a change that concerns every proxy takes
// to reach all of them, and the control plane's memory per connected proxy. A fresh control plane
// per N.
//
// Topology: N Dataplanes dp-<i>, each serving svc-<i % 1000> and reaching svc-<i+1..i+3> plus
// svc-common (served by one Dataplane that never connects). The change is a new svc-common endpoint
// (a new Dataplane), which changes one ClusterLoadAssignment in every proxy's config.
import { fork } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { cpuSeconds, pass, percentile, putDataplane, putDataplanes, root, rssKiB, startCp, waitFor } from './support.js';

const SIZES = (process.env.BENCH_XDS_SIZES ?? '2000,10000').split(',').map(Number);
/** `rest`: PUT every Dataplane before the proxies connect; `stream`: each proxy brings its own in node metadata. */
const REGISTER = process.env.BENCH_XDS_REGISTER ?? 'rest';
const STREAMS_PER_CHANNEL = Number(process.env.BENCH_XDS_STREAMS_PER_CHANNEL ?? 200);
const SERVICES = 1000;
const COMMON = 'svc-common';
const CHANGES = 3;
const TARGET_SIZE = 10_000;
const TARGET_CHANGE_P99_MS = 2000;
const TARGET_KB_PER_PROXY = 100;
const CP_HEAP_MB = 4096;
const PUT_CONCURRENCY = 32;
const CONNECT_TIMEOUT_MS = Number(process.env.BENCH_XDS_CONNECT_TIMEOUT_MS ?? 90_000);
const CHANGE_TIMEOUT_MS = 20_000;

function dataplane(name, address, service, outboundServices) {
  return {
    type: 'Dataplane',
    mesh: 'default',
    name,
    networking: {
      address,
      inbound: [{ port: 8080, servicePort: 80, tags: { 'kuma.io/service': service, 'kuma.io/protocol': 'http' } }],
      outbound: outboundServices.map((s, k) => ({ port: 10_001 + k, tags: { 'kuma.io/service': s } })),
    },
  };
}

function proxyDataplane(i) {
  const address = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  const outbound = [1, 2, 3].map((k) => `svc-${(i + k) % SERVICES}`);
  return dataplane(`dp-${i}`, address, `svc-${i % SERVICES}`, [...outbound, COMMON]);
}

function commonDataplane(k) {
  return dataplane(`common-${k}`, `10.255.0.${k}`, COMMON, []);
}


/** The simulator process, with request/response over IPC. */
function startSim() {
  const proc = fork(path.join(root, 'bench', 'xds-sim.js'), [], { cwd: root, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map();
  proc.on('message', (msg) => {
    const resolve = waiting.get(msg.type);
    waiting.delete(msg.type);
    resolve?.(msg);
  });
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  const reply = (type) => new Promise((resolve, reject) => {
    waiting.set(type, resolve);
    exited.then((code) => reject(new Error(`xds-sim exited (${code}) while waiting for "${type}"`)));
  });
  const ready = reply('ready');
  return {
    proc,
    ready,
    request(msg, replyType) {
      const r = reply(replyType);
      proc.send(msg);
      return r;
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null && proc.connected) proc.send({ type: 'close' });
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Waits until a process uses less than 10% of a core over half a second (or gives up after `timeoutMs`). */
async function settle(pid, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  let last = cpuSeconds(pid);
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    const now = cpuSeconds(pid);
    if (now - last < 0.05) return;
    last = now;
  }
}

const fmtMs = (v) => (Number.isFinite(v) ? `${Math.round(v)} ms` : 'n/a').padStart(8);
const spread = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? NaN };
};

async function runSize(n, log) {
  // BENCH_XDS_CP_NODE_ARGS: extra Node flags for the control plane, e.g. `--cpu-prof --cpu-prof-dir=<dir>`.
  const extraNodeArgs = (process.env.BENCH_XDS_CP_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const cp = await startCp(['--auth', 'none'], { nodeArgs: [`--max-old-space-size=${CP_HEAP_MB}`, ...extraNodeArgs] });
  const pid = cp.proc.pid;
  let sim;
  try {
    await settle(pid);
    const rssEmpty = rssKiB(pid);
    const dataplanes = Array.from({ length: n }, (_, i) => proxyDataplane(i));
    await putDataplane(cp.apiUrl, commonDataplane(1));

    let registerMs = NaN;
    if (REGISTER === 'rest') {
      const started = Date.now();
      await putDataplanes(cp.apiUrl, dataplanes, PUT_CONCURRENCY);
      registerMs = Date.now() - started;
      await settle(pid);
    }
    const rssRegistered = rssKiB(pid);

    sim = startSim();
    await sim.ready;
    const cpuBefore = cpuSeconds(pid);
    const simCpuBefore = cpuSeconds(sim.proc.pid);
    await sim.request({
      type: 'open',
      target: `127.0.0.1:${cp.dpPort}`,
      count: n,
      streamsPerChannel: STREAMS_PER_CHANNEL,
      carryDataplane: REGISTER === 'stream',
      dataplanes: dataplanes.map((dp) => ({ name: dp.name, resource: JSON.stringify(dp) })),
      cluster: COMMON,
    }, 'opened');
    let last;
    try {
      await waitFor(async () => {
        last = await sim.request({ type: 'status' }, 'status');
        return last.full === n || last.errors > 0;
      }, { timeoutMs: CONNECT_TIMEOUT_MS, what: `${n} proxies to get their first config`, intervalMs: 250 });
    } catch (err) {
      log(`N=${n}: ${err.message}; ${last?.full ?? 0} complete, ${last?.lc ?? 0} with Listeners+Clusters, ${last?.errors ?? 0} stream errors ${last?.firstError ?? ''}`);
      return { n, ok: false };
    }
    if (last.errors > 0) {
      log(`N=${n}: ${last.errors} streams failed (first: ${last.firstError}); ${last.full} had a complete config`);
      return { n, ok: false };
    }
    const first = await sim.request({ type: 'collect' }, 'collected');
    const connectCpu = cpuSeconds(pid) - cpuBefore;
    const connectSimCpu = cpuSeconds(sim.proc.pid) - simCpuBefore;
    const perStream = first.fullAt.map((t, i) => t - first.openedAt[i]);
    const lcStream = first.lcAt.map((t, i) => t - first.openedAt[i]);
    const allMs = Math.max(...first.fullAt) - Math.min(...first.openedAt);
    const f = spread(perStream);
    const lc = spread(lcStream);

    await settle(pid);
    const rssConnected = rssKiB(pid);
    // KB = 1,000 bytes, as in the target.
    const kbPerProxy = ((rssConnected - rssEmpty) * 1.024) / n;

    log(`\nN=${n.toLocaleString('en-US')} proxies, ${Math.ceil(n / STREAMS_PER_CHANNEL)} gRPC connections, ${SERVICES} services + ${COMMON}, 4 outbounds each; Dataplanes registered by ${REGISTER === 'rest' ? 'REST PUT before connecting' : 'the streams (node metadata)'}`);
    if (REGISTER === 'rest') log(`  registration: ${n} PUTs (${PUT_CONCURRENCY} concurrent) in ${(registerMs / 1000).toFixed(1)} s = ${Math.round(n / (registerMs / 1000))}/s`);
    log(`  first config, all ${n}: ${(allMs / 1000).toFixed(2)} s after the streams opened; CPU: CP ${connectCpu.toFixed(1)} s, simulator ${connectSimCpu.toFixed(1)} s`);
    log(`    per stream, Listeners+Clusters: p50 ${fmtMs(lc.p50)}  p99 ${fmtMs(lc.p99)}  max ${fmtMs(lc.max)}`);
    log(`    per stream, + endpoints (EDS):  p50 ${fmtMs(f.p50)}  p99 ${fmtMs(f.p99)}  max ${fmtMs(f.max)}`);
    log(`  CP RSS: empty ${Math.round(rssEmpty / 1024)} MiB, before connecting ${Math.round(rssRegistered / 1024)} MiB, all connected ${Math.round(rssConnected / 1024)} MiB`);
    log(`    = ${kbPerProxy.toFixed(1)} KB per proxy (stored Dataplane + stream + snapshot), of which after connecting ${(((rssConnected - rssRegistered) * 1.024) / n).toFixed(1)} KB`);

    const changes = [];
    for (let r = 0; r < CHANGES; r++) {
      await settle(pid);
      await sim.request({ type: 'mark' }, 'marked');
      const t0 = Date.now();
      const cpu0 = cpuSeconds(pid);
      const simCpu0 = cpuSeconds(sim.proc.pid);
      await putDataplane(cp.apiUrl, commonDataplane(r + 2));
      let st;
      try {
        await waitFor(async () => {
          st = await sim.request({ type: 'status' }, 'status');
          return st.updated === n;
        }, { timeoutMs: CHANGE_TIMEOUT_MS, what: 'the change to reach every proxy', intervalMs: 50 });
      } catch {
        // Reported below as the count reached.
      }
      const cpu = cpuSeconds(pid) - cpu0;
      const simCpu = cpuSeconds(sim.proc.pid) - simCpu0;
      const done = await sim.request({ type: 'collect' }, 'collected');
      const reached = done.updatedAt.filter((t) => t > 0).map((t) => t - t0);
      const s = spread(reached);
      changes.push({ ...s, reached: reached.length });
      log(`  change ${r + 1} (new ${COMMON} endpoint): reached ${reached.length}/${n}   p50 ${fmtMs(s.p50)}  p99 ${fmtMs(s.p99)}  max ${fmtMs(s.max)}   CPU: CP ${cpu.toFixed(1)} s, sim ${simCpu.toFixed(1)} s`);
    }
    const worstP99 = Math.max(...changes.map((c) => (c.reached === n ? c.p99 : Infinity)));
    return { n, ok: true, worstP99, kbPerProxy };
  } finally {
    await sim?.stop();
    await cp.stop();
  }
}

export async function run({ log }) {
  log(`${os.cpus().length} CPU cores shared by the control plane, the simulated proxies and this driver; memory store, --auth none, Delta ADS`);
  const results = [];
  for (const n of SIZES) results.push(await runSize(n, log));
  const target = results.find((r) => r.n === TARGET_SIZE) ?? results.at(-1);
  if (!target) return;
  const note = target.n === TARGET_SIZE ? '' : ` (measured at N=${target.n}, not ${TARGET_SIZE})`;
  log(`\ntargets at ${target.n.toLocaleString('en-US')} proxies${note}:`);
  if (!target.ok) {
    log(`  change reaches all proxies within ${TARGET_CHANGE_P99_MS / 1000} s p99: FAIL (proxies did not all connect)`);
    log(`  ≤ ${TARGET_KB_PER_PROXY} KB CP RSS per proxy: FAIL (not measured)`);
    return;
  }
  log(`  change reaches all proxies within ${TARGET_CHANGE_P99_MS / 1000} s p99 (worst of ${CHANGES}: ${fmtMs(target.worstP99).trim()}): ${pass(target.worstP99 <= TARGET_CHANGE_P99_MS)}`);
  log(`  ≤ ${TARGET_KB_PER_PROXY} KB CP RSS per proxy (${target.kbPerProxy.toFixed(1)} KB): ${pass(target.kbPerProxy <= TARGET_KB_PER_PROXY)}`);
}

if (import.meta.url === `file://${process.argv[1]}`) await run({ log: console.log });
