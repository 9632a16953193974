// User tokens (Kuma's `pkg/tokens/builtin/issuer` for users): claims `Name` and `Groups`, signed with
// GlobalSecret `user-token-signing-key-<serial>` or offline. Only issuing and verification live here.
import type crypto from 'node:crypto';
import type { ResourceStore } from '../store/store.js';
import { TokenError, claim, signToken, verifyToken } from './jwt.js';
import { ensureSigningKey, listSigningKeys, userKeyFamily } from './signing-keys.js';
import { checkRevoked, resolveVerificationKey, validatorOptions } from './validator.js';

export const USER_TOKEN_REVOCATIONS = 'user-token-revocations';

export interface UserTokenRequest {
  name: string;
  groups?: string[];
  validForSeconds: number;
}

export interface UserTokenClaims {
  name: string;
  groups: string[];
  jti: string;
}

function userClaims(req: UserTokenRequest): Record<string, unknown> {
  if (!req.name) throw new TokenError('name: cannot be empty');
  if (!(req.validForSeconds > 0)) throw new TokenError('validFor: cannot be empty or zero');
  return { Name: req.name, Groups: req.groups ?? [] };
}

export async function issueUserToken(store: ResourceStore, req: UserTokenRequest): Promise<string> {
  const claims = userClaims(req);
  await ensureSigningKey(store, userKeyFamily);
  const [key] = await listSigningKeys(store, userKeyFamily);
  if (!key) throw new TokenError('there is no user token signing key');
  return signToken(claims, key.privateKey, String(key.serial), req.validForSeconds);
}

export async function signUserToken(req: UserTokenRequest, privateKey: crypto.KeyObject, kid: string): Promise<string> {
  return signToken(userClaims(req), privateKey, kid, req.validForSeconds);
}

export async function verifyUserToken(store: ResourceStore, token: string): Promise<UserTokenClaims> {
  if (!token) throw new TokenError('user token is missing');
  const publicKey = await resolveVerificationKey(store, token, userKeyFamily, validatorOptions(store, 'user'));
  const payload = await verifyToken(token, publicKey);
  const name = claim(payload, 'Name');
  if (typeof name !== 'string' || name === '') throw new TokenError('token is not valid: it has no Name claim');
  const rawGroups = claim(payload, 'Groups');
  const groups = Array.isArray(rawGroups) ? rawGroups.map(String) : [];
  const jti = String(payload['jti'] ?? '');
  await checkRevoked(store, { type: 'GlobalSecret', mesh: '', name: USER_TOKEN_REVOCATIONS }, jti);
  return { name, groups, jti };
}
