// `skein install control-plane` as a user runs it: values files and --set, manifests on stdout,
// clear errors on bad values. The generated CA must really sign the webhook certificate.
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { spawnSync } from 'node:child_process';
import https from 'node:https';
import { REPO_ROOT, runSkein, SKEIN_BIN, startCp, tempDir } from '../harness.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const TESTDATA = path.join(REPO_ROOT, 'src', 'install', 'testdata');

function parse(stdout: string): Obj[] {
  return YAML.parseAllDocuments(stdout).map((d) => {
    expect(d.errors).toEqual([]);
    return d.toJSON() as Obj;
  });
}

const find = (objs: Obj[], kind: string, name: string) => objs.find((o) => o['kind'] === kind && o['metadata']['name'] === name);

describe('skein install control-plane', () => {
  it('prints CRDs, the control plane, the injector webhook with a CA bundle that signs its certificate, and zone proxies', async () => {
    const res = await runSkein(['install', 'control-plane', '--values', path.join(TESTDATA, 'several-meshes.values.yaml'), '--set', 'meshes[0].role=separate']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const objs = parse(res.stdout);
    const crds = objs.filter((o) => o['kind'] === 'CustomResourceDefinition').map((o) => o['metadata']['name']);
    expect(crds).toEqual(expect.arrayContaining(['meshes.kuma.io', 'dataplanes.kuma.io', 'meshtrafficpermissions.kuma.io', 'meshexternalservices.kuma.io']));
    expect(find(objs, 'Namespace', 'kuma-system')).toBeDefined();
    for (const [kind, name] of [['Deployment', 'skein-control-plane'], ['Service', 'skein-control-plane'], ['ClusterRole', 'skein-control-plane'], ['ClusterRoleBinding', 'skein-control-plane'], ['ConfigMap', 'skein-control-plane-config'], ['ServiceAccount', 'skein-control-plane']]) {
      expect(find(objs, kind!, name!), `${kind} ${name}`).toBeDefined();
    }
    // --set turned payments into role separate; orders and analytics as in the file.
    for (const name of ['skein-payments-ingress', 'skein-payments-egress', 'skein-orders-zoneproxy', 'skein-analytics-zoneproxy']) {
      expect(find(objs, 'Deployment', name), name).toBeDefined();
      expect(find(objs, 'Service', name), name).toBeDefined();
    }

    const webhook = find(objs, 'MutatingWebhookConfiguration', 'skein-admission-mutating-webhook-configuration')!;
    const secret = find(objs, 'Secret', 'skein-tls-cert')!;
    const caPem = Buffer.from(webhook['webhooks'][0]['clientConfig']['caBundle'], 'base64').toString('utf8');
    expect(Buffer.from(secret['data']['ca.crt'], 'base64').toString('utf8')).toBe(caPem);
    const ca = new X509Certificate(caPem);
    const cert = new X509Certificate(Buffer.from(secret['data']['tls.crt'], 'base64'));
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.checkHost('skein-control-plane.kuma-system.svc')).toBe('skein-control-plane.kuma-system.svc');
    expect(webhook['webhooks'][0]['clientConfig']['service']).toMatchObject({ name: 'skein-control-plane', namespace: 'kuma-system', port: 443 });

    // Each run generates its own CA; --release-name and --namespace name the objects.
    const again = parse((await runSkein(['install', 'control-plane', '--release-name', 'mesh', '--namespace', 'mesh-system'])).stdout);
    expect(find(again, 'Secret', 'mesh-tls-cert')!['data']['ca.crt']).not.toBe(secret['data']['ca.crt']);
    expect(find(again, 'Deployment', 'mesh-default-zoneproxy')!['metadata']['namespace']).toBe('mesh-system');
    expect(find(again, 'Deployment', 'mesh-control-plane')!['metadata']['namespace']).toBe('mesh-system');
  });

  it('the rendered config and certificates start a real control plane whose webhook the caBundle verifies', async () => {
    const res = await runSkein(['install', 'control-plane', '--set', 'runtime.kubernetes.serverVersion=1.30']);
    const objs = parse(res.stdout);
    const secret = find(objs, 'Secret', 'skein-tls-cert')!;
    const caBundle = Buffer.from(find(objs, 'MutatingWebhookConfiguration', 'skein-admission-mutating-webhook-configuration')!['webhooks'][0]['clientConfig']['caBundle'], 'base64').toString('utf8');
    // The pod's mounts, as directories of this machine.
    const dir = tempDir('installed-cp');
    const tlsDir = path.join(dir, 'tls');
    fs.mkdirSync(tlsDir);
    for (const [k, v] of Object.entries(secret['data'] as Record<string, string>)) fs.writeFileSync(path.join(tlsDir, k), Buffer.from(v, 'base64'));
    const configYaml = (find(objs, 'ConfigMap', 'skein-control-plane-config')!['data']['config.yaml'] as string).replaceAll('/var/run/secrets/skein/tls', tlsDir).replaceAll('/var/lib/skein', dir);
    fs.writeFileSync(path.join(dir, 'config.yaml'), configYaml);
    const cp = await startCp({ args: ['-c', path.join(dir, 'config.yaml'), '--injector-port', '0', '--injector-address', '127.0.0.1'] });
    try {
      const ready = JSON.parse(cp.logs().split('\n').find((l) => l.includes('control plane ready'))!) as { injectorPort: number; mode: string };
      expect(ready.mode).toBe('zone');
      const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', labels: { 'kuma.io/sidecar-injection': 'enabled' } }, spec: { containers: [{ name: 'app', image: 'nginx' }] } };
      const body = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u1', kind: { group: '', version: 'v1', kind: 'Pod' }, namespace: 'shop', operation: 'CREATE', object: pod } });
      // As the API server dials it: the Service's DNS name, verified with the caBundle.
      const reply = await new Promise<Obj>((resolve, reject) => {
        const req = https.request({ host: '127.0.0.1', servername: 'skein-control-plane.kuma-system.svc', port: ready.injectorPort, path: '/inject-sidecar', method: 'POST', ca: caBundle, agent: false }, (r) => {
          let text = '';
          r.on('data', (d: Buffer) => (text += d.toString()));
          r.on('end', () => resolve(JSON.parse(text) as Obj));
        });
        req.on('error', reject);
        req.end(body);
      });
      const patch = JSON.parse(Buffer.from(reply['response']['patch'], 'base64').toString('utf8')) as Obj[];
      const init = patch.find((op) => op['path'] === '/spec/initContainers')!['value'] as Obj[];
      const sidecar = init.find((c) => c['name'] === 'kuma-sidecar')!;
      expect(sidecar['restartPolicy']).toBe('Always');
      expect(sidecar['image']).toMatch(/^docker\.io\/skeinmesh\/skein:/);
      const env = Object.fromEntries((sidecar['env'] as Obj[]).map((e) => [e['name'], e['value']]));
      expect(env['KUMA_CONTROL_PLANE_URL']).toBe('https://skein-control-plane.kuma-system.svc:5678');
      expect(env['KUMA_CONTROL_PLANE_CA_CERT']).toBe(caBundle);
    } finally {
      await cp.stop();
    }
  });

  it('fails with a clear message on bad values', async () => {
    const dir = tempDir('install');
    const file = path.join(dir, 'values.yaml');
    fs.writeFileSync(file, 'meshes:\n  - name: a\n    role: sideways\n    replicas: two\n');
    const [global, bad] = await Promise.all([
      runSkein(['install', 'control-plane', '--values', path.join(TESTDATA, 'global-mode.values.yaml')]),
      runSkein(['install', 'control-plane', '-f', file, '--set', 'controlPlane.injector.port=0']),
    ]);
    expect(global.code).toBe(1);
    expect(global.stdout).toBe('');
    expect(global.stderr).toBe('Error: meshes[default]: mesh-scoped zone proxies require controlPlane.mode=zone\n');

    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('meshes[0].role: must be one of all, ingress, egress, separate');
    expect(bad.stderr).toContain('meshes[0].replicas: must be integer');
    expect(bad.stderr).toContain('controlPlane.injector.port: must be >= 1');
  });
});

// What the injected kuma-init runs, applied for real in a fresh network namespace (root + iptables).
const canNetns = process.getuid?.() === 0 && spawnSync('iptables-restore', ['--version']).status === 0 && spawnSync('ip', ['-V']).status === 0;
describe.skipIf(!canNetns)('skein install transparent-proxy', () => {
  it('installs the redirect rules kuma-init asks for', () => {
    const ns = `skein-tp-${process.pid}`;
    expect(spawnSync('ip', ['netns', 'add', ns]).status).toBe(0);
    try {
      const args = ['install', 'transparent-proxy', '--redirect-inbound-port', '15006', '--redirect-outbound-port', '15001', '--kuma-dp-uid', '5678', '--exclude-inbound-ports', '9902'];
      const res = spawnSync('ip', ['netns', 'exec', ns, process.execPath, SKEIN_BIN, ...args], { encoding: 'utf8' });
      expect(res.stderr).toBe('');
      expect(res.status).toBe(0);
      const rules = spawnSync('ip', ['netns', 'exec', ns, 'iptables', '-t', 'nat', '-S'], { encoding: 'utf8' }).stdout;
      expect(rules).toContain('-A SKEIN_INBOUND -p tcp -m tcp --dport 9902 -j RETURN');
      expect(rules).toContain('-A SKEIN_INBOUND -p tcp -j REDIRECT --to-ports 15006');
      expect(rules).toContain('-A SKEIN_OUTBOUND -m owner --uid-owner 5678 -j RETURN');
      expect(rules).toContain('-A SKEIN_OUTBOUND -p tcp -j REDIRECT --to-ports 15001');
    } finally {
      spawnSync('ip', ['netns', 'del', ns]);
    }
  });
});
