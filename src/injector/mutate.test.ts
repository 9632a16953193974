// mutatePod: the injector's decisions and the pod it produces, validated against the Kubernetes
// Pod schema (kubernetes-models) after applying the JSONPatch, and the Dataplane the sidecar would
// register validated against Skein's own rules.
import fastJsonPatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { fromWire, validateResource, type Resource } from '../api/index.js';
import { validateObject } from '../install/testdata/k8s-schema.js';
import { dataplaneTemplate, mutatePod, parseKubernetesVersion, supportsNativeSidecars, type InjectorOptions, type MutateResult } from './mutate.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const opts = (over: Partial<InjectorOptions> = {}): InjectorOptions => ({
  sidecarImage: 'docker.io/skeinmesh/skein:test',
  controlPlaneUrl: 'https://skein-control-plane.kuma-system.svc:5678',
  caCertPem: '-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n',
  namespace: 'shop',
  namespaceInjection: false,
  ...over,
});

function pod(labels: Record<string, string> = {}, annotations: Record<string, string> = {}): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: 'web-7d4b9c8f6-', namespace: 'shop', labels: { app: 'web', ...labels }, annotations },
    spec: { containers: [{ name: 'app', image: 'nginx', ports: [{ containerPort: 8080 }, { containerPort: 9090, protocol: 'UDP' }] }] },
  };
}

function applied(p: Obj, r: MutateResult): Obj {
  if (!r.allowed || !r.injected) throw new Error(`not injected: ${JSON.stringify(r)}`);
  return fastJsonPatch.applyPatch(structuredClone(p), r.patch as fastJsonPatch.Operation[], true).newDocument;
}

const v = (s: string) => parseKubernetesVersion(s);

describe('mutatePod', () => {
  it('Kubernetes 1.30: native sidecar (init container, restartPolicy Always, startup probe on the DP readiness)', async () => {
    const p = pod({ 'kuma.io/sidecar-injection': 'enabled' });
    const r = mutatePod(p, opts({ kubernetesVersion: v('v1.30.2') }));
    const out = applied(p, r);
    await validateObject(out);
    expect(out['spec']['initContainers'].map((c: Obj) => c['name'])).toEqual(['kuma-init', 'kuma-sidecar']);
    expect(out['spec']['containers'].map((c: Obj) => c['name'])).toEqual(['app']);
    const sidecar = out['spec']['initContainers'][1];
    expect(sidecar['restartPolicy']).toBe('Always');
    expect(sidecar['startupProbe']['httpGet']).toEqual({ path: '/ready', port: 9902 });
    expect(sidecar['args'].slice(0, 2)).toEqual(['dp', 'run']);
    const env = Object.fromEntries(sidecar['env'].map((e: Obj) => [e['name'], e['value']]));
    expect(env['KUMA_CONTROL_PLANE_URL']).toBe('https://skein-control-plane.kuma-system.svc:5678');
    expect(env['KUMA_CONTROL_PLANE_CA_CERT']).toContain('BEGIN CERTIFICATE');
    expect(env['KUMA_READINESS_PORT']).toBe('9902');
    expect(out['metadata']['annotations']).toMatchObject({ 'kuma.io/mesh': 'default', 'kuma.io/sidecar-injected': 'true' });
  });

  it('Kubernetes 1.28 (and unknown): classic sidecar container with a readiness probe', async () => {
    for (const version of [v('1.28'), undefined]) {
      const p = pod({ 'kuma.io/sidecar-injection': 'enabled' });
      const out = applied(p, mutatePod(p, opts({ kubernetesVersion: version })));
      await validateObject(out);
      expect(out['spec']['initContainers'].map((c: Obj) => c['name'])).toEqual(['kuma-init']);
      expect(out['spec']['containers'].map((c: Obj) => c['name'])).toEqual(['app', 'kuma-sidecar']);
      const sidecar = out['spec']['containers'][1];
      expect(sidecar['restartPolicy']).toBeUndefined();
      expect(sidecar['startupProbe']).toBeUndefined();
      expect(sidecar['readinessProbe']['httpGet']).toEqual({ path: '/ready', port: 9902 });
    }
    expect(supportsNativeSidecars(v('1.29'))).toBe(true);
    expect(supportsNativeSidecars(v('1.28+'))).toBe(false);
  });

  it('honours kuma.io/sidecar-injection on the pod over the namespace', () => {
    expect(mutatePod(pod(), opts())).toMatchObject({ allowed: true, injected: false });
    expect(mutatePod(pod(), opts({ namespaceInjection: true }))).toMatchObject({ allowed: true, injected: true });
    expect(mutatePod(pod({ 'kuma.io/sidecar-injection': 'disabled' }), opts({ namespaceInjection: true }))).toMatchObject({ allowed: true, injected: false });
    expect(mutatePod(pod({}, { 'kuma.io/sidecar-injection': 'false' }), opts({ namespaceInjection: true }))).toMatchObject({ allowed: true, injected: false });
    expect(mutatePod(pod({ 'kuma.io/sidecar-injection': 'yes' }), opts())).toEqual({ allowed: false, code: 422, message: 'kuma.io/sidecar-injection: unsupported value "yes", use enabled or disabled' });
    // Already injected (reinvocation): left alone.
    const p = pod({ 'kuma.io/sidecar-injection': 'enabled' });
    const once = applied(p, mutatePod(p, opts()));
    expect(mutatePod(once, opts())).toMatchObject({ allowed: true, injected: false, reason: 'the pod already has a sidecar' });
  });

  it('honours kuma.io/mesh and refuses a second mesh in a namespace when disallowed', () => {
    const p = pod({ 'kuma.io/sidecar-injection': 'enabled' }, { 'kuma.io/mesh': 'payments' });
    expect(mutatePod(p, opts())).toMatchObject({ injected: true, mesh: 'payments' });
    expect(mutatePod(p, opts({ meshesInNamespace: ['default'] }))).toMatchObject({ injected: true, mesh: 'payments' });
    expect(mutatePod(p, opts({ meshesInNamespace: ['payments'], disallowMultipleMeshesPerNamespace: true }))).toMatchObject({ injected: true });
    expect(mutatePod(p, opts({ meshesInNamespace: ['default'], disallowMultipleMeshesPerNamespace: true }))).toEqual({
      allowed: false,
      code: 403,
      message: 'namespace "shop" already has pods in mesh "default"; a pod in mesh "payments" is refused because runtime.kubernetes.disallowMultipleMeshesPerNamespace is on',
    });
    expect(mutatePod(pod({ 'kuma.io/sidecar-injection': 'enabled', 'kuma.io/mesh': 'BAD' }), opts())).toMatchObject({ allowed: false, code: 422 });
    // Zone proxies of several meshes share kuma-system.
    const zp = pod({ 'kuma.io/sidecar-injection': 'enabled', 'k8s.kuma.io/zone-proxy-type': 'ingress' }, { 'kuma.io/mesh': 'payments' });
    expect(mutatePod(zp, opts({ namespace: 'kuma-system', meshesInNamespace: ['default'], disallowMultipleMeshesPerNamespace: true }))).toMatchObject({ injected: true, zoneProxy: true });
  });

  it('the sidecar registers a valid Dataplane: inbounds from TCP container ports', () => {
    const dp = dataplaneTemplate(pod(), 'default', 'shop');
    const filled = YAML.parse(YAML.stringify(dp).replaceAll('{{ name }}', 'web-7d4b9c8f6-abcde').replaceAll('{{ address }}', '10.0.0.7'));
    const { resource, violations } = fromWire(filled);
    expect(violations).toEqual([]);
    expect(validateResource(resource as Resource, { mode: 'zone', zone: 'z', environment: 'kubernetes' })).toEqual([]);
    expect(filled['name']).toBe('web-7d4b9c8f6-abcde.shop');
    expect(filled['networking']['inbound']).toEqual([{ port: 8080, tags: { 'kuma.io/service': 'web_shop_svc_8080', 'kuma.io/protocol': 'tcp', 'k8s.kuma.io/namespace': 'shop' } }]);
  });

  it('zone proxy pods register a zone proxy Dataplane with the listener ports of their annotations', () => {
    const zp = pod({ 'k8s.kuma.io/zone-proxy-type': 'all' }, { 'skein.io/zone-ingress-port': '10001', 'skein.io/zone-egress-port': '10002' });
    const filled = YAML.parse(YAML.stringify(dataplaneTemplate(zp, 'default', 'kuma-system')).replaceAll('{{ name }}', 'zp-1').replaceAll('{{ address }}', '10.0.0.8'));
    const { resource, violations } = fromWire(filled);
    expect(violations).toEqual([]);
    expect(validateResource(resource as Resource, { mode: 'zone', zone: 'z', environment: 'kubernetes' })).toEqual([]);
    expect(filled['labels']).toMatchObject({ 'kuma.io/proxy-type': 'zoneproxy', 'kuma.io/zone-proxy-role': 'all' });
    expect(filled['networking']['listeners']).toEqual([
      { type: 'ZoneIngress', address: '10.0.0.8', port: 10001 },
      { type: 'ZoneEgress', address: '10.0.0.8', port: 10002 },
    ]);
  });
});

describe('mutatePod with init containers of the pod', () => {
  it('classic: kuma-init after the pod\'s init containers; native: proxy first', () => {
    const p = pod({ 'kuma.io/sidecar-injection': 'enabled' });
    p['spec']['initContainers'] = [{ name: 'migrate', image: 'migrate' }];
    expect(applied(p, mutatePod(p, opts({ kubernetesVersion: v('1.28') })))['spec']['initContainers'].map((c: Obj) => c['name'])).toEqual(['migrate', 'kuma-init']);
    expect(applied(p, mutatePod(p, opts({ kubernetesVersion: v('1.29') })))['spec']['initContainers'].map((c: Obj) => c['name'])).toEqual(['kuma-init', 'kuma-sidecar', 'migrate']);
  });
});
