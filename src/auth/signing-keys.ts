// RSA signing keys kept as secrets. A key's serial is the numeric suffix of its name; tokens are
// issued with the highest serial and carry it as `kid`, so keys can be rotated by adding a new one.
import crypto from 'node:crypto';
import type { Resource } from '../api/resource.js';
import { AlreadyExistsError, type ResourceStore } from '../store/store.js';

export interface SigningKey {
  serial: number;
  privateKey: crypto.KeyObject;
  publicKey: crypto.KeyObject;
}

/** Where a family of keys lives: mesh-scoped `Secret`s or global `GlobalSecret`s named `<prefix>-<serial>`. */
export interface KeyFamily {
  secretType: 'Secret' | 'GlobalSecret';
  mesh: string;
  prefix: string;
}

export function dataplaneKeyFamily(mesh: string): KeyFamily {
  return { secretType: 'Secret', mesh, prefix: `dataplane-token-signing-key-${mesh}` };
}

export function generateRsaKeyPem(): string {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
}

function serialOf(family: KeyFamily, name: string): number | undefined {
  if (!name.startsWith(`${family.prefix}-`)) return undefined;
  const n = Number(name.slice(family.prefix.length + 1));
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

function toSigningKey(serial: number, secret: Resource): SigningKey {
  const pem = Buffer.from(String(secret.spec['data'] ?? ''), 'base64').toString('utf8');
  const privateKey = crypto.createPrivateKey(pem);
  return { serial, privateKey, publicKey: crypto.createPublicKey(privateKey) };
}

export async function listSigningKeys(store: ResourceStore, family: KeyFamily): Promise<SigningKey[]> {
  const secrets = await store.list(family.secretType, { mesh: family.mesh });
  const keys: SigningKey[] = [];
  for (const s of secrets) {
    const serial = serialOf(family, s.name);
    if (serial !== undefined) keys.push(toSigningKey(serial, s));
  }
  return keys.sort((a, b) => b.serial - a.serial);
}

export async function signingKeyBySerial(store: ResourceStore, family: KeyFamily, serial: number): Promise<SigningKey | undefined> {
  const secret = await store.get({ type: family.secretType, mesh: family.mesh, name: `${family.prefix}-${serial}` });
  return secret ? toSigningKey(serial, secret) : undefined;
}

/** Creates serial 1 unless some key of the family exists. Safe when replicas race. */
export async function ensureSigningKey(store: ResourceStore, family: KeyFamily): Promise<void> {
  if ((await listSigningKeys(store, family)).length > 0) return;
  try {
    await store.create({
      type: family.secretType,
      mesh: family.mesh,
      name: `${family.prefix}-1`,
      labels: family.mesh ? { 'kuma.io/mesh': family.mesh } : {},
      spec: { data: Buffer.from(generateRsaKeyPem()).toString('base64') },
    });
  } catch (err) {
    if (!(err instanceof AlreadyExistsError)) throw err;
  }
}
