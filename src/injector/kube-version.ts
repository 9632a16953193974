// Which Kubernetes the injector serves: AdmissionReviews do not say, so (as Kuma does) ask the API
// server's /version with the pod's ServiceAccount, unless the version is configured.
import fs from 'node:fs';
import https from 'node:https';
import { parseKubernetesVersion, type KubernetesVersion } from './mutate.js';

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface InClusterOptions {
  env?: NodeJS.ProcessEnv;
  tokenFile?: string;
  caFile?: string;
  timeoutMs?: number;
}

/** GET https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT/version; undefined when not in a cluster. */
export async function fetchServerVersion(opts: InClusterOptions = {}): Promise<KubernetesVersion | undefined> {
  const env = opts.env ?? process.env;
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'] ?? '443';
  if (!host) return undefined;
  const token = fs.readFileSync(opts.tokenFile ?? `${SA_DIR}/token`, 'utf8').trim();
  const ca = fs.readFileSync(opts.caFile ?? `${SA_DIR}/ca.crt`, 'utf8');
  const body = await new Promise<string>((resolve, reject) => {
    const req = https.get({ host, port, path: '/version', ca, headers: { authorization: `Bearer ${token}` }, timeout: opts.timeoutMs ?? 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`GET /version: HTTP ${res.statusCode}: ${text.slice(0, 200)}`))));
    });
    req.on('timeout', () => req.destroy(new Error('GET /version: timed out')));
    req.on('error', reject);
  });
  const info = JSON.parse(body) as { major?: string; minor?: string; gitVersion?: string };
  // `minor` may read "30+" on managed clusters; gitVersion is `v1.30.2-...`.
  return parseKubernetesVersion(info.gitVersion ?? `${info.major}.${parseInt(info.minor ?? '', 10)}`);
}
