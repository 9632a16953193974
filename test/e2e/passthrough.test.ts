// Transparent proxying and Mesh `networking.outbound.passthrough`, end to end with real traffic.
// Everything runs inside a fresh network namespace (so only its own loopback is used): the control
// plane as uid 5679, two `skein dp run` proxies as uid 5678, an HTTP service in the mesh ("web") and
// one outside it ("external" on 127.0.0.2). iptables redirects every TCP connection not made by uid
// 5678 (the proxies' own upstream connections) to the client proxy's redirectPortOutbound, as Kuma's
// transparent proxy does; the control plane (which stands for another host) is excluded too. The
// "app" is a root process in the namespace, so its connections are redirected.
//
// Needs root, `ip netns`, iptables, setpriv and the skein-original-dst addon (`npm install`); the
// suite skips with the reason when one is missing, unless SKEIN_REQUIRE_TRANSPARENT=1 (CI).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, SKEIN_BIN, runSkein, startCp, tempDir, waitFor, type RunningCp } from '../harness.js';
import { adminGet, adminStat, startDp, type RunningDp } from '../dp-harness.js';

const NS = `skein-pt-${process.pid}`;
const DP_UID = 5678;
const CP_UID = 5679;
const REDIRECT_PORT_OUTBOUND = 15001;
// Fixed ports are fine: nothing else lives in the namespace.
const PORTS = { webInbound: 20001, webOutbound: 20002, clientInbound: 20003, clientService: 20004 };
const IN_NS = ['ip', 'netns', 'exec', NS];
const asUser = (uid: number): string[] => [...IN_NS, 'setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups'];
const AS_PROXY = asUser(DP_UID);
const ADDON = path.join(REPO_ROOT, 'node_modules', 'skein-original-dst');

function run(command: string[], input?: string): { ok: boolean; output: string } {
  const [cmd, ...args] = command;
  const r = spawnSync(cmd!, args, { encoding: 'utf8', input, timeout: 15_000 });
  if (r.error) return { ok: false, output: r.error.message };
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}`.trim() };
}

/** The line of a failed command's output that says what went wrong. */
function firstError(output: string): string {
  const lines = output.split('\n');
  return (lines.find((l) => /Error\b/.test(l)) ?? lines[0] ?? '').trim();
}

function mustRun(command: string[]): void {
  const r = run(command);
  if (!r.ok) throw new Error(`${command.join(' ')}: ${r.output}`);
}

/** Why this machine cannot run the suite, or undefined when it can. */
function unavailableReason(): string | undefined {
  if (process.platform !== 'linux') return 'transparent proxying needs Linux';
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, iptables)';
  for (const [tool, flag] of [['ip', '-V'], ['iptables', '-V'], ['setpriv', '--version']] as const) {
    if (!run([tool, flag]).ok) return `${tool} is not installed`;
  }
  const canLoad = (prefix: string[]): { ok: boolean; output: string } =>
    run([...prefix, process.execPath, '-e', `require(${JSON.stringify(ADDON)}); require('node:fs').accessSync(${JSON.stringify(SKEIN_BIN)}, require('node:fs').constants.R_OK)`]);
  const own = canLoad([]);
  if (!own.ok) return `the skein-original-dst addon is not built (run npm install): ${firstError(own.output)}`;
  const probe = `skein-probe-${process.pid}`;
  const added = run(['ip', 'netns', 'add', probe]);
  if (!added.ok) return `cannot create a network namespace: ${added.output}`;
  try {
    const rule = run(['ip', 'netns', 'exec', probe, 'iptables', '-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '-m', 'owner', '!', '--uid-owner', String(DP_UID), '-j', 'REDIRECT', '--to-ports', String(REDIRECT_PORT_OUTBOUND)]);
    if (!rule.ok) return `iptables cannot add a nat REDIRECT rule in a network namespace: ${rule.output}`;
    const asProxy = canLoad(['ip', 'netns', 'exec', probe, 'setpriv', `--reuid=${DP_UID}`, `--regid=${DP_UID}`, '--clear-groups']);
    if (!asProxy.ok) return `uid ${DP_UID} (the proxies' user) cannot read the checkout or the addon: ${firstError(asProxy.output)}`;
  } finally {
    run(['ip', 'netns', 'del', probe]);
  }
  return undefined;
}

const unavailable = unavailableReason();
const required = process.env['SKEIN_REQUIRE_TRANSPARENT'] === '1';

if (unavailable && !required) console.warn(`transparent proxy e2e skipped: ${unavailable}`);
if (unavailable && required) {
  describe('transparent proxying prerequisites', () => {
    it('are present (SKEIN_REQUIRE_TRANSPARENT=1)', () => {
      throw new Error(`SKEIN_REQUIRE_TRANSPARENT=1 but ${unavailable}`);
    });
  });
}

/** Runs a node script in the namespace as root (so its connections are redirected). */
function nsNode(script: string, args: string[]): ChildProcess {
  return spawn(IN_NS[0]!, [...IN_NS.slice(1), process.execPath, '-e', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

const SERVER_SCRIPT = `
const http = require('node:http');
const [name, host, port] = process.argv.slice(1);
const server = http.createServer((req, res) => res.end(name + ' says hi to ' + req.url));
server.listen(Number(port), host, () => console.log(JSON.stringify(server.address())));
process.on('SIGTERM', () => process.exit(0));`;

const CLIENT_SCRIPT = `
const http = require('node:http');
const [host, port, path] = process.argv.slice(1);
const req = http.get({ host, port: Number(port), path, agent: false, timeout: 3000 }, (res) => {
  let body = '';
  res.on('data', (d) => (body += d));
  res.on('end', () => console.log(JSON.stringify({ status: res.statusCode, body })));
});
req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
req.on('error', (err) => console.log(JSON.stringify({ error: err.code || err.message })));`;

/** A plain HTTP server inside the namespace; resolves with its port once it listens. */
async function startNsServer(name: string, host: string): Promise<{ proc: ChildProcess; port: number }> {
  const proc = nsNode(SERVER_SCRIPT, [name, host, '0']);
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const port = await waitFor(() => {
    if (proc.exitCode !== null) throw new Error(`${name} server exited with ${proc.exitCode}: ${out}`);
    const m = /"port":(\d+)/.exec(out);
    return m ? Number(m[1]) : undefined;
  }, { what: `${name} server` });
  return { proc, port };
}

interface AppResult {
  status?: number;
  body?: string;
  error?: string;
}

/** What the application (root, redirected) gets for GET http://host:port/path. */
async function appGet(host: string, port: number, urlPath: string): Promise<AppResult> {
  const proc = nsNode(CLIENT_SCRIPT, [host, String(port), urlPath]);
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((resolve) => proc.once('close', resolve));
  try {
    return JSON.parse(out.trim()) as AppResult;
  } catch {
    return { error: out.trim() };
  }
}

const stat = adminStat;

describe.skipIf(!!unavailable)(`transparent proxy: outbound passthrough${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  let cp: RunningCp;
  let client: RunningDp;
  const dps: RunningDp[] = [];
  const servers: ChildProcess[] = [];
  let externalPort: number;
  const dir = tempDir('passthrough');

  const skein = (args: string[], input?: string) => runSkein(['--api-url', cp.apiUrl, ...args], { prefix: IN_NS, input });

  async function proxyFiles(name: string, yaml: string): Promise<{ workDir: string; args: string[] }> {
    const token = await skein(['generate', 'dataplane-token', '--mesh', 'default', '--name', name, '--valid-for', '1h']);
    expect(token.code, token.stderr).toBe(0);
    fs.writeFileSync(path.join(dir, `${name}.token`), token.stdout.trim(), { mode: 0o644 });
    fs.writeFileSync(path.join(dir, `${name}.yaml`), yaml, { mode: 0o644 });
    const workDir = path.join(dir, `${name}-work`);
    fs.mkdirSync(workDir);
    fs.chownSync(workDir, DP_UID, DP_UID);
    return { workDir, args: ['--dataplane-file', path.join(dir, `${name}.yaml`), '--dataplane-token-file', path.join(dir, `${name}.token`)] };
  }

  beforeAll(async () => {
    fs.chmodSync(dir, 0o755);
    mustRun(['ip', 'netns', 'add', NS]);
    mustRun(['ip', '-n', NS, 'link', 'set', 'lo', 'up']);
    const cpWork = path.join(dir, 'cp-work');
    fs.mkdirSync(cpWork);
    fs.chownSync(cpWork, CP_UID, CP_UID);
    cp = await startCp({ prefix: asUser(CP_UID), workDir: cpWork });
    // The proxies run as uid DP_UID and cannot read the CP's work dir.
    const caCertFile = path.join(dir, 'cp-ca.crt');
    fs.copyFileSync(cp.caCertFile, caCertFile);
    fs.chmodSync(caCertFile, 0o644);

    // Kuma's transparent proxy, reduced to its core: the proxies' own connections (uid DP_UID) go out
    // as they are, everything else goes to the outbound redirect port. Not redirected either: the
    // control plane's connections (it proxies xDS to an internal port) and this test's API calls.
    mustRun([...IN_NS, 'iptables', '-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '-m', 'owner', '--uid-owner', String(CP_UID), '-j', 'RETURN']);
    mustRun([...IN_NS, 'iptables', '-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '-d', '127.0.0.1', '--dport', String(cp.apiPort), '-j', 'RETURN']);
    mustRun([...IN_NS, 'iptables', '-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '-m', 'owner', '!', '--uid-owner', String(DP_UID), '-j', 'REDIRECT', '--to-ports', String(REDIRECT_PORT_OUTBOUND)]);

    // "web" is in the mesh (behind the backend proxy); "external" is not.
    const web = await startNsServer('web', '127.0.0.1');
    const external = await startNsServer('external', '127.0.0.2');
    servers.push(web.proc, external.proc);
    externalPort = external.port;

    const backend = await proxyFiles('backend', `type: Dataplane
mesh: default
name: backend
networking:
  address: 127.0.0.1
  inbound:
    - port: ${PORTS.webInbound}
      servicePort: ${web.port}
      tags: { kuma.io/service: web, kuma.io/protocol: http }
`);
    const app = await proxyFiles('app', `type: Dataplane
mesh: default
name: app
networking:
  address: 127.0.0.1
  inbound:
    - port: ${PORTS.clientInbound}
      servicePort: ${PORTS.clientService}
      tags: { kuma.io/service: app }
  outbound:
    - port: ${PORTS.webOutbound}
      tags: { kuma.io/service: web }
  transparentProxying:
    redirectPortOutbound: ${REDIRECT_PORT_OUTBOUND}
    redirectPortInbound: 15006
`);
    dps.push(startDp(cp, backend.args, backend.workDir, { prefix: AS_PROXY, caCertFile }));
    client = startDp(cp, app.args, app.workDir, { prefix: AS_PROXY, caCertFile });
    dps.push(client);
  });

  afterAll(async () => {
    for (const dp of dps) await dp.stop();
    for (const s of servers) {
      if (s.exitCode === null) s.kill('SIGTERM');
      await new Promise((r) => (s.exitCode !== null ? r(undefined) : s.once('exit', r)));
    }
    await cp?.stop();
    run(['ip', 'netns', 'del', NS]);
  });

  const logs = (): string => dps.map((d) => d.logs()).join('\n');

  it('lets redirected traffic to a non-mesh destination out through the passthrough cluster (default: passthrough on)', async () => {
    const res = await waitFor(async () => {
      const r = await appGet('127.0.0.2', externalPort, '/outside');
      return r.status === 200 ? r : undefined;
    }, { timeoutMs: 30_000, what: () => `the external service through the proxy\n${logs()}` });
    expect(res.body).toBe('external says hi to /outside');
    // It went through the proxy's passthrough cluster, to the original destination.
    expect(await stat(client, 'cluster.outbound_passthrough_ipv4.upstream_cx_total')).toBeGreaterThanOrEqual(1);
    // The original destination shows as a host of that cluster (a config update may rebuild the
    // cluster and forget idle hosts, so look right after a request).
    await waitFor(async () => {
      await appGet('127.0.0.2', externalPort, '/outside');
      return (await adminGet(client, '/clusters')).includes(`outbound:passthrough:ipv4::127.0.0.2:${externalPort}::`);
    }, { timeoutMs: 10_000, what: 'the original destination among the passthrough cluster hosts' });
  });

  it('hands redirected connections to a mesh outbound over to its listener', async () => {
    const before = await stat(client, 'cluster.outbound_passthrough_ipv4.upstream_cx_total');
    const res = await waitFor(async () => {
      const r = await appGet('127.0.0.1', PORTS.webOutbound, '/mesh');
      return r.status === 200 ? r : undefined;
    }, { timeoutMs: 20_000, what: () => `the mesh service through the proxies\n${logs()}` });
    expect(res.body).toBe('web says hi to /mesh');
    expect(await stat(client, 'cluster.web.upstream_rq_total')).toBeGreaterThanOrEqual(1);
    expect(await stat(client, 'cluster.outbound_passthrough_ipv4.upstream_cx_total')).toBe(before);
  });

  it('closes connections to non-mesh destinations once the mesh turns passthrough off, and mesh traffic still flows', async () => {
    const applied = await skein(['apply', '-f', '-'], 'type: Mesh\nname: default\nnetworking:\n  outbound:\n    passthrough: false\n');
    expect(applied.code, applied.stderr).toBe(0);
    const refused = await waitFor(async () => {
      const r = await appGet('127.0.0.2', externalPort, '/outside');
      return r.error ? r : undefined;
    }, { timeoutMs: 20_000, what: () => `the external call to fail\n${logs()}` });
    expect(refused.status).toBeUndefined();
    expect(await stat(client, 'tcp.outbound_passthrough_ipv4.downstream_cx_no_route')).toBeGreaterThanOrEqual(1);
    expect(await adminGet(client, '/config_dump')).not.toContain('"ORIGINAL_DST"');
    // Still caught by the proxy (not sent around it): the passthrough listener is there.
    expect(await adminGet(client, '/config_dump')).toContain('outbound:passthrough:ipv4');

    const mesh = await appGet('127.0.0.1', PORTS.webOutbound, '/still');
    expect(mesh).toEqual({ status: 200, body: 'web says hi to /still' });

    // And back on.
    expect((await skein(['apply', '-f', '-'], 'type: Mesh\nname: default\nnetworking:\n  outbound:\n    passthrough: true\n')).code).toBe(0);
    await waitFor(async () => (await appGet('127.0.0.2', externalPort, '/again')).status === 200, { timeoutMs: 20_000, what: 'passthrough back on' });
  });
});
