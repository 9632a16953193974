// Zone CP authentication on the multi-zone sync: with `--kds-auth zoneToken` the global CP accepts
// a zone only with a valid, unrevoked zone token (scope cp) issued for that zone.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, tempDir, waitFor, type RunningCp } from '../harness.js';
import { startGlobal, startZone as startZoneCp } from '../multizone-harness.js';
import { freePort } from '../dp-harness.js';

describe('zone authentication with zone tokens', () => {
  let global: RunningCp;
  let kdsPort: number;
  const globalWork = tempDir('mz-auth-global');
  const dir = tempDir('mz-auth');
  const zones: RunningCp[] = [];

  async function zoneToken(zone: string): Promise<string> {
    const res = await api(global.apiUrl, 'POST', '/tokens/zone', { zone, scope: ['cp'], validFor: '1h' });
    expect(res.status, res.text).toBe(200);
    return res.text.trim();
  }

  async function startZone(zone: string, token: string): Promise<RunningCp> {
    const tokenFile = path.join(dir, `${zone}.token`);
    fs.writeFileSync(tokenFile, token);
    const cp = await startZoneCp(kdsPort, globalWork, zone, { store: 'memory', args: ['--kds-token-file', tokenFile] });
    zones.push(cp);
    return cp;
  }

  const zoneNames = async () => ((await api(global.apiUrl, 'GET', '/zones')).body as { items: { name: string }[] }).items.map((z) => z.name);

  beforeAll(async () => {
    kdsPort = await freePort();
    global = await startGlobal(kdsPort, globalWork, { store: 'memory', args: ['--kds-auth', 'zoneToken'] });
  });

  afterAll(async () => {
    for (const z of zones) await z.stop();
    await global?.stop();
  });

  it('accepts a zone with its own zone token', async () => {
    await startZone('zone-1', await zoneToken('zone-1'));
    await waitFor(async () => (await zoneNames()).includes('zone-1'), { timeoutMs: 20_000, what: 'zone-1 registered on global' });
  });

  it('refuses a token issued for another zone, a tampered token and a revoked token', async () => {
    const other = await startZone('zone-2', await zoneToken('zone-1'));
    const tampered = await zoneToken('zone-3');
    const bad = await startZone('zone-3', `${tampered.slice(0, -4)}AAAA`);
    const revokedToken = await zoneToken('zone-4');
    const jti = (JSON.parse(Buffer.from(revokedToken.split('.')[1]!, 'base64url').toString()) as { jti: string }).jti;
    const put = await api(global.apiUrl, 'PUT', '/global-secrets/zone-token-revocations', {
      type: 'GlobalSecret', name: 'zone-token-revocations', data: Buffer.from(jti).toString('base64'),
    });
    expect([200, 201]).toContain(put.status);
    const revoked = await startZone('zone-4', revokedToken);

    await waitFor(() => other.logs().includes('is different than in token'), { timeoutMs: 20_000, what: () => `zone-2 refusal in its log\n${other.logs()}` });
    await waitFor(() => bad.logs().includes('signature verification failed'), { timeoutMs: 20_000, what: () => `zone-3 refusal\n${bad.logs()}` });
    await waitFor(() => revoked.logs().includes('token is revoked'), { timeoutMs: 20_000, what: () => `zone-4 refusal\n${revoked.logs()}` });
    expect(await zoneNames()).toEqual(['zone-1']);
  });
});
