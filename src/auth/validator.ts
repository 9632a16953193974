// Token validation settings shared by all token kinds (Kuma's `validator.{publicKeys, useSecrets}`):
// a token's `kid` is looked up first among public keys configured on the CP (offline signing), then,
// unless disabled, among the signing keys stored as secrets.
//
// The settings are attached to the store the CP uses, so every verifier that gets the store (bootstrap,
// xDS stream, API) sees them without each call site passing them along.
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { ResourceStore } from '../store/store.js';
import { TokenError, tokenKid } from './jwt.js';
import { type KeyFamily, parsePublicKey, signingKeyBySerial } from './signing-keys.js';

export interface StaticPublicKey {
  kid: string;
  publicKey: crypto.KeyObject;
}

export interface ValidatorOptions {
  /** Keys configured on the CP, looked up by `kid` before any stored key. */
  publicKeys: StaticPublicKey[];
  /** Also accept tokens signed by the signing keys stored as secrets (Kuma's `useSecrets`). */
  useSecrets: boolean;
}

export interface TokenValidation {
  dataplane: ValidatorOptions;
  zone: ValidatorOptions;
  user: ValidatorOptions;
}

const DEFAULT_OPTIONS: ValidatorOptions = { publicKeys: [], useSecrets: true };
const settings = new WeakMap<object, Partial<TokenValidation>>();

export function configureTokenValidation(store: ResourceStore, validation: Partial<TokenValidation>): void {
  settings.set(store, validation);
}

export function validatorOptions(store: ResourceStore, kind: keyof TokenValidation): ValidatorOptions {
  return settings.get(store)?.[kind] ?? DEFAULT_OPTIONS;
}

/** Parses `kid=path` (the CLI/env form) and reads the key file. */
export function loadPublicKeySpec(spec: string, source: string): StaticPublicKey {
  const eq = spec.indexOf('=');
  if (eq <= 0 || eq === spec.length - 1) throw new Error(`${source}: expected <kid>=<public key file>, got "${spec}"`);
  const kid = spec.slice(0, eq).trim();
  const file = spec.slice(eq + 1).trim();
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`${source}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  try {
    return { kid, publicKey: parsePublicKey(text) };
  } catch (err) {
    throw new Error(`${source}: ${file}: ${(err as Error).message}`, { cause: err });
  }
}

export function loadPublicKeySpecs(specs: string[], source: string): StaticPublicKey[] {
  const keys = specs.map((s) => loadPublicKeySpec(s, source));
  const seen = new Set<string>();
  for (const k of keys) {
    if (seen.has(k.kid)) throw new Error(`${source}: kid "${k.kid}" is configured twice`);
    seen.add(k.kid);
  }
  return keys;
}

/**
 * Finds the public key for a token's `kid`: configured keys first, then `<family.prefix>-<kid>` secrets.
 * `where` completes the not-found message, e.g. `GlobalSecret of name "zone-token-signing-key-3"`.
 */
export async function resolveVerificationKey(store: ResourceStore, token: string, family: KeyFamily, opts: ValidatorOptions): Promise<crypto.KeyObject> {
  const kid = tokenKid(token);
  const configured = opts.publicKeys.find((k) => k.kid === kid);
  if (configured) return configured.publicKey;
  const where =
    family.secretType === 'GlobalSecret' ? `GlobalSecret of name "${family.prefix}-${kid}"` : `Secret of name "${family.prefix}-${kid}" in mesh "${family.mesh}"`;
  if (!opts.useSecrets) {
    throw new TokenError(`there is no signing key with KID ${kid}: no public key with that KID is configured and stored signing keys are not used. If signing key was rotated, regenerate the token`);
  }
  const serial = Number(kid);
  const key = /^\d+$/.test(kid) ? await signingKeyBySerial(store, family, serial) : undefined;
  if (!key) {
    const configuredHint = opts.publicKeys.length > 0 ? ` and no configured public key has KID ${kid}` : '';
    throw new TokenError(`there is no signing key with KID ${kid}. ${where} is not found${configuredHint}. If signing key was rotated, regenerate the token`);
  }
  return key.publicKey;
}

/** Checks a comma-separated revocation list secret (`data` = base64 of `jti1,jti2`). */
export async function checkRevoked(store: ResourceStore, secret: { type: 'Secret' | 'GlobalSecret'; mesh: string; name: string }, jti: string): Promise<void> {
  const revoked = await store.get(secret);
  if (!revoked || !jti) return;
  const list = Buffer.from(String(revoked.spec['data'] ?? ''), 'base64').toString('utf8').trim().split(',').map((s) => s.trim());
  if (list.includes(jti)) throw new TokenError('token is revoked');
}

interface ValidatorSettings {
  publicKeys: string[];
  publicKeysOnly: boolean;
}

/** Reads the configured public key files (`<kid>=<file>`); errors name the flag. */
export function tokenValidationFromConfig(cfg: {
  dpServer: { dpTokenValidator: ValidatorSettings };
  multizone: { zoneTokenValidator: ValidatorSettings };
  apiServer: { userTokenValidator: ValidatorSettings };
}): TokenValidation {
  const build = (s: ValidatorSettings, flag: string): ValidatorOptions => {
    const publicKeys = loadPublicKeySpecs(s.publicKeys, `--${flag}`);
    if (s.publicKeysOnly && publicKeys.length === 0) throw new Error(`--${flag}s-only is set but no --${flag} is configured: no token could be verified`);
    return { publicKeys, useSecrets: !s.publicKeysOnly };
  };
  return {
    dataplane: build(cfg.dpServer.dpTokenValidator, 'dataplane-token-public-key'),
    zone: build(cfg.multizone.zoneTokenValidator, 'zone-token-public-key'),
    user: build(cfg.apiServer.userTokenValidator, 'user-token-public-key'),
  };
}
