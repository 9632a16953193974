// Control plane ↔ data plane TLS, end to end with real processes: the DP server (bootstrap + xDS)
// serves TLS with a generated (or provided) certificate, `skein dp run --ca-cert-file` verifies it,
// and plaintext is refused unless the control plane runs with --dp-server-plaintext.
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import http2 from 'node:http2';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSelfSigned } from '../../src/cp/dp-server-cert.js';
import { api, postJson, runSkein, startCp, tempDir, waitFor, type RunningCp } from '../harness.js';
import { freePort, startDpProcess } from '../dp-harness.js';

/** The certificate the server on `port` presents. */
function peerCertificate(port: number): Promise<tls.PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate());
      socket.end();
    });
    socket.on('error', reject);
  });
}

function dataplaneYaml(name: string, inboundPort: number, servicePort: number): string {
  return `type: Dataplane
mesh: default
name: ${name}
networking:
  address: 127.0.0.1
  inbound:
    - port: ${inboundPort}
      servicePort: ${servicePort}
      tags: { kuma.io/service: ${name}, kuma.io/protocol: http }
`;
}

interface Subscription {
  connectTime?: string;
  disconnectTime?: string;
}

async function insights(cp: RunningCp): Promise<Record<string, Subscription | undefined>> {
  const overview = await api(cp.apiUrl, 'GET', '/meshes/default/dataplanes/_overview');
  const items = (overview.body as { items: { name: string; dataplaneInsight?: { subscriptions: Subscription[] } }[] }).items;
  return Object.fromEntries(items.map((i) => [i.name, i.dataplaneInsight?.subscriptions.at(-1)]));
}

describe('control plane ↔ data plane TLS', () => {
  let cp: RunningCp;
  const dps: RunningDp[] = [];
  const cps: RunningCp[] = [];
  const dir = tempDir('cp-dp-tls');

  beforeAll(async () => {
    cp = await startCp({ store: 'memory', args: ['--auth', 'none'] });
    cps.push(cp);
  });

  afterAll(async () => {
    for (const dp of dps) await dp.stop();
    for (const c of cps) await c.stop();
  });

  it('generates a self-signed certificate in the work dir, owner-only, and logs where it is', async () => {
    expect(fs.existsSync(cp.caCertFile)).toBe(true);
    expect(fs.statSync(cp.caCertFile).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(cp.workDir, 'dp-server.key')).mode & 0o777).toBe(0o600);
    const cert = new X509Certificate(fs.readFileSync(cp.caCertFile));
    expect(cert.subjectAltName).toContain('DNS:localhost');
    expect(cert.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(cp.logs()).toContain(`--ca-cert-file ${cp.caCertFile}`);
    expect((await peerCertificate(cp.dpPort)).fingerprint256).toBe(cert.fingerprint256);
  });

  it('(a) a data plane verifying the CP certificate with --ca-cert-file gets configured and is online', async () => {
    const file = path.join(dir, 'tls-web.yaml');
    fs.writeFileSync(file, dataplaneYaml('tls-web', await freePort(), await freePort()));
    const dp = startDpProcess(['--cp-address', cp.dpUrl, '--ca-cert-file', cp.caCertFile, '--dataplane-file', file]);
    dps.push(dp);
    await waitFor(() => dp.logs().includes('data plane is ready'), { timeoutMs: 20_000, what: () => `DP ready:\n${dp.logs()}` });
    const sub = await waitFor(async () => {
      const s = (await insights(cp))['tls-web'];
      return s?.connectTime && !s.disconnectTime ? s : undefined;
    }, { timeoutMs: 15_000, what: 'tls-web online in the insights' });
    expect(sub.connectTime).toBeTruthy();
    expect(dp.logs()).toMatch(/"tls":true/);
    expect(dp.logs()).not.toContain('certificate is not verified');
    expect(cp.logs()).toMatch(/"name":"tls-web","tls":true,"msg":"data plane bootstrapped"/);
  });

  it('(b) a data plane with the wrong CA logs a verification error, retries and never connects', async () => {
    const other = await generateSelfSigned(['localhost', '127.0.0.1']);
    const wrongCa = path.join(dir, 'wrong-ca.crt');
    fs.writeFileSync(wrongCa, other.certPem);
    const file = path.join(dir, 'tls-wrong.yaml');
    fs.writeFileSync(file, dataplaneYaml('tls-wrong', await freePort(), await freePort()));
    const dp = startDpProcess(['--cp-address', cp.dpUrl, '--ca-cert-file', wrongCa, '--dataplane-file', file]);
    dps.push(dp);
    // Two failures: it retries (with backoff) rather than giving up.
    await waitFor(() => (dp.logs().match(/control plane certificate verification failed: self-signed certificate/g)?.length ?? 0) >= 2, {
      timeoutMs: 15_000,
      what: () => `two verification errors in the DP log:\n${dp.logs()}`,
    });
    expect(dp.logs()).toContain('DEPTH_ZERO_SELF_SIGNED_CERT');
    expect(dp.proc.exitCode).toBeNull();
    expect(dp.logs()).not.toContain('bootstrap received');
    expect((await insights(cp))['tls-wrong']).toBeUndefined();
    await dp.stop();
  });

  it.runIf(process.platform === 'linux')('(b) reaching the CP by a name not in its certificate is a hostname mismatch', async () => {
    // 127.0.0.2 is loopback on Linux but not among the generated certificate's SANs.
    const dp = startDpProcess(['--cp-address', `https://127.0.0.2:${cp.dpPort}`, '--ca-cert-file', cp.caCertFile, '--mesh', 'default', '--name', 'tls-mismatch']);
    dps.push(dp);
    await waitFor(() => dp.logs().includes('control plane certificate verification failed') && dp.logs().includes('ERR_TLS_CERT_ALTNAME_INVALID'), {
      timeoutMs: 15_000,
      what: () => `hostname mismatch in the DP log:\n${dp.logs()}`,
    });
    expect(dp.logs()).toContain('hostname/IP mismatch');
    await dp.stop();
  });

  it('without --ca-cert-file the connection is encrypted but unverified, with a warning', async () => {
    const file = path.join(dir, 'tls-noca.yaml');
    fs.writeFileSync(file, dataplaneYaml('tls-noca', await freePort(), await freePort()));
    const dp = startDpProcess(['--cp-address', cp.dpUrl, '--dataplane-file', file]);
    dps.push(dp);
    await waitFor(() => dp.logs().includes('data plane is ready'), { timeoutMs: 20_000, what: () => `DP ready:\n${dp.logs()}` });
    expect(dp.logs().match(/control plane certificate is not verified: pass --ca-cert-file/g)).toHaveLength(1);
  });

  it('(c) plaintext on the DP port is refused: HTTP gets 400 saying TLS is required, h2c is closed', async () => {
    const res = await postJson(`http://127.0.0.1:${cp.dpPort}/bootstrap`, { mesh: 'default', name: 'plain' });
    expect(res.status).toBe(400);
    expect(res.text).toContain('requires TLS');
    expect(res.text).toContain('https://');

    const session = http2.connect(`http://127.0.0.1:${cp.dpPort}`);
    session.on('error', () => undefined);
    await new Promise<void>((resolve) => session.once('close', () => resolve()));
    expect(session.closed || session.destroyed).toBe(true);

    // skein dp run with an http:// address fails for good with that message.
    const dp = startDpProcess(['--cp-address', `http://127.0.0.1:${cp.dpPort}`, '--mesh', 'default', '--name', 'plain']);
    await waitFor(() => dp.proc.exitCode !== null, { timeoutMs: 15_000, what: () => `DP to exit:\n${dp.logs()}` });
    expect(dp.proc.exitCode).toBe(1);
    expect(dp.logs()).toContain('requires TLS');
  });

  it('(c) with --dp-server-plaintext plaintext is served too, and the bootstrap says whether TLS is used', async () => {
    const plain = await startCp({ store: 'memory', args: ['--auth', 'none', '--dp-server-plaintext'] });
    cps.push(plain);
    const body = (name: string) => ({ mesh: 'default', name, dataplaneResource: dataplaneYaml(name, 20001, 20002) });
    const overHttp = await postJson(`http://127.0.0.1:${plain.dpPort}/bootstrap`, body('over-http'));
    expect(overHttp.status, overHttp.text).toBe(200);
    expect((JSON.parse(overHttp.text) as { xdsServer: { tls: boolean } }).xdsServer.tls).toBe(false);
    const overHttps = await postJson(`https://127.0.0.1:${plain.dpPort}/bootstrap`, body('over-https'), fs.readFileSync(plain.caCertFile, 'utf8'));
    expect(overHttps.status, overHttps.text).toBe(200);
    const answer = JSON.parse(overHttps.text) as { xdsServer: { tls: boolean }; bootstrap: string };
    expect(answer.xdsServer.tls).toBe(true);
    // The Envoy bootstrap's ADS cluster carries a TLS transport socket.
    expect(Buffer.from(answer.bootstrap, 'base64').toString()).toContain('envoy.transport_sockets.tls');

    // A plaintext data plane gets configured (local demos, benchmarks).
    const file = path.join(dir, 'plain-web.yaml');
    fs.writeFileSync(file, dataplaneYaml('plain-web', await freePort(), await freePort()));
    const dp = startDpProcess(['--cp-address', `http://127.0.0.1:${plain.dpPort}`, '--dataplane-file', file]);
    dps.push(dp);
    await waitFor(() => dp.logs().includes('data plane is ready'), { timeoutMs: 20_000, what: () => `DP ready:\n${dp.logs()}` });
    expect(dp.logs()).toMatch(/"tls":false/);
  });

  it('(d) a certificate and key given by flags are served, and are not replaced by a generated one', async () => {
    const provided = await generateSelfSigned(['localhost', '127.0.0.1']);
    const certFile = path.join(dir, 'provided.crt');
    const keyFile = path.join(dir, 'provided.key');
    fs.writeFileSync(certFile, provided.certPem);
    fs.writeFileSync(keyFile, provided.keyPem, { mode: 0o600 });
    const withCert = await startCp({ store: 'memory', args: ['--auth', 'none', '--dp-server-tls-cert-file', certFile, '--dp-server-tls-key-file', keyFile] });
    cps.push(withCert);
    expect((await peerCertificate(withCert.dpPort)).fingerprint256).toBe(new X509Certificate(provided.certPem).fingerprint256);
    expect(fs.existsSync(withCert.caCertFile)).toBe(false);

    // And a data plane verifying against it gets configured.
    const file = path.join(dir, 'tls-provided.yaml');
    fs.writeFileSync(file, dataplaneYaml('tls-provided', await freePort(), await freePort()));
    const dp = startDpProcess(['--cp-address', withCert.dpUrl, '--ca-cert-file', certFile, '--dataplane-file', file]);
    dps.push(dp);
    await waitFor(() => dp.logs().includes('data plane is ready'), { timeoutMs: 20_000, what: () => `DP ready:\n${dp.logs()}` });
  });

  it('persists the generated certificate across restarts (same work dir)', async () => {
    const first = await startCp({ store: 'memory' });
    const fingerprint = (await peerCertificate(first.dpPort)).fingerprint256;
    await first.stop();
    const second = await startCp({ store: 'memory', workDir: first.workDir });
    cps.push(second);
    expect((await peerCertificate(second.dpPort)).fingerprint256).toBe(fingerprint);
  });

  it('refuses a half-given or unreadable certificate configuration', async () => {
    const certFile = path.join(dir, 'half.crt');
    fs.writeFileSync(certFile, (await generateSelfSigned(['localhost'])).certPem);
    const half = await runSkein(['cp', 'run', '--store', 'memory', '--dp-server-tls-cert-file', certFile]);
    expect(half.code).toBe(1);
    expect(half.stderr).toContain('must be set together');
    const missing = await runSkein(['cp', 'run', '--store', 'memory', '--dp-server-tls-cert-file', certFile, '--dp-server-tls-key-file', path.join(dir, 'nope.key')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/tlsKeyFile: cannot read .*nope\.key: ENOENT/);
  });
});
