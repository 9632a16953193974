import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { MemoryStore } from '../store/memory.js';
import { TokenError, signToken } from './jwt.js';
import { issueDataplaneToken, signDataplaneToken, verifyDataplaneToken } from './dataplane-tokens.js';
import { ensureSigningKey, generateRsaKeyPem, parsePrivateKey, parsePublicKey, publicKeyPem, zoneKeyFamily } from './signing-keys.js';
import { authenticateZoneProxy, authorizeZoneEntity, issueZoneToken, signZoneToken, verifyZoneToken } from './zone-tokens.js';
import { issueUserToken, signUserToken, verifyUserToken } from './user-tokens.js';
import { configureTokenValidation, loadPublicKeySpec, tokenValidationFromConfig } from './validator.js';

const HOUR = 3600;

function keyPair() {
  const pem = generateRsaKeyPem();
  const key = parsePrivateKey(pem);
  return { pem, key, publicPem: publicKeyPem(key) };
}

function tamper(token: string): string {
  const [h, p, s] = token.split('.');
  const payload = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
  payload['Zone'] = 'evil';
  payload['Mesh'] = 'evil';
  return [h, Buffer.from(JSON.stringify(payload)).toString('base64url'), s].join('.');
}

async function revoke(store: MemoryStore, type: 'Secret' | 'GlobalSecret', mesh: string, name: string, jtis: string[]) {
  await store.create({ type, mesh, name, labels: {}, spec: { data: Buffer.from(`${jtis.join(',')}\n`).toString('base64') } });
}

function jtiOf(token: string): string {
  return (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { jti: string }).jti;
}

describe('zone tokens', () => {
  it('issues with GlobalSecret zone-token-signing-key-1, kid 1, Kuma claim names, and verifies', async () => {
    const store = new MemoryStore();
    const token = await issueZoneToken(store, { zone: 'west', scope: ['cp'], validForSeconds: HOUR });
    expect(await store.get({ type: 'GlobalSecret', mesh: '', name: 'zone-token-signing-key-1' })).toBeTruthy();
    const header = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as Record<string, unknown>;
    expect(header).toMatchObject({ alg: 'RS256', kid: '1', typ: 'JWT' });
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    expect(payload).toMatchObject({ Zone: 'west', Scope: ['cp'] });
    const claims = await verifyZoneToken(store, token);
    expect(claims).toMatchObject({ zone: 'west', scope: ['cp'] });
    expect(claims.jti).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('defaults to every scope and rejects unknown scopes', async () => {
    const store = new MemoryStore();
    const claims = await verifyZoneToken(store, await issueZoneToken(store, { zone: 'z', validForSeconds: HOUR }));
    expect(claims.scope).toEqual(['cp', 'ingress', 'egress']);
    await expect(issueZoneToken(store, { zone: 'z', scope: ['admin'], validForSeconds: HOUR })).rejects.toThrow(/"admin" is not a valid scope/);
    await expect(issueZoneToken(store, { zone: '', validForSeconds: HOUR })).rejects.toThrow('zone: cannot be empty');
  });

  it('uses the newest key; old tokens still verify until their key is deleted', async () => {
    const store = new MemoryStore();
    const old = await issueZoneToken(store, { zone: 'z', validForSeconds: HOUR });
    await store.create({ type: 'GlobalSecret', mesh: '', name: 'zone-token-signing-key-2', labels: {}, spec: { data: Buffer.from(generateRsaKeyPem()).toString('base64') } });
    const fresh = await issueZoneToken(store, { zone: 'z', validForSeconds: HOUR });
    expect(JSON.parse(Buffer.from(fresh.split('.')[0]!, 'base64url').toString())).toMatchObject({ kid: '2' });
    await verifyZoneToken(store, old);
    await store.delete({ type: 'GlobalSecret', mesh: '', name: 'zone-token-signing-key-1' });
    await expect(verifyZoneToken(store, old)).rejects.toThrow(
      'there is no signing key with KID 1. GlobalSecret of name "zone-token-signing-key-1" is not found. If signing key was rotated, regenerate the token',
    );
    await verifyZoneToken(store, fresh);
  });

  it('refuses tampered, expired, revoked, foreign-signed and Zone-less tokens with clear errors', async () => {
    const store = new MemoryStore();
    const token = await issueZoneToken(store, { zone: 'west', scope: ['cp'], validForSeconds: HOUR });
    await expect(verifyZoneToken(store, tamper(token))).rejects.toThrow('token is not valid: signature verification failed');
    await expect(verifyZoneToken(store, await signZoneToken({ zone: 'west', validForSeconds: HOUR }, keyPair().key, '1'))).rejects.toThrow(
      'signature verification failed',
    );
    const [key] = await (await import('./signing-keys.js')).listSigningKeys(store, zoneKeyFamily);
    const expired = await signToken({ Zone: 'west', Scope: ['cp'] }, key!.privateKey, '1', -3600);
    await expect(verifyZoneToken(store, expired)).rejects.toThrow('token is expired');
    const noZone = await signToken({ Scope: ['cp'] }, key!.privateKey, '1', HOUR);
    await expect(verifyZoneToken(store, noZone)).rejects.toThrow('it has no Zone claim');
    await expect(verifyZoneToken(store, 'garbage')).rejects.toThrow('could not parse token');
    await expect(verifyZoneToken(store, '')).rejects.toThrow('zone token is missing');
    const noKid = await new SignJWT({ Zone: 'west' }).setProtectedHeader({ alg: 'RS256' }).sign(key!.privateKey);
    await expect(verifyZoneToken(store, noKid)).rejects.toThrow('JWT token must have kid header');

    await revoke(store, 'GlobalSecret', '', 'zone-token-revocations', ['other', jtiOf(token)]);
    await expect(verifyZoneToken(store, token)).rejects.toThrow('token is revoked');
    await expect(verifyZoneToken(store, token)).rejects.toBeInstanceOf(TokenError);
  });

  it('accepts lower-case claim names minted elsewhere', async () => {
    const store = new MemoryStore();
    await ensureSigningKey(store, zoneKeyFamily);
    const [key] = await (await import('./signing-keys.js')).listSigningKeys(store, zoneKeyFamily);
    const token = await signToken({ zone: 'east', scope: ['ingress'] }, key!.privateKey, '1', HOUR);
    expect(await verifyZoneToken(store, token)).toMatchObject({ zone: 'east', scope: ['ingress'] });
  });

  it('authorizes zone entities by scope and zone', () => {
    const claims = { zone: 'west', scope: ['cp', 'ingress'], jti: 'x' };
    authorizeZoneEntity(claims, { zone: 'west', scope: 'ingress' });
    expect(() => authorizeZoneEntity(claims, { zone: 'west', scope: 'egress' })).toThrow(
      "token cannot be used to authenticate zone entity (egress is out of token's scope: [cp ingress])",
    );
    expect(() => authorizeZoneEntity(claims, { zone: 'east', scope: 'cp' })).toThrow('zone from requestor: east is different than in token: west');
  });
});

describe('offline signing with configured public keys', () => {
  it('a verifier configured only with the public key accepts an offline-signed zone token', async () => {
    const store = new MemoryStore();
    const { key, publicPem } = keyPair();
    configureTokenValidation(store, { zone: { publicKeys: [{ kid: 'offline-1', publicKey: parsePublicKey(publicPem) }], useSecrets: false } });
    const token = await signZoneToken({ zone: 'air-gapped', scope: ['cp'], validForSeconds: HOUR }, key, 'offline-1');
    expect(await verifyZoneToken(store, token)).toMatchObject({ zone: 'air-gapped', scope: ['cp'] });
    // Stored keys are ignored when useSecrets is off.
    const stored = await issueZoneToken(store, { zone: 'z', validForSeconds: HOUR });
    await expect(verifyZoneToken(store, stored)).rejects.toThrow(/there is no signing key with KID 1: no public key with that KID is configured and stored signing keys are not used/);
    // Same kid, other key: bad signature, not a fallback to another key.
    const other = await signZoneToken({ zone: 'air-gapped', validForSeconds: HOUR }, keyPair().key, 'offline-1');
    await expect(verifyZoneToken(store, other)).rejects.toThrow('signature verification failed');
    // Revocation applies to offline tokens too.
    await revoke(store, 'GlobalSecret', '', 'zone-token-revocations', [jtiOf(token)]);
    await expect(verifyZoneToken(store, token)).rejects.toThrow('token is revoked');
  });

  it('looks a kid up among public keys first, then among stored keys', async () => {
    const store = new MemoryStore();
    const a = keyPair();
    const b = keyPair();
    configureTokenValidation(store, {
      dataplane: {
        publicKeys: [
          { kid: 'a', publicKey: parsePublicKey(a.publicPem) },
          { kid: 'b', publicKey: parsePublicKey(b.publicPem) },
        ],
        useSecrets: true,
      },
    });
    const req = { mesh: 'default', name: 'web-1', validForSeconds: HOUR };
    expect(await verifyDataplaneToken(store, await signDataplaneToken(req, b.key, 'b'), 'default')).toMatchObject({ name: 'web-1', mesh: 'default' });
    expect(await verifyDataplaneToken(store, await signDataplaneToken(req, a.key, 'a'), 'default')).toMatchObject({ name: 'web-1' });
    await expect(verifyDataplaneToken(store, await signDataplaneToken(req, a.key, 'b'), 'default')).rejects.toThrow('signature verification failed');
    // Stored keys still work next to the configured ones.
    expect(await verifyDataplaneToken(store, await issueDataplaneToken(store, req), 'default')).toMatchObject({ name: 'web-1' });
    await expect(verifyDataplaneToken(store, await signDataplaneToken(req, a.key, 'c'), 'default')).rejects.toThrow(
      'there is no signing key with KID c. Secret of name "dataplane-token-signing-key-default-c" in mesh "default" is not found and no configured public key has KID c',
    );
  });

  it('dataplane revocations apply to offline-signed tokens', async () => {
    const store = new MemoryStore();
    const { key, publicPem } = keyPair();
    configureTokenValidation(store, { dataplane: { publicKeys: [{ kid: 'k', publicKey: parsePublicKey(publicPem) }], useSecrets: false } });
    const token = await signDataplaneToken({ mesh: 'default', validForSeconds: HOUR }, key, 'k');
    await verifyDataplaneToken(store, token, 'default');
    await revoke(store, 'Secret', 'default', 'dataplane-token-revocations-default', [jtiOf(token)]);
    await expect(verifyDataplaneToken(store, token, 'default')).rejects.toThrow('token is revoked');
  });

  it('loads <kid>=<file> specs: PKCS#1, PKIX, base64 PEM; clear errors', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skein-keys-'));
    const { key, publicPem } = keyPair();
    const pkcs1 = path.join(dir, 'pkcs1.pem');
    fs.writeFileSync(pkcs1, publicPem);
    const pkix = path.join(dir, 'pkix.pem');
    fs.writeFileSync(pkix, crypto.createPublicKey(key).export({ type: 'spki', format: 'pem' }));
    const b64 = path.join(dir, 'b64');
    fs.writeFileSync(b64, Buffer.from(publicPem).toString('base64'));
    for (const file of [pkcs1, pkix, b64]) {
      const loaded = loadPublicKeySpec(`k1=${file}`, '--x');
      expect(loaded.kid).toBe('k1');
      expect(loaded.publicKey.export({ type: 'pkcs1', format: 'pem' })).toBe(publicPem);
    }
    expect(() => loadPublicKeySpec(pkcs1, '--x')).toThrow('--x: expected <kid>=<public key file>');
    expect(() => loadPublicKeySpec(`k=${dir}/missing`, '--x')).toThrow(`--x: cannot read ${dir}/missing: ENOENT`);
    const junk = path.join(dir, 'junk');
    fs.writeFileSync(junk, 'hello');
    expect(() => loadPublicKeySpec(`k=${junk}`, '--x')).toThrow('could not parse the public key');

    const off = { publicKeys: [], publicKeysOnly: false };
    const v = tokenValidationFromConfig({
      dpServer: { dpTokenValidator: { publicKeys: [`k1=${pkcs1}`], publicKeysOnly: true } },
      multizone: { zoneTokenValidator: off },
      apiServer: { userTokenValidator: off },
    });
    expect(v.dataplane).toMatchObject({ useSecrets: false, publicKeys: [{ kid: 'k1' }] });
    expect(v.zone).toEqual({ publicKeys: [], useSecrets: true });
    expect(() =>
      tokenValidationFromConfig({ dpServer: { dpTokenValidator: off }, multizone: { zoneTokenValidator: { publicKeys: [], publicKeysOnly: true } }, apiServer: { userTokenValidator: off } }),
    ).toThrow('--zone-token-public-keys-only is set but no --zone-token-public-key is configured');
    expect(() =>
      tokenValidationFromConfig({ dpServer: { dpTokenValidator: { publicKeys: [`a=${pkcs1}`, `a=${pkix}`], publicKeysOnly: false } }, multizone: { zoneTokenValidator: off }, apiServer: { userTokenValidator: off } }),
    ).toThrow('kid "a" is configured twice');
  });
});

describe('user tokens', () => {
  it('issues with user-token-signing-key-1 and verifies Name/Groups; offline too', async () => {
    const store = new MemoryStore();
    const token = await issueUserToken(store, { name: 'john', groups: ['team-a'], validForSeconds: HOUR });
    expect(await store.get({ type: 'GlobalSecret', mesh: '', name: 'user-token-signing-key-1' })).toBeTruthy();
    expect(await verifyUserToken(store, token)).toMatchObject({ name: 'john', groups: ['team-a'] });
    await expect(verifyUserToken(store, tamper(token))).rejects.toThrow('signature verification failed');
    await expect(issueUserToken(store, { name: 'x', validForSeconds: 0 })).rejects.toThrow('validFor: cannot be empty or zero');

    const { key, publicPem } = keyPair();
    configureTokenValidation(store, { user: { publicKeys: [{ kid: 'u', publicKey: parsePublicKey(publicPem) }], useSecrets: true } });
    const offline = await signUserToken({ name: 'ci', groups: [], validForSeconds: HOUR }, key, 'u');
    expect(await verifyUserToken(store, offline)).toMatchObject({ name: 'ci', groups: [] });
    await revoke(store, 'GlobalSecret', '', 'user-token-revocations', [jtiOf(offline)]);
    await expect(verifyUserToken(store, offline)).rejects.toThrow('token is revoked');
    expect(await verifyUserToken(store, token)).toMatchObject({ name: 'john' });
  });
});

describe('zone tokens of legacy zone proxies on a zone CP', () => {
  /** A zone CP's store: only the public half of global's key, as global syncs it. */
  async function zoneStoreFor(global: MemoryStore): Promise<MemoryStore> {
    const zone = new MemoryStore();
    const [key] = await (await import('./signing-keys.js')).listSigningKeys(global, zoneKeyFamily);
    await zone.create({ type: 'GlobalSecret', mesh: '', name: `zone-token-signing-public-key-${key!.serial}`, labels: {}, spec: { data: Buffer.from(publicKeyPem(key!.publicKey)).toString('base64') } });
    return zone;
  }

  it('verifies a token issued on global with the synced public key, checking scope and zone', async () => {
    const global = new MemoryStore();
    const ingress = await issueZoneToken(global, { zone: 'zone-2', scope: ['ingress'], validForSeconds: HOUR });
    const zone = await zoneStoreFor(global);
    expect(await zone.get({ type: 'GlobalSecret', mesh: '', name: 'zone-token-signing-key-1' })).toBeUndefined();
    expect(await authenticateZoneProxy(zone, ingress, { zone: 'zone-2', scope: 'ingress' })).toMatchObject({ zone: 'zone-2', scope: ['ingress'] });
    await expect(authenticateZoneProxy(zone, ingress, { zone: 'zone-2', scope: 'egress' })).rejects.toThrow(
      "token cannot be used to authenticate zone entity (egress is out of token's scope: [ingress])",
    );
    await expect(authenticateZoneProxy(zone, ingress, { zone: 'zone-1', scope: 'ingress' })).rejects.toThrow('zone from requestor: zone-1 is different than in token: zone-2');
    // A token signed by anyone else fails the signature check against the synced key.
    await expect(authenticateZoneProxy(zone, await signZoneToken({ zone: 'zone-2', scope: ['ingress'], validForSeconds: HOUR }, keyPair().key, '1'), { zone: 'zone-2', scope: 'ingress' })).rejects.toThrow(TokenError);
    // Revocations global syncs apply too.
    await revoke(zone, 'GlobalSecret', '', 'zone-token-revocations', [jtiOf(ingress)]);
    await expect(authenticateZoneProxy(zone, ingress, { zone: 'zone-2', scope: 'ingress' })).rejects.toThrow('token is revoked');
  });

  it('names the missing key when nothing can verify the token', async () => {
    const global = new MemoryStore();
    const token = await issueZoneToken(global, { zone: 'zone-2', scope: ['egress'], validForSeconds: HOUR });
    await expect(authenticateZoneProxy(new MemoryStore(), token, { zone: 'zone-2', scope: 'egress' })).rejects.toThrow(/there is no signing key with KID 1/);
  });
});
