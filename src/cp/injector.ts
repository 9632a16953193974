// Control plane side of the sidecar injector: certificates (given, or a CA + certificate generated
// in the work dir), the Kubernetes version (configured, else asked from the API server), and the
// namespace → meshes lookup for `disallowMultipleMeshesPerNamespace`, which combines the
// Dataplanes in the store labelled `k8s.kuma.io/namespace` with the pods this process injected
// (their Dataplanes appear only once their sidecar starts). Zone proxies do not count: every mesh's
// zone proxies share the system namespace.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CpConfig } from '../config/config.js';
import type { ResourceStore } from '../store/store.js';
import type { Logger } from '../observability/logger.js';
import { generateWebhookCerts, type WebhookCerts } from '../injector/certs.js';
import { fetchServerVersion } from '../injector/kube-version.js';
import { parseKubernetesVersion, type KubernetesVersion } from '../injector/mutate.js';
import { startInjectorServer, type InjectorServer } from '../injector/server.js';

export const INJECTOR_CA_FILE = 'injector-ca.crt';
export const INJECTOR_CERT_FILE = 'injector.crt';
export const INJECTOR_KEY_FILE = 'injector.key';

async function loadCerts(config: CpConfig, logger: Logger): Promise<Pick<WebhookCerts, 'certPem' | 'keyPem'>> {
  const inj = config.runtime.kubernetes.injector;
  if (inj.certFile) return { certPem: fs.readFileSync(inj.certFile, 'utf8'), keyPem: fs.readFileSync(inj.keyFile, 'utf8') };
  const files = [INJECTOR_CA_FILE, INJECTOR_CERT_FILE, INJECTOR_KEY_FILE].map((f) => path.join(config.workDir, f));
  if (files.every((f) => fs.existsSync(f))) return { certPem: fs.readFileSync(files[1]!, 'utf8'), keyPem: fs.readFileSync(files[2]!, 'utf8') };
  const hosts = ['localhost', '127.0.0.1', '::1', os.hostname()];
  if (!['', '0.0.0.0', '::'].includes(inj.interface)) hosts.push(inj.interface);
  const certs = await generateWebhookCerts([...new Set(hosts)]);
  fs.mkdirSync(config.workDir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(files[0]!, certs.caCertPem, { mode: 0o644 });
  fs.writeFileSync(files[1]!, certs.certPem, { mode: 0o600 });
  fs.writeFileSync(files[2]!, certs.keyPem, { mode: 0o600 });
  logger.info({ caFile: files[0] }, 'generated a CA and certificate for the injector webhook; put the CA in the webhook caBundle');
  return certs;
}

async function kubernetesVersion(config: CpConfig, logger: Logger): Promise<KubernetesVersion | undefined> {
  const configured = config.runtime.kubernetes.serverVersion;
  if (configured) return parseKubernetesVersion(configured);
  try {
    const v = await fetchServerVersion();
    if (v) logger.info({ version: `${v.major}.${v.minor}` }, 'Kubernetes version reported by the API server');
    else logger.warn('Kubernetes version unknown (not in a cluster and --k8s-version unset): injecting classic sidecars');
    return v;
  } catch (err) {
    logger.warn({ err: (err as Error).message }, 'could not ask the API server its version: injecting classic sidecars');
    return undefined;
  }
}

export async function startInjector(config: CpConfig, store: ResourceStore, dpPort: number, dpCaCertPem: string, logger: Logger): Promise<InjectorServer> {
  const inj = config.runtime.kubernetes.injector;
  const certs = await loadCerts(config, logger);
  const version = await kubernetesVersion(config, logger);
  const injected = new Map<string, Set<string>>(); // namespace → meshes of pods injected here
  return startInjectorServer({
    port: inj.port,
    host: inj.interface,
    certPem: certs.certPem,
    keyPem: certs.keyPem,
    kubernetesVersion: () => version,
    injector: {
      sidecarImage: inj.sidecarImage,
      controlPlaneUrl: inj.controlPlaneUrl || `https://${os.hostname()}:${dpPort}`,
      caCertPem: inj.caCertFile ? fs.readFileSync(inj.caCertFile, 'utf8') : dpCaCertPem,
      disallowMultipleMeshesPerNamespace: config.runtime.kubernetes.disallowMultipleMeshesPerNamespace,
    },
    meshesInNamespace: async (namespace) => {
      const dps = await store.list('Dataplane', { labels: { 'k8s.kuma.io/namespace': namespace } });
      const workloads = dps.filter((d) => d.labels['kuma.io/proxy-type'] !== 'zoneproxy');
      return [...new Set([...workloads.map((d) => d.mesh), ...(injected.get(namespace) ?? [])])].sort();
    },
    onInjected: (namespace, mesh) => {
      if (!injected.has(namespace)) injected.set(namespace, new Set());
      injected.get(namespace)!.add(mesh);
    },
    logger: logger.child({ component: 'injector' }),
  });
}
