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

/** Zone tokens: GlobalSecrets `zone-token-signing-key-<serial>` (Kuma's names). */
export const zoneKeyFamily: KeyFamily = { secretType: 'GlobalSecret', mesh: '', prefix: 'zone-token-signing-key' };

/** User tokens: GlobalSecrets `user-token-signing-key-<serial>`. */
export const userKeyFamily: KeyFamily = { secretType: 'GlobalSecret', mesh: '', prefix: 'user-token-signing-key' };

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

/**
 * Reads an RSA private key given as PEM (PKCS#1 or PKCS#8) or as base64 of that PEM
 * (`skein generate signing-key` prints the latter by default, like kumactl).
 */
export function parsePrivateKey(text: string): crypto.KeyObject {
  try {
    const key = crypto.createPrivateKey(decodeMaybeBase64Pem(text));
    if (key.asymmetricKeyType !== 'rsa') throw new Error(`expected an RSA key, got ${key.asymmetricKeyType}`);
    return key;
  } catch (err) {
    throw new Error(`could not parse the signing key: ${(err as Error).message}`, { cause: err });
  }
}

/** Reads an RSA public key: PKCS#1 `RSA PUBLIC KEY`, PKIX `PUBLIC KEY`, or a private key (its public half). */
export function parsePublicKey(text: string): crypto.KeyObject {
  try {
    const pem = decodeMaybeBase64Pem(text);
    const key = pem.includes('PRIVATE KEY') ? crypto.createPublicKey(crypto.createPrivateKey(pem)) : crypto.createPublicKey(pem);
    if (key.asymmetricKeyType !== 'rsa') throw new Error(`expected an RSA key, got ${key.asymmetricKeyType}`);
    return key;
  } catch (err) {
    throw new Error(`could not parse the public key: ${(err as Error).message}`, { cause: err });
  }
}

/** PKCS#1 `RSA PUBLIC KEY` PEM, as `kumactl generate public-key` prints it. */
export function publicKeyPem(key: crypto.KeyObject): string {
  const pub = key.type === 'private' ? crypto.createPublicKey(key) : key;
  return pub.export({ type: 'pkcs1', format: 'pem' }).toString();
}

function decodeMaybeBase64Pem(text: string): string {
  const trimmed = text.trim();
  if (trimmed.startsWith('-----BEGIN')) return trimmed;
  const decoded = Buffer.from(trimmed, 'base64').toString('utf8').trim();
  if (decoded.startsWith('-----BEGIN')) return decoded;
  throw new Error('expected a PEM key or base64 of a PEM key');
}
