// The sidecar injector webhook of a real control plane (`skein cp run --injector`), sent real
// AdmissionReview v1 requests over HTTPS, with TLS verified against the CA the control plane
// generated. Two control planes: one told Kubernetes 1.28 (classic sidecar), one 1.30 (native
// sidecar). Then the zone proxy pod that `skein install control-plane` renders is injected and the
// injected kuma-sidecar container is run as Kubernetes would run it: it must register its zone
// proxy Dataplane and turn ready on its readiness port.
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import fastJsonPatch from 'fast-json-patch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { api, runSkein, SKEIN_BIN, spawnNode, startCp, tempDir, waitFor, type RunningCp } from '../harness.js';
import { freePort, httpGet } from '../dp-harness.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Injector {
  cp: RunningCp;
  port: number;
  ca: string;
}

async function startInjectorCp(k8sVersion: string): Promise<Injector> {
  const dpPort = await freePort();
  const cp = await startCp({
    dpPort,
    args: [
      '--auth', 'none',
      '--injector',
      '--injector-port', '0',
      '--injector-address', '127.0.0.1',
      '--k8s-version', k8sVersion,
      '--disallow-multiple-meshes-per-namespace',
      '--injector-cp-url', `https://127.0.0.1:${dpPort}`,
      '--injector-sidecar-image', 'docker.io/skeinmesh/skein:e2e',
    ],
  });
  const ready = cp.logs().split('\n').find((l) => l.includes('control plane ready'))!;
  const port = (JSON.parse(ready) as { injectorPort: number }).injectorPort;
  return { cp, port, ca: fs.readFileSync(path.join(cp.workDir, 'injector-ca.crt'), 'utf8') };
}

/** `ca: null` = the system roots only. */
function post(inj: Injector, urlPath: string, body: unknown, ca: string | null = inj.ca): Promise<{ status: number; body: Obj }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = https.request(
      { host: '127.0.0.1', port: inj.port, path: urlPath, method: 'POST', ca: ca ?? undefined, agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Obj }));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

let uid = 0;
function review(pod: Obj, namespace: string): Obj {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `uid-${++uid}`,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace,
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object: pod,
      dryRun: false,
    },
  };
}

function appPod(mesh?: string): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: 'web-5d8f7-', labels: { app: 'web', 'kuma.io/sidecar-injection': 'enabled' }, annotations: mesh ? { 'kuma.io/mesh': mesh } : {} },
    spec: { containers: [{ name: 'app', image: 'nginx', ports: [{ containerPort: 8080 }] }] },
  };
}

function patched(pod: Obj, response: Obj): Obj {
  expect(response['patchType']).toBe('JSONPatch');
  const ops = JSON.parse(Buffer.from(response['patch'], 'base64').toString('utf8')) as fastJsonPatch.Operation[];
  return fastJsonPatch.applyPatch(structuredClone(pod), ops, true).newDocument;
}

let k128: Injector;
let k130: Injector;
const children: { kill(): void; exitCode: number | null }[] = [];

beforeAll(async () => {
  [k128, k130] = await Promise.all([startInjectorCp('1.28'), startInjectorCp('v1.30.2')]);
}, 60_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill();
  await Promise.all([k128?.cp.stop(), k130?.cp.stop()]);
});

describe('injector webhook over HTTPS', () => {
  it('serves TLS that verifies against the generated CA only', async () => {
    const res = await post(k130, '/inject-sidecar', review(appPod(), 'shop'));
    expect(res.status).toBe(200);
    await expect(post(k130, '/inject-sidecar', review(appPod(), 'shop'), null)).rejects.toThrow(/self[- ]signed|unable to verify/);
    // The 1.28 CP has its own CA: it does not vouch for the 1.30 CP.
    await expect(post(k130, '/inject-sidecar', review(appPod(), 'shop'), k128.ca)).rejects.toThrow(/self[- ]signed|unable to verify|signature/);
  });

  it('Kubernetes 1.28: classic sidecar container', async () => {
    const pod = appPod();
    const res = await post(k128, '/inject-sidecar', review(pod, 'k128'));
    expect(res.body).toMatchObject({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: `uid-${uid}`, allowed: true } });
    const out = patched(pod, res.body['response']);
    expect(out['spec']['containers'].map((c: Obj) => c['name'])).toEqual(['app', 'kuma-sidecar']);
    expect(out['spec']['initContainers'].map((c: Obj) => c['name'])).toEqual(['kuma-init']);
    expect(out['spec']['containers'][1]['restartPolicy']).toBeUndefined();
    expect(out['spec']['containers'][1]['image']).toBe('docker.io/skeinmesh/skein:e2e');
  });

  it('Kubernetes 1.30: native sidecar (init container, restartPolicy Always, startup probe)', async () => {
    const pod = appPod();
    const res = await post(k130, '/inject-sidecar', review(pod, 'k130'));
    const out = patched(pod, res.body['response']);
    expect(out['spec']['containers'].map((c: Obj) => c['name'])).toEqual(['app']);
    const sidecar = out['spec']['initContainers'].find((c: Obj) => c['name'] === 'kuma-sidecar');
    expect(sidecar['restartPolicy']).toBe('Always');
    expect(sidecar['startupProbe']['httpGet']).toEqual({ path: '/ready', port: 9902 });
  });

  it('namespace opt-in path, pod opt-out, non-pods and bad requests', async () => {
    const plain = appPod();
    delete plain['metadata']['labels']['kuma.io/sidecar-injection'];
    expect((await post(k130, '/inject-sidecar', review(plain, 'ns1'))).body['response']).toEqual({ uid: `uid-${uid}`, allowed: true });
    expect((await post(k130, '/inject-sidecar/namespace', review(plain, 'ns1'))).body['response']['patchType']).toBe('JSONPatch');
    const optOut = appPod();
    optOut['metadata']['annotations']['kuma.io/sidecar-injection'] = 'disabled';
    expect((await post(k130, '/inject-sidecar/namespace', review(optOut, 'ns1'))).body['response']).toEqual({ uid: `uid-${uid}`, allowed: true });
    const svc = review({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' } }, 'ns1');
    svc['request']['kind'] = { group: '', version: 'v1', kind: 'Service' };
    expect((await post(k130, '/inject-sidecar', svc)).body['response']).toEqual({ uid: `uid-${uid}`, allowed: true });
    const bad = await post(k130, '/inject-sidecar', { apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'x' } });
    expect(bad).toEqual({ status: 400, body: { error: 'expected an admission.k8s.io/v1 AdmissionReview' } });
  });

  it('refuses a second mesh in a namespace (pods admitted earlier, and Dataplanes in the store)', async () => {
    expect((await post(k130, '/inject-sidecar', review(appPod('default'), 'team-a'))).body['response']['allowed']).toBe(true);
    const refused = (await post(k130, '/inject-sidecar', review(appPod('payments'), 'team-a'))).body['response'];
    expect(refused).toEqual({
      uid: `uid-${uid}`,
      allowed: false,
      status: { code: 403, message: 'namespace "team-a" already has pods in mesh "default"; a pod in mesh "payments" is refused because runtime.kubernetes.disallowMultipleMeshesPerNamespace is on' },
    });
    // A namespace whose pods this CP never saw, but whose Dataplanes are in the store.
    expect((await api(k130.cp.apiUrl, 'PUT', '/meshes/payments', { type: 'Mesh', name: 'payments' })).status).toBeLessThan(300);
    const dp = { type: 'Dataplane', mesh: 'payments', name: 'db-1.team-b', labels: { 'k8s.kuma.io/namespace': 'team-b' }, networking: { address: '10.0.0.9', inbound: [{ port: 5432, tags: { 'kuma.io/service': 'db_team-b_svc_5432' } }] } };
    expect((await api(k130.cp.apiUrl, 'PUT', '/meshes/payments/dataplanes/db-1.team-b', dp)).status).toBeLessThan(300);
    const refusedB = (await post(k130, '/inject-sidecar', review(appPod('default'), 'team-b'))).body['response'];
    expect(refusedB['status']['message']).toContain('namespace "team-b" already has pods in mesh "payments"');
    expect((await post(k130, '/inject-sidecar', review(appPod('payments'), 'team-b'))).body['response']['allowed']).toBe(true);
    // Zone proxies of every mesh share the system namespace: never refused.
    for (const mesh of ['default', 'payments']) {
      const zp = appPod(mesh);
      zp['metadata']['labels']['k8s.kuma.io/zone-proxy-type'] = 'ingress';
      expect((await post(k130, '/inject-sidecar', review(zp, 'zp-system'))).body['response']['allowed']).toBe(true);
    }
  });

  it('the injected zone proxy sidecar, run as Kubernetes would, registers its Dataplane and turns ready', async () => {
    // The zone proxy pod template exactly as `skein install control-plane` renders it.
    const install = await runSkein(['install', 'control-plane']);
    expect(install.code).toBe(0);
    const deployment = YAML.parseAllDocuments(install.stdout).map((d) => d.toJSON() as Obj).find((o) => o['kind'] === 'Deployment' && o['metadata']['name'] === 'skein-default-zoneproxy')!;
    const [ingressPort, egressPort, readinessPort] = [await freePort(), await freePort(), await freePort()];
    const template = deployment['spec']['template'];
    const pod: Obj = { apiVersion: 'v1', kind: 'Pod', metadata: { ...template['metadata'], generateName: 'skein-default-zoneproxy-6c9f-' }, spec: template['spec'] };
    // Free ports on this shared machine instead of 10001/10002 (a pod has its own network).
    pod['metadata']['annotations'] = { ...pod['metadata']['annotations'], 'skein.io/zone-ingress-port': String(ingressPort), 'skein.io/zone-egress-port': String(egressPort) };
    const res = await post(k130, '/inject-sidecar', review(pod, 'kuma-system'));
    const out = patched(pod, res.body['response']);
    const sidecar = out['spec']['initContainers'].find((c: Obj) => c['name'] === 'kuma-sidecar');
    expect(sidecar['command']).toEqual(['skein']);

    // What the kubelet does: fieldRef env, then $(VAR) expansion in args.
    const podName = 'skein-default-zoneproxy-6c9f-x2x7q';
    const fieldRefs: Record<string, string> = { 'metadata.name': podName, 'metadata.namespace': 'kuma-system', 'status.podIP': '127.0.0.1' };
    const env: Record<string, string> = {};
    for (const e of sidecar['env'] as Obj[]) env[e['name']] = e['value'] ?? fieldRefs[e['valueFrom']['fieldRef']['fieldPath']];
    // Differences from a pod: the token file (no ServiceAccount here; the CP runs --auth none),
    // the work dir and the readiness port (this machine is shared).
    const dir = tempDir('injected');
    fs.writeFileSync(path.join(dir, 'token'), 'unused');
    Object.assign(env, { KUMA_DATAPLANE_RUNTIME_TOKEN_PATH: path.join(dir, 'token'), SKEIN_DP_WORK_DIR: path.join(dir, 'work'), KUMA_READINESS_PORT: String(readinessPort) });
    const args = (sidecar['args'] as string[]).map((a) => a.replace(/\$\(([A-Z_]+)\)/g, (_, k: string) => env[k] ?? ''));
    const proc = spawnNode([SKEIN_BIN, ...args], { env: { PATH: process.env['PATH'], ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(proc);
    let logs = '';
    proc.stderr!.on('data', (d: Buffer) => (logs += d.toString()));

    const ready = await waitFor(async () => (await httpGet(readinessPort, '/ready').catch(() => ({ status: 0, body: '' }))).status === 200, { timeoutMs: 20_000, what: `readiness of the injected sidecar\n${logs}` });
    expect(ready).toBe(true);
    const dpRes = await api(k130.cp.apiUrl, 'GET', `/meshes/default/dataplanes/${podName}.kuma-system`);
    expect(dpRes.status).toBe(200);
    expect(dpRes.body).toMatchObject({
      labels: { 'kuma.io/proxy-type': 'zoneproxy', 'kuma.io/zone-proxy-role': 'all', 'k8s.kuma.io/namespace': 'kuma-system' },
      networking: { address: '127.0.0.1', listeners: [{ type: 'ZoneIngress', port: ingressPort }, { type: 'ZoneEgress', port: egressPort }] },
    });
    proc.kill('SIGTERM');
  }, 40_000);
});
