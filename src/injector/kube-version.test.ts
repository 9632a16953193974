// The in-cluster /version lookup: TLS verified with the ServiceAccount CA, bearer token sent, and
// the gitVersion of the reply parsed (served here by a local HTTPS server in the API server's format).
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateWebhookCerts } from './certs.js';
import { fetchServerVersion } from './kube-version.js';
import { parseKubernetesVersion } from './mutate.js';

let server: https.Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

describe('Kubernetes version', () => {
  it('parses what API servers report', () => {
    expect(parseKubernetesVersion('v1.30.2-eks-1552ad0')).toEqual({ major: 1, minor: 30 });
    expect(parseKubernetesVersion('1.28')).toEqual({ major: 1, minor: 28 });
    expect(parseKubernetesVersion('latest')).toBeUndefined();
  });

  it('asks GET /version with the ServiceAccount token, verifying the cluster CA', async () => {
    const certs = await generateWebhookCerts(['127.0.0.1']);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skein-sa-'));
    fs.writeFileSync(path.join(dir, 'token'), 'sa-token\n');
    fs.writeFileSync(path.join(dir, 'ca.crt'), certs.caCertPem);
    let auth: string | undefined;
    server = https.createServer({ cert: certs.certPem, key: certs.keyPem }, (req, res) => {
      auth = req.headers.authorization;
      res.writeHead(req.url === '/version' ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ major: '1', minor: '29+', gitVersion: 'v1.29.4-gke.100' }));
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const env = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String((server.address() as AddressInfo).port) };
    expect(await fetchServerVersion({ env, tokenFile: path.join(dir, 'token'), caFile: path.join(dir, 'ca.crt') })).toEqual({ major: 1, minor: 29 });
    expect(auth).toBe('Bearer sa-token');
    // Another CA: refused.
    fs.writeFileSync(path.join(dir, 'other.crt'), (await generateWebhookCerts(['127.0.0.1'])).caCertPem);
    await expect(fetchServerVersion({ env, tokenFile: path.join(dir, 'token'), caFile: path.join(dir, 'other.crt') })).rejects.toThrow();
    // Not in a cluster.
    expect(await fetchServerVersion({ env: {} })).toBeUndefined();
  });
});
