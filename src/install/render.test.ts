// Golden manifests: each testdata/<case>.values.yaml renders to testdata/<case>.golden.yaml (or fails
// with testdata/<case>.error.golden). CRDs are left out of the goldens: they follow the registered
// kinds, not the values, and crds.test.ts covers them. UPDATE_GOLDEN=1 rewrites the files.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { renderObjects, toYaml } from './render.js';
import { FIXED_CERTS, TESTDATA, valuesCases } from './testdata/cases.js';
import { defaultValues, loadValues, ValuesError } from './values.js';
import { meshObjectName } from './names.js';

const update = process.env['UPDATE_GOLDEN'] === '1';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function render(file: string, sets: string[] = []): Promise<Obj[]> {
  return (await renderObjects(loadValues({ files: [file], sets }), { certs: FIXED_CERTS })) as Obj[];
}

function golden(file: string, actual: string): void {
  if (update || !fs.existsSync(file)) fs.writeFileSync(file, actual);
  expect(actual).toBe(fs.readFileSync(file, 'utf8'));
}

const find = (objs: Obj[], kind: string, name: string) => objs.find((o) => o['kind'] === kind && o['metadata']['name'] === name);

describe('install control-plane goldens', () => {
  for (const c of valuesCases()) {
    it(c, async () => {
      const valuesFile = path.join(TESTDATA, `${c}.values.yaml`);
      let objects: Obj[];
      try {
        objects = await render(valuesFile);
      } catch (err) {
        if (!(err instanceof ValuesError)) throw err;
        golden(path.join(TESTDATA, `${c}.error.golden`), `${err.message}\n`);
        return;
      }
      expect(fs.existsSync(path.join(TESTDATA, `${c}.error.golden`))).toBe(false);
      golden(path.join(TESTDATA, `${c}.golden.yaml`), toYaml(objects.filter((o) => o['kind'] !== 'CustomResourceDefinition')));
    });
  }
});

describe('install control-plane values', () => {
  it('role all: one Deployment and one Service <release>-<mesh>-zoneproxy with both listeners, ingress LoadBalancer', async () => {
    const objs = await render(path.join(TESTDATA, 'single-mesh.values.yaml'));
    const svc = find(objs, 'Service', 'skein-default-zoneproxy')!;
    expect(svc['metadata']['namespace']).toBe('kuma-system');
    expect(svc['spec']['type']).toBe('LoadBalancer');
    expect(svc['spec']['ports'].map((p: Obj) => [p['port'], p['targetPort']])).toEqual([[10001, 10001], [10002, 10002]]);
    const deployments = objs.filter((o) => o['kind'] === 'Deployment').map((o) => o['metadata']['name']);
    expect(deployments).toEqual(['skein-control-plane', 'skein-default-zoneproxy']);
    const cm = find(objs, 'ConfigMap', 'skein-control-plane-config')!;
    expect(YAML.parse(cm['data']['config.yaml'])['defaults']).toEqual({ skipMeshCreation: true });
    expect(find(objs, 'Mesh', 'default')).toBeDefined();
  });

  it('role separate: ingress LoadBalancer on 10001, egress ClusterIP on 10002', async () => {
    const objs = await render(path.join(TESTDATA, 'separate-roles.values.yaml'));
    const ing = find(objs, 'Service', 'skein-default-ingress')!;
    const eg = find(objs, 'Service', 'skein-default-egress')!;
    expect([ing['spec']['type'], ing['spec']['ports'][0]['port']]).toEqual(['LoadBalancer', 10001]);
    expect([eg['spec']['type'], eg['spec']['ports'][0]['port']]).toEqual(['ClusterIP', 10002]);
    // HPA on ingress (replicas left to it), none on egress (hpa.enabled overridden per role).
    expect(find(objs, 'HorizontalPodAutoscaler', 'skein-default-ingress')!['spec']['minReplicas']).toBe(3);
    expect(find(objs, 'Deployment', 'skein-default-ingress')!['spec']['replicas']).toBeUndefined();
    expect(find(objs, 'HorizontalPodAutoscaler', 'skein-default-egress')).toBeUndefined();
    expect(find(objs, 'Deployment', 'skein-default-egress')!['spec']['replicas']).toBe(2);
    expect(find(objs, 'PodDisruptionBudget', 'skein-default-egress')).toBeDefined();
  });

  it('names stay ≤ 63 characters and distinct for long mesh names', async () => {
    const objs = await render(path.join(TESTDATA, 'long-mesh-names.values.yaml'));
    const names = objs.filter((o) => ['Deployment', 'Service'].includes(o['kind']) && o['metadata']['name'] !== 'skein-control-plane').map((o) => `${o['kind']}/${o['metadata']['name']}`);
    expect(names).toHaveLength(8);
    expect(new Set(names).size).toBe(8);
    for (const n of names) expect(n.split('/')[1]!.length).toBeLessThanOrEqual(63);
    for (const n of names) expect(n.split('/')[1]).toMatch(/^[a-z]([-a-z0-9]*[a-z0-9])?$/);
    // Federated: no Mesh objects.
    expect(objs.filter((o) => o['kind'] === 'Mesh')).toEqual([]);
  });

  it('meshObjectName: short names are kept, long ones get a hash and keep their role', () => {
    expect(meshObjectName('skein', 'default', 'zoneproxy')).toBe('skein-default-zoneproxy');
    const a = meshObjectName('skein', 'x'.repeat(100) + 'a', 'ingress');
    const b = meshObjectName('skein', 'x'.repeat(100) + 'b', 'ingress');
    expect(a).not.toBe(b);
    expect(a.length).toBeLessThanOrEqual(63);
    expect(a).toMatch(/^skein-x+-[0-9a-f]{8}-ingress$/);
    expect(meshObjectName('skein', 'a.b', 'egress')).toMatch(/^skein-a-b-[0-9a-f]{8}-egress$/);
  });

  it('per-mesh namespace: objects and a Namespace for it; others stay in kuma-system', async () => {
    const objs = await render(path.join(TESTDATA, 'per-mesh-namespace.values.yaml'));
    expect(find(objs, 'Deployment', 'skein-team-a-zoneproxy')!['metadata']['namespace']).toBe('team-a-system');
    expect(find(objs, 'Deployment', 'skein-team-b-zoneproxy')!['metadata']['namespace']).toBe('kuma-system');
    expect(find(objs, 'Service', 'skein-team-c-egress')!['metadata']['namespace']).toBe('team-c-system');
    expect(objs.filter((o) => o['kind'] === 'Namespace').map((o) => o['metadata']['name'])).toEqual(['kuma-system', 'team-a-system', 'team-c-system']);
  });

  it('--set overrides files, typed like Helm', async () => {
    const objs = await render(path.join(TESTDATA, 'single-mesh.values.yaml'), ['meshes[0].role=egress,meshes[0].replicas=3', 'meshZoneProxyDefaults.egress.service.port=20002']);
    const d = find(objs, 'Deployment', 'skein-default-zoneproxy')!;
    expect(d['spec']['replicas']).toBe(3);
    expect(find(objs, 'Service', 'skein-default-zoneproxy')!['spec']['ports']).toEqual([{ name: 'zone-egress', protocol: 'TCP', port: 20002, targetPort: 10002 }]);
  });

  it('service settings: defaults < mesh < role block; the target port stays the listener port', async () => {
    const objs = await render(path.join(TESTDATA, 'single-mesh.values.yaml'), [
      'meshZoneProxyDefaults.service.annotations.a=defaults,meshZoneProxyDefaults.service.annotations.b=defaults',
      'meshes[0].role=separate,meshes[0].service.annotations.b=mesh,meshes[0].service.type=NodePort',
      'meshes[0].egress.service.type=ClusterIP,meshes[0].egress.service.port=20002',
    ]);
    const ing = find(objs, 'Service', 'skein-default-ingress')!;
    const eg = find(objs, 'Service', 'skein-default-egress')!;
    expect(ing['metadata']['annotations']).toEqual({ a: 'defaults', b: 'mesh' });
    expect([ing['spec']['type'], eg['spec']['type']]).toEqual(['NodePort', 'ClusterIP']);
    expect(eg['spec']['ports'][0]).toMatchObject({ port: 20002, targetPort: 10002 });
    expect(() => loadValues({ sets: ['meshes[0].service.targetPort=1'] })).toThrow('meshes[0].service.targetPort: unknown field');
  });

  it('role blocks that would be ignored are errors; role all takes both ports', async () => {
    const file = path.join(TESTDATA, 'single-mesh.values.yaml');
    await expect(render(file, ['meshes[0].ingress.replicas=2'])).rejects.toThrow('meshes[0].ingress.replicas: with role all only ingress.service.port can be set per role; set it on the mesh entry');
    await expect(render(file, ['meshes[0].role=ingress', 'meshes[0].egress.replicas=2'])).rejects.toThrow('meshes[0].egress: the mesh has no egress zone proxy (role ingress)');
    const objs = await render(file, ['meshes[0].ingress.service.port=443', 'meshes[0].egress.service.port=8443']);
    expect(find(objs, 'Service', 'skein-default-zoneproxy')!['spec']['ports'].map((p: Obj) => [p['port'], p['targetPort']])).toEqual([[443, 10001], [8443, 10002]]);
  });

  it('several control plane replicas need PostgreSQL', async () => {
    const file = path.join(TESTDATA, 'single-mesh.values.yaml');
    await expect(render(file, ['controlPlane.replicas=2'])).rejects.toThrow('controlPlane.replicas: 2 replicas need a shared store; set controlPlane.envVars.KUMA_STORE_TYPE=postgres and SKEIN_STORE_POSTGRES_URL');
    const objs = await render(file, ['controlPlane.replicas=2', 'controlPlane.envVars.KUMA_STORE_TYPE=postgres', 'controlPlane.envVars.SKEIN_STORE_POSTGRES_URL=postgres://db:5432/skein']);
    const cp = find(objs, 'Deployment', 'skein-control-plane')!;
    expect(cp['spec']['replicas']).toBe(2);
    expect(cp['spec']['template']['spec']['containers'][0]['env']).toEqual([
      { name: 'KUMA_STORE_TYPE', value: 'postgres' },
      { name: 'SKEIN_STORE_POSTGRES_URL', value: 'postgres://db:5432/skein' },
    ]);
  });

  it('mode global with zone proxies is a clear error', async () => {
    await expect(render(path.join(TESTDATA, 'global-mode.values.yaml'))).rejects.toThrow('meshes[default]: mesh-scoped zone proxies require controlPlane.mode=zone');
  });

  it('bad values name the field and the rule', () => {
    const bad = (sets: string[]) => () => loadValues({ sets });
    expect(bad(['meshes[0].role=both'])).toThrow('meshes[0].role: must be one of all, ingress, egress, separate');
    expect(bad(['meshes[0].replicas=-1'])).toThrow('meshes[0].replicas: must be >= 0');
    expect(bad(['meshes[1].role=all'])).toThrow('meshes[1].name: is required');
    expect(bad(['meshes[0].service.port=70000'])).toThrow('meshes[0].service.port: must be <= 65535');
    expect(bad(['meshes[0].namespace=Bad_NS'])).toThrow('meshes[0].namespace: must be a DNS-1123 label');
    expect(bad(['meshes[0].nmae=x'])).toThrow('meshes[0].nmae: unknown field');
    expect(bad(['meshes[0].role=all', 'meshes[0].ingress.enabled=true'])).toThrow("meshes[0]: set either role or ingress.enabled/egress.enabled (Kuma's shape), not both");
    expect(bad(['meshes[1].name=default'])).toThrow('meshes[1].name: mesh "default" is listed twice');
    expect(() => loadValues({ files: ['/nonexistent/values.yaml'] })).toThrow('--values /nonexistent/values.yaml: ENOENT');
  });

  it('deploy/values.yaml documents exactly the defaults', () => {
    const file = path.join(TESTDATA, '..', '..', '..', 'deploy', 'values.yaml');
    const doc = YAML.parse(fs.readFileSync(file, 'utf8')) as Obj;
    const defaults = defaultValues() as unknown as Obj;
    // The image tags follow the release; the file says so in a comment.
    doc['controlPlane']['image']['tag'] = defaults['controlPlane']['image']['tag'];
    doc['dataPlane']['image']['tag'] = defaults['dataPlane']['image']['tag'];
    expect(doc).toEqual(defaults);
  });
});
