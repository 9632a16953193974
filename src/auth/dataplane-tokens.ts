// Dataplane tokens: issued per mesh, bound optionally to a proxy name, tags and workload, and checked
// when a data plane bootstraps and when it opens its xDS stream.
import type crypto from 'node:crypto';
import type { Resource } from '../api/resource.js';
import type { ResourceStore } from '../store/store.js';
import { TokenError, claim, signToken, verifyToken } from './jwt.js';
import { dataplaneKeyFamily, ensureSigningKey, listSigningKeys } from './signing-keys.js';
import { checkRevoked, resolveVerificationKey, validatorOptions } from './validator.js';

export interface DataplaneTokenRequest {
  mesh: string;
  name?: string;
  /** Allowed values per tag key. */
  tags?: Record<string, string[]>;
  type?: string;
  workload?: string;
  validForSeconds: number;
}

export interface DataplaneTokenClaims {
  name: string;
  mesh: string;
  tags: Record<string, string[]>;
  type: string;
  workload: string;
  jti: string;
}

const TEN_YEARS = 10 * 365 * 24 * 3600;
export const DEFAULT_TOKEN_VALIDITY = TEN_YEARS;

/** Kuma's claim names (Go field names). */
export function dataplaneTokenClaims(req: Omit<DataplaneTokenRequest, 'validForSeconds'>): Record<string, unknown> {
  return { Name: req.name ?? '', Mesh: req.mesh, Tags: req.tags ?? {}, Type: req.type ?? '', Workload: req.workload ?? '' };
}

export async function issueDataplaneToken(store: ResourceStore, req: DataplaneTokenRequest): Promise<string> {
  const family = dataplaneKeyFamily(req.mesh);
  await ensureSigningKey(store, family);
  const [key] = await listSigningKeys(store, family);
  if (!key) throw new TokenError(`no signing key for mesh "${req.mesh}"`);
  return signToken(dataplaneTokenClaims(req), key.privateKey, String(key.serial), req.validForSeconds);
}

/** Offline signing: a key held outside any CP, whose public half the CP is configured with. */
export async function signDataplaneToken(req: DataplaneTokenRequest, privateKey: crypto.KeyObject, kid: string): Promise<string> {
  return signToken(dataplaneTokenClaims(req), privateKey, kid, req.validForSeconds);
}

/**
 * Verifies signature, validity window and revocation for a token presented in `mesh`. The key is found
 * by `kid` among configured public keys (`--dataplane-token-public-key`), then the mesh's signing keys.
 */
export async function verifyDataplaneToken(store: ResourceStore, token: string, mesh: string): Promise<DataplaneTokenClaims> {
  if (!token) throw new TokenError('dataplane token is missing: pass it with --dataplane-token-file');
  const publicKey = await resolveVerificationKey(store, token, dataplaneKeyFamily(mesh), validatorOptions(store, 'dataplane'));
  const payload = await verifyToken(token, publicKey);
  const claims: DataplaneTokenClaims = {
    name: String(claim(payload, 'Name') ?? ''),
    mesh: String(claim(payload, 'Mesh') ?? ''),
    tags: (claim(payload, 'Tags') as Record<string, string[]> | undefined) ?? {},
    type: String(claim(payload, 'Type') ?? ''),
    workload: String(claim(payload, 'Workload') ?? ''),
    jti: String(payload['jti'] ?? ''),
  };
  await checkRevoked(store, { type: 'Secret', mesh, name: `dataplane-token-revocations-${mesh}` }, claims.jti);
  return claims;
}

/** Checks the claims against the proxy that presents the token (Kuma's Universal authenticator). */
export function authorizeDataplane(claims: DataplaneTokenClaims, proxy: { mesh: string; name: string; dataplane?: Resource }): void {
  if (claims.mesh && claims.mesh !== proxy.mesh) throw new TokenError(`proxy mesh from requestor: ${proxy.mesh} is different than in token: ${claims.mesh}`);
  if (claims.name && claims.name !== proxy.name) throw new TokenError(`proxy name from requestor: ${proxy.name} is different than in token: ${claims.name}`);
  const dp = proxy.dataplane;
  if (Object.keys(claims.tags).length > 0) {
    const tags = inboundTags(dp);
    for (const [key, allowed] of Object.entries(claims.tags)) {
      const values = tags.get(key);
      if (!values) throw new TokenError(`dataplane has no tag "${key}" required by the token`);
      for (const v of values) {
        if (!allowed.includes(v)) {
          throw new TokenError(`dataplane contains tag "${key}" with value "${v}" which is not allowed with this token. Allowed values in token are [${allowed.join(' ')}]`);
        }
      }
    }
  }
  if (claims.workload) {
    const workload = dp?.labels['kuma.io/workload'];
    if (!workload) throw new TokenError('dataplane has no workload label required by the token');
    if (workload !== claims.workload) {
      throw new TokenError(`dataplane workload "${workload}" is not allowed with this token. Allowed workload in token is "${claims.workload}"`);
    }
  }
}

function inboundTags(dp: Resource | undefined): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const networking = dp?.spec['networking'] as { inbound?: { tags?: Record<string, string> }[] } | undefined;
  for (const inbound of networking?.inbound ?? []) {
    for (const [k, v] of Object.entries(inbound.tags ?? {})) {
      if (!out.has(k)) out.set(k, new Set());
      out.get(k)!.add(v);
    }
  }
  return out;
}
