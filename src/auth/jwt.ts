// RS256 JWTs with a mandatory `kid`, Kuma's claim names and a ±5 s clock allowance.
import crypto from 'node:crypto';
import { SignJWT, jwtVerify, decodeProtectedHeader, errors as joseErrors } from 'jose';

export class TokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenError';
  }
}

const SKEW_SECONDS = 5;

export async function signToken(claims: Record<string, unknown>, key: crypto.KeyObject, kid: string, validForSeconds: number): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
    .setJti(crypto.randomUUID())
    .setIssuedAt(now - SKEW_SECONDS)
    .setNotBefore(now - SKEW_SECONDS)
    .setExpirationTime(now + validForSeconds + SKEW_SECONDS)
    .sign(key);
}

/** Reads the `kid` header without verifying; errors name what is wrong. */
export function tokenKid(token: string): string {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    throw new TokenError('could not parse token');
  }
  if (header.alg !== 'RS256') throw new TokenError(`unsupported token alg ${String(header.alg)}. Allowed algorithm is RS256`);
  if (header.kid === undefined) throw new TokenError('JWT token must have kid header');
  if (typeof header.kid !== 'string') throw new TokenError('JWT token kid header must be a string');
  return header.kid;
}

export async function verifyToken(token: string, publicKey: crypto.KeyObject): Promise<Record<string, unknown>> {
  try {
    const { payload } = await jwtVerify(token, publicKey, { algorithms: ['RS256'], clockTolerance: SKEW_SECONDS });
    return payload as Record<string, unknown>;
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) throw new TokenError('token is expired');
    if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === 'nbf') {
      throw new TokenError("token is not yet valid: 'valid_from' date is in the future. Check if the system clock is in sync");
    }
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) throw new TokenError('token is not valid: signature verification failed');
    throw new TokenError(`token is not valid: ${(err as Error).message}`);
  }
}

/** Go decodes JSON case-insensitively, so tokens minted elsewhere may use `name` for `Name`. */
export function claim(claims: Record<string, unknown>, name: string): unknown {
  if (name in claims) return claims[name];
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(claims)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

/** Parses Kuma/Go-style durations: `24h`, `10m`, `1h30m`, `90s`, `7d`, `1y`. */
export function parseDuration(text: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/g;
  let total = 0;
  let consumed = 0;
  for (const m of text.matchAll(re)) {
    const n = Number(m[1]);
    const unit = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 }[m[2] as 'ms'];
    total += n * unit;
    consumed += m[0].length;
  }
  if (consumed !== text.length || consumed === 0) throw new TokenError(`invalid duration "${text}"`);
  return Math.floor(total);
}
