// Zone/user tokens and offline signing, end to end with the built `skein`: a signing key and its public
// key are generated without any control plane, a CP is started trusting only that public key, and a
// dataplane token signed offline is accepted by /bootstrap while one signed with another key is refused.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, postJson, runSkein, startCp, tempDir, type RunningCp } from '../harness.js';

function decode(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [h, p] = token.trim().split('.');
  return { header: JSON.parse(Buffer.from(h!, 'base64url').toString()) as Record<string, unknown>, payload: JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown> };
}

const dataplaneYaml = (name: string) => `type: Dataplane
mesh: default
name: ${name}
networking:
  address: 127.0.0.1
  inbound:
    - port: 20001
      servicePort: 20002
      tags: { kuma.io/service: ${name}, kuma.io/protocol: http }
`;

// Offline commands must not need a control plane: point the CLI at a port nothing listens on.
const OFFLINE_ENV = { SKEIN_API_URL: 'http://127.0.0.1:1' };

async function skeinOk(args: string[]): Promise<string> {
  const res = await runSkein(args, { env: OFFLINE_ENV });
  expect(res.stderr).toBe('');
  expect(res.code).toBe(0);
  return res.stdout;
}

describe('offline signing and zone/user tokens', () => {
  const dir = tempDir('tokens');
  const keyFile = path.join(dir, 'key.pem');
  const pubFile = path.join(dir, 'key.pub.pem');
  const otherKeyFile = path.join(dir, 'other.b64');
  const otherPubFile = path.join(dir, 'other.pub.pem');
  let cp: RunningCp;
  let ca: string;

  beforeAll(async () => {
    fs.writeFileSync(keyFile, await skeinOk(['generate', 'signing-key', '--format', 'pem']));
    fs.writeFileSync(pubFile, await skeinOk(['generate', 'public-key', '--signing-key-path', keyFile]));
    // Default format: base64 of the PEM (kumactl's default), accepted wherever a key file is read.
    fs.writeFileSync(otherKeyFile, await skeinOk(['generate', 'signing-key']));
    fs.writeFileSync(otherPubFile, await skeinOk(['generate', 'public-key', '--signing-key-path', otherKeyFile]));
    cp = await startCp({
      store: 'memory',
      // Repeatable flag; only these keys are trusted (no stored signing keys).
      args: ['--dataplane-token-public-key', `offline-1=${pubFile}`, '--dataplane-token-public-key', `offline-2=${otherPubFile}`, '--dataplane-token-public-keys-only'],
    });
    ca = fs.readFileSync(cp.caCertFile, 'utf8');
  });
  afterAll(async () => {
    await cp?.stop();
  });

  it('generate signing-key / public-key print PKCS#1 PEM keys', () => {
    expect(fs.readFileSync(keyFile, 'utf8')).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n[\s\S]+-----END RSA PRIVATE KEY-----\n$/);
    expect(fs.readFileSync(pubFile, 'utf8')).toMatch(/^-----BEGIN RSA PUBLIC KEY-----\n[\s\S]+-----END RSA PUBLIC KEY-----\n$/);
    expect(Buffer.from(fs.readFileSync(otherKeyFile, 'utf8').trim(), 'base64').toString()).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
  });

  it('a dataplane token signed offline is accepted by /bootstrap; one signed with an unknown key is refused with 401', async () => {
    const token = (await skeinOk(['generate', 'dataplane-token', '--signing-key-path', keyFile, '--kid', 'offline-1', '--mesh', 'default', '--name', 'web-1', '--valid-for', '1h'])).trim();
    expect(decode(token)).toMatchObject({ header: { alg: 'RS256', kid: 'offline-1' }, payload: { Name: 'web-1', Mesh: 'default' } });
    const ok = await postJson(`${cp.dpUrl}/bootstrap`, { mesh: 'default', name: 'web-1', dataplaneToken: token, dataplaneResource: dataplaneYaml('web-1') }, ca);
    expect(ok.status, ok.text).toBe(200);

    // The second configured key works under its own kid.
    const second = (await skeinOk(['generate', 'dataplane-token', '--signing-key-path', otherKeyFile, '--kid', 'offline-2', '--name', 'web-2', '--valid-for', '1h'])).trim();
    const ok2 = await postJson(`${cp.dpUrl}/bootstrap`, { mesh: 'default', name: 'web-2', dataplaneToken: second, dataplaneResource: dataplaneYaml('web-2') }, ca);
    expect(ok2.status, ok2.text).toBe(200);

    // Signed with another key under a trusted kid: bad signature.
    const forged = (await skeinOk(['generate', 'dataplane-token', '--signing-key-path', otherKeyFile, '--kid', 'offline-1', '--name', 'web-3', '--valid-for', '1h'])).trim();
    const refused = await postJson(`${cp.dpUrl}/bootstrap`, { mesh: 'default', name: 'web-3', dataplaneToken: forged, dataplaneResource: dataplaneYaml('web-3') }, ca);
    expect(refused.status).toBe(401);
    expect(refused.text).toContain('authentication failed: token is not valid: signature verification failed');

    // A kid the CP does not know.
    const unknown = (await skeinOk(['generate', 'dataplane-token', '--signing-key-path', keyFile, '--kid', 'nope', '--name', 'web-4', '--valid-for', '1h'])).trim();
    const refused2 = await postJson(`${cp.dpUrl}/bootstrap`, { mesh: 'default', name: 'web-4', dataplaneToken: unknown, dataplaneResource: dataplaneYaml('web-4') }, ca);
    expect(refused2.status).toBe(401);
    expect(refused2.text).toContain('there is no signing key with KID nope');

    // With --dataplane-token-public-keys-only, tokens from the CP's own stored key are not accepted.
    const issued = await api(cp.apiUrl, 'POST', '/tokens/dataplane', { mesh: 'default', name: 'web-5', validFor: '1h' });
    expect(issued.status).toBe(200);
    const refused3 = await postJson(`${cp.dpUrl}/bootstrap`, { mesh: 'default', name: 'web-5', dataplaneToken: issued.text, dataplaneResource: dataplaneYaml('web-5') }, ca);
    expect(refused3.status).toBe(401);
    expect(refused3.text).toContain('stored signing keys are not used');
  });

  it('offline flag errors', async () => {
    expect(await runSkein(['generate', 'dataplane-token', '--signing-key-path', keyFile, '--valid-for', '1h'], { env: OFFLINE_ENV })).toMatchObject({
      code: 1,
      stderr: 'Error: --kid is required when --signing-key-path is used\n',
    });
    expect(await runSkein(['generate', 'zone-token', '--zone', 'z', '--kid', '1', '--valid-for', '1h'], { env: OFFLINE_ENV })).toMatchObject({
      code: 1,
      stderr: 'Error: --kid can only be used when --signing-key-path is used\n',
    });
    expect(await runSkein(['generate', 'zone-token', '--zone', 'z', '--scope', 'admin', '--valid-for', '1h'], { env: OFFLINE_ENV })).toMatchObject({ code: 1 });
    expect(await runSkein(['generate', 'zone-token', '--zone', 'z'], { env: OFFLINE_ENV })).toMatchObject({ code: 1, stderr: 'Error: required flag(s) "valid-for" not set\n' });
    expect(await runSkein(['generate', 'public-key', '--signing-key-path', path.join(dir, 'missing')], { env: OFFLINE_ENV })).toMatchObject({ code: 1 });
  });

  it('zone tokens: offline with Kuma flags, and from the CP via POST /tokens/zone and the CLI', async () => {
    const offline = await skeinOk(['generate', 'zone-token', '--zone', 'west', '--scope', 'cp', '--scope', 'ingress', '--valid-for', '720h', '--signing-key-path', keyFile, '--kid', 'zk-1']);
    const { header, payload } = decode(offline);
    expect(header).toMatchObject({ alg: 'RS256', kid: 'zk-1' });
    expect(payload).toMatchObject({ Zone: 'west', Scope: ['cp', 'ingress'] });
    expect((payload['exp'] as number) - (payload['iat'] as number)).toBe(720 * 3600 + 10);

    const viaApi = await api(cp.apiUrl, 'POST', '/tokens/zone', { zone: 'east', scope: ['egress'], validFor: '24h' });
    expect(viaApi.status, viaApi.text).toBe(200);
    expect(decode(viaApi.text)).toMatchObject({ header: { kid: '1' }, payload: { Zone: 'east', Scope: ['egress'] } });
    const secret = await api(cp.apiUrl, 'GET', '/global-secrets/zone-token-signing-key-1');
    expect(secret.status).toBe(200);

    const bad = await api(cp.apiUrl, 'POST', '/tokens/zone', { scope: ['nope'] });
    expect(bad.status).toBe(400);
    expect((bad.body as { invalid_parameters: unknown[] }).invalid_parameters).toEqual([
      { field: 'zone', reason: 'cannot be empty' },
      { field: 'scope', reason: '"nope" is not a valid scope, expected one of cp, ingress, egress' },
    ]);

    const cli = await runSkein(['--api-url', cp.apiUrl, 'generate', 'zone-token', '--zone', 'north', '--scope', 'cp', '--valid-for', '720h']);
    expect(cli.code, cli.stderr).toBe(0);
    expect(decode(cli.stdout)).toMatchObject({ header: { kid: '1' }, payload: { Zone: 'north', Scope: ['cp'] } });
  });

  it('user tokens: offline and via POST /tokens/user', async () => {
    const offline = await skeinOk(['generate', 'user-token', '--name', 'john', '--group', 'team-a', '--valid-for', '24h', '--signing-key-path', keyFile, '--kid', 'u1']);
    expect(decode(offline)).toMatchObject({ header: { kid: 'u1' }, payload: { Name: 'john', Groups: ['team-a'] } });
    const cli = await runSkein(['--api-url', cp.apiUrl, 'generate', 'user-token', '--name', 'jane', '--group', 'g1', '--group', 'g2', '--valid-for', '1h']);
    expect(cli.code, cli.stderr).toBe(0);
    expect(decode(cli.stdout)).toMatchObject({ header: { kid: '1' }, payload: { Name: 'jane', Groups: ['g1', 'g2'] } });
    const noValidity = await api(cp.apiUrl, 'POST', '/tokens/user', { name: 'x' });
    expect(noValidity.status).toBe(400);
    expect(noValidity.text).toContain('validFor');
  });

  it('a CP refuses to start with an unreadable public key file', async () => {
    await expect(startCp({ store: 'memory', args: ['--zone-token-public-key', `k=${path.join(dir, 'missing.pem')}`] })).rejects.toThrow(/--zone-token-public-key: cannot read .*missing\.pem: ENOENT/);
  });
});
