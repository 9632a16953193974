// Policy resolution + generation cost per proxy, in process (no real proxies): a mesh of 10,000
// Dataplanes (1,000 services × 10 instances) with 0, 50 and 500 policies of a realistic mix, the
// MeshContext built as the control plane builds it (contextFromInputs) and every proxy's first
// snapshot generated through ProxySnapshots (the code path of a proxy connecting). Prints µs per
// proxy side by side (CPU time of this process, so that a loaded machine skews less), the 500/0
// ratio against the target and the heap the snapshots keep.
//
// Environment: BENCH_POLICIES_PROXIES (10000), BENCH_POLICIES_COUNTS (0,50,500), BENCH_POLICIES_ROUNDS (3).
import { contextFromInputs } from '../dist/xds/context/mesh-inputs.js';
import { ProxySnapshots } from '../dist/xds/generator/proxy-snapshots.js';
import { pass } from './support.js';

const PROXIES = Number(process.env.BENCH_POLICIES_PROXIES ?? 10_000);
const COUNTS = (process.env.BENCH_POLICIES_COUNTS ?? '0,50,500').split(',').map(Number);
const ROUNDS = Number(process.env.BENCH_POLICIES_ROUNDS ?? 3);
const INSTANCES = 10;
const SERVICES = Math.max(1, Math.floor(PROXIES / INSTANCES));
const TEAMS = 20;
const TARGET_RATIO = 3;
const MESH = 'default';

function resource(type, name, spec, labels = {}) {
  return { type, mesh: type === 'Mesh' ? '' : MESH, name, labels, spec, version: 1, creationTime: '', modificationTime: '' };
}

const svc = (s) => `svc-${s % SERVICES}`;
const team = (s) => `team-${s % TEAMS}`;

/** dp-<i>: instance i of svc-<i % SERVICES>, HTTP, reaching the next three services. */
function dataplane(i) {
  const s = i % SERVICES;
  const labels = { app: svc(s), team: team(s), version: `v${i % 3}` };
  return resource('Dataplane', `dp-${i}`, {
    networking: {
      address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      inbound: [{ port: 8080, servicePort: 80, tags: { 'kuma.io/service': svc(s), 'kuma.io/protocol': 'http', team: team(s), version: labels.version } }],
      outbound: [1, 2, 3].map((k) => ({ port: 10_001 + k, tags: { 'kuma.io/service': svc(s + k) } })),
    },
  }, labels);
}

// Top-level targets, cycled: the whole mesh, a team's instances by tags, a service's Dataplanes by
// labels, one version of a service, a service by name, one Dataplane by name.
const TARGETS = [
  () => ({ kind: 'Mesh' }),
  (k) => ({ kind: 'MeshSubset', tags: { team: team(k) } }),
  (k) => ({ kind: 'Dataplane', labels: { app: svc(k * 7) } }),
  (k) => ({ kind: 'Dataplane', labels: { app: svc(k * 11), version: `v${k % 3}` } }),
  (k) => ({ kind: 'MeshService', name: svc(k * 13) }),
  (k) => ({ kind: 'Dataplane', name: `dp-${(k * 17) % PROXIES}` }),
];
const toTarget = (k) => (k % 3 === 0 ? { kind: 'Mesh' } : { kind: 'MeshService', name: svc(k * 3) });

// Policy kinds, cycled; each with to[] / from[] / rules as Kuma's docs use them.
const KINDS = [
  (k) => ['MeshTimeout', { to: [{ targetRef: toTarget(k), default: { connectionTimeout: `${2 + (k % 5)}s`, idleTimeout: '30m', http: { requestTimeout: `${5 + (k % 10)}s` } } }], rules: [{ default: { http: { streamIdleTimeout: '10m' } } }] }],
  (k) => ['MeshRateLimit', { rules: [{ default: { local: { http: { requestRate: { num: 100 + k, interval: '1s' } }, tcp: { connectionRate: { num: 50, interval: '1s' } } } } }] }],
  (k) => ['MeshFaultInjection', { from: [{ targetRef: { kind: 'Mesh' }, default: { http: [{ abort: { httpStatus: 503, percentage: k % 10 } }, { delay: { value: '50ms', percentage: 5 } }] } }] }],
  (k) => ['MeshTrafficPermission', { from: [{ targetRef: k % 2 ? { kind: 'Mesh' } : { kind: 'MeshSubset', tags: { 'kuma.io/service': svc(k + 1) } }, default: { action: 'Allow' } }] }],
  (k) => ['MeshCircuitBreaker', { to: [{ targetRef: toTarget(k), default: { connectionLimits: { maxConnections: 1024 + k }, outlierDetection: { detectors: { totalFailures: { consecutive: 5 } } } } }] }],
  (k) => ['MeshHealthCheck', { to: [{ targetRef: toTarget(k), default: { interval: '10s', timeout: '2s', unhealthyThreshold: 3, healthyThreshold: 1, http: { path: '/health' } } }] }],
  (k) => ['MeshRetry', { to: [{ targetRef: toTarget(k), default: { http: { numRetries: 1 + (k % 4), retryOn: ['5xx'] }, tcp: { maxConnectAttempt: 3 } } }] }],
];

/** `n` policies: kinds and targets cycled independently, so every kind meets every target kind. */
export function policies(n) {
  return Array.from({ length: n }, (_, k) => {
    const [type, spec] = KINDS[k % KINDS.length](k);
    return resource(type, `${type.toLowerCase()}-${k}`, { targetRef: TARGETS[Math.floor(k / KINDS.length) % TARGETS.length](k), ...spec });
  });
}

const mesh = resource('Mesh', MESH, { mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] } });
const dataplanes = Array.from({ length: PROXIES }, (_, i) => dataplane(i));
// A certificate's content does not matter to generation cost; one fake identity for every proxy.
const identity = { identity: { mode: 'STRICT', certPem: 'CERT', keyPem: 'KEY', caPem: 'CA' }, version: '1' };

function inputsWith(list) {
  return { mesh, permissions: list.filter((p) => p.type === 'MeshTrafficPermission'), policies: list, externalServices: [], meshServices: [], multiZoneServices: [], zoneIngresses: [], zoneEgresses: [], secrets: new Map() };
}

/** One first-config generation of every proxy: context build, then a snapshot each. */
function generateAll(n) {
  const inputs = inputsWith(policies(n));
  const t0 = cpuMs();
  const ctx = contextFromInputs(inputs, dataplanes, '');
  const t1 = cpuMs();
  const snapshots = new ProxySnapshots();
  let resources = 0;
  for (const dp of dataplanes) {
    const snapshot = snapshots.build(`${MESH}.${dp.name}`, dp, ctx, identity);
    for (const byName of snapshot.resources.values()) resources += byName.size;
  }
  const t2 = cpuMs();
  return { contextMs: t1 - t0, perProxyUs: ((t2 - t1) * 1000) / PROXIES, resources, keep: snapshots };
}

/** This process's CPU time: other processes loading the machine slow the clock, not this. */
function cpuMs() {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

function heapMiB() {
  globalThis.gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export async function run({ log }) {
  log(`${PROXIES} proxies (${SERVICES} services × ${INSTANCES}), mTLS; policies cycle ${KINDS.length} kinds × ${TARGETS.length} top-level targets; median of ${ROUNDS} rounds${globalThis.gc ? '' : ' (run with --expose-gc for exact heap figures)'}`);
  generateAll(COUNTS[0] ?? 0); // warm-up: JIT, module state
  const rounds = new Map(COUNTS.map((n) => [n, []]));
  const heap = new Map();
  // Rounds interleave the counts so that load from other processes spreads over all of them.
  for (let r = 0; r < ROUNDS; r++) {
    for (const n of COUNTS) {
      const before = heapMiB();
      const result = generateAll(n);
      if (r === 0) heap.set(n, heapMiB() - before);
      rounds.get(n).push(result);
      result.keep = undefined;
    }
  }
  const base = median(rounds.get(COUNTS[0]).map((x) => x.perProxyUs));
  log('');
  log('policies   context build   CPU µs per proxy   × 0 policies   resources   heap kept (snapshots)');
  for (const n of COUNTS) {
    const rs = rounds.get(n);
    const us = median(rs.map((x) => x.perProxyUs));
    log(`${String(n).padStart(8)}   ${`${Math.round(median(rs.map((x) => x.contextMs)))} ms`.padStart(13)}   ${us.toFixed(0).padStart(16)}   ${(us / base).toFixed(2).padStart(12)}   ${String(rs[0].resources).padStart(9)}   ${`${Math.round(heap.get(n))} MiB`.padStart(10)}`);
  }
  const most = COUNTS[COUNTS.length - 1];
  const ratio = median(rounds.get(most).map((x) => x.perProxyUs)) / base;
  log('');
  log(`${pass(ratio < TARGET_RATIO)} ${most} policies cost ${ratio.toFixed(2)}× the ${COUNTS[0]}-policy generation time per proxy (target < ${TARGET_RATIO}×)`);
}
