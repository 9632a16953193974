// Shared by the install tests (this folder is not part of the build): the values files under testdata/ and fixed certificates, so golden
// manifests do not change from run to run.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WebhookCerts } from '../../injector/certs.js';

export const TESTDATA = path.dirname(fileURLToPath(import.meta.url));

export const FIXED_CERTS: WebhookCerts = {
  caCertPem: '-----BEGIN CERTIFICATE-----\ntest-ca\n-----END CERTIFICATE-----\n',
  certPem: '-----BEGIN CERTIFICATE-----\ntest-cert\n-----END CERTIFICATE-----\n',
  keyPem: '-----BEGIN PRIVATE KEY-----\ntest-key\n-----END PRIVATE KEY-----\n',
};

/** Case names: `<name>.values.yaml` files. */
export function valuesCases(): string[] {
  return fs.readdirSync(TESTDATA).filter((f) => f.endsWith('.values.yaml')).map((f) => f.replace(/\.values\.yaml$/, '')).sort();
}
