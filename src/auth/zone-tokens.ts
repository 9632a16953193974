// Zone tokens (Kuma's `pkg/tokens/builtin/zone`): claims `Zone` and `Scope`, signed with the latest
// GlobalSecret `zone-token-signing-key-<serial>` or offline with a key whose public half the CP is
// configured with (`--zone-token-public-key`). Used by zone CPs syncing with the global CP and by
// legacy zone ingress/egress proxies.
import type crypto from 'node:crypto';
import type { ResourceStore } from '../store/store.js';
import { TokenError, claim, signToken, tokenKid, verifyToken } from './jwt.js';
import { ensureSigningKey, listSigningKeys, parsePublicKey, zoneKeyFamily } from './signing-keys.js';
import { checkRevoked, resolveVerificationKey, validatorOptions } from './validator.js';

export const ZONE_TOKEN_SCOPES = ['cp', 'ingress', 'egress'] as const;
export type ZoneTokenScope = (typeof ZONE_TOKEN_SCOPES)[number];
export const ZONE_TOKEN_REVOCATIONS = 'zone-token-revocations';
/** What a zone CP holds instead of global's private keys: their public halves, synced by global. */
export const ZONE_TOKEN_PUBLIC_KEY_PREFIX = 'zone-token-signing-public-key';

export interface ZoneTokenRequest {
  zone: string;
  /** Empty = every scope (Kuma 2.x's full scope). */
  scope?: string[];
  validForSeconds: number;
}

export interface ZoneTokenClaims {
  zone: string;
  scope: string[];
  jti: string;
}

/** Checks the request; returns the scope list to put in the token. */
export function validateZoneTokenRequest(req: { zone?: string; scope?: unknown }): string[] {
  if (!req.zone) throw new TokenError('zone: cannot be empty');
  if (req.scope !== undefined && (!Array.isArray(req.scope) || req.scope.some((s) => typeof s !== 'string'))) {
    throw new TokenError('scope: must be a list of strings');
  }
  const scope = (req.scope as string[] | undefined) ?? [];
  for (const s of scope) {
    if (!(ZONE_TOKEN_SCOPES as readonly string[]).includes(s)) throw new TokenError(`scope: "${s}" is not a valid scope, expected one of ${ZONE_TOKEN_SCOPES.join(', ')}`);
  }
  return scope.length > 0 ? [...new Set(scope)] : [...ZONE_TOKEN_SCOPES];
}

function zoneClaims(req: ZoneTokenRequest): Record<string, unknown> {
  return { Zone: req.zone, Scope: validateZoneTokenRequest(req) };
}

export async function issueZoneToken(store: ResourceStore, req: ZoneTokenRequest): Promise<string> {
  const claims = zoneClaims(req);
  await ensureSigningKey(store, zoneKeyFamily);
  const [key] = await listSigningKeys(store, zoneKeyFamily);
  if (!key) throw new TokenError('there is no zone token signing key');
  return signToken(claims, key.privateKey, String(key.serial), req.validForSeconds);
}

/** Offline signing with a private key held outside the CP. */
export async function signZoneToken(req: ZoneTokenRequest, privateKey: crypto.KeyObject, kid: string): Promise<string> {
  return signToken(zoneClaims(req), privateKey, kid, req.validForSeconds);
}

/** Verifies signature (configured public keys, then stored keys), validity, revocation and the `Zone` claim. */
export async function verifyZoneToken(store: ResourceStore, token: string): Promise<ZoneTokenClaims> {
  if (!token) throw new TokenError('zone token is missing');
  const publicKey = await zoneVerificationKey(store, token);
  const payload = await verifyToken(token, publicKey);
  const zone = claim(payload, 'Zone');
  if (typeof zone !== 'string' || zone === '') throw new TokenError('token is not valid: it has no Zone claim');
  const rawScope = claim(payload, 'Scope');
  const scope = Array.isArray(rawScope) ? rawScope.map(String) : [];
  const jti = String(payload['jti'] ?? '');
  await checkRevoked(store, { type: 'GlobalSecret', mesh: '', name: ZONE_TOKEN_REVOCATIONS }, jti);
  return { zone, scope, jti };
}

/**
 * The key for a zone token: a configured public key; on a zone CP, the public key global synced
 * (`zone-token-signing-public-key-<kid>`: global's key pairs never leave global); else the stored
 * signing key (global, standalone).
 */
async function zoneVerificationKey(store: ResourceStore, token: string): Promise<crypto.KeyObject> {
  const opts = validatorOptions(store, 'zone');
  const kid = tokenKid(token);
  if (opts.useSecrets && /^\d+$/.test(kid) && !opts.publicKeys.some((k) => k.kid === kid)) {
    const synced = await store.get({ type: 'GlobalSecret', mesh: '', name: `${ZONE_TOKEN_PUBLIC_KEY_PREFIX}-${kid}` });
    if (synced) {
      try {
        return parsePublicKey(String(synced.spec['data'] ?? ''));
      } catch (err) {
        throw new TokenError(`GlobalSecret "${synced.name}": ${(err as Error).message}`);
      }
    }
  }
  return resolveVerificationKey(store, token, zoneKeyFamily, opts);
}

/** Checks a verified token against the zone entity presenting it (Kuma 2.x's zone authenticator). */
export function authorizeZoneEntity(claims: ZoneTokenClaims, entity: { zone: string; scope: ZoneTokenScope }): void {
  if (!claims.scope.includes(entity.scope)) {
    throw new TokenError(`token cannot be used to authenticate zone entity (${entity.scope} is out of token's scope: [${claims.scope.join(' ')}])`);
  }
  if (claims.zone !== entity.zone) throw new TokenError(`zone from requestor: ${entity.zone} is different than in token: ${claims.zone}`);
}

/**
 * Legacy ZoneIngress / ZoneEgress proxies (`skein dp run --proxy-type ingress|egress`): a zone token
 * whose scope has `ingress` resp. `egress`, issued for this CP's zone.
 */
export async function authenticateZoneProxy(store: ResourceStore, token: string, entity: { zone: string; scope: 'ingress' | 'egress' }): Promise<ZoneTokenClaims> {
  const claims = await verifyZoneToken(store, token);
  // A standalone CP has no zone to compare with: only the scope is checked.
  authorizeZoneEntity(claims, { scope: entity.scope, zone: entity.zone || claims.zone });
  return claims;
}
