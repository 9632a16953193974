import { createHash } from 'node:crypto';

/** Stable digest of decoded config (bytes included), to tell whether something really changed. */
export function fingerprint(value: unknown): string {
  const json = JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v));
  return createHash('sha1').update(json ?? '').digest('hex');
}
