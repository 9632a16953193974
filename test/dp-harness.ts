// Data plane side of the test harness: `skein dp run` processes, local services, and small
// clients (HTTP, TCP echo, admin API over the Unix socket).
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { runSkein, SKEIN_BIN, spawnNode, tempDir, type RunningCp } from './harness.js';

export interface RunningDp {
  proc: ChildProcess;
  logs: () => string;
  workDir: string;
  stop(): Promise<void>;
}

export interface DpOptions {
  /** Command the proxy runs under, e.g. `['ip', 'netns', 'exec', 'ns1', 'setpriv', '--reuid=5678', ...]`. */
  prefix?: string[];
  /** CA certificate to verify the CP with, when the proxy cannot read the CP's work dir. */
  caCertFile?: string;
}

/** `skein dp run` against the CP's DP server (TLS, verified with the CP's certificate). */
export function startDp(cp: RunningCp, args: string[], workDir = tempDir('dp'), opts: DpOptions = {}): RunningDp {
  return startDpProcess(['--cp-address', cp.dpUrl, '--ca-cert-file', opts.caCertFile ?? cp.caCertFile, ...args], workDir, opts);
}

/** `skein dp run` with exactly these arguments (plus its own work dir). */
export function startDpProcess(args: string[], workDir = tempDir('dp'), opts: DpOptions = {}): RunningDp {
  const proc = spawnNode([SKEIN_BIN, 'dp', 'run', '--work-dir', workDir, ...args], { prefix: opts.prefix, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return {
    proc,
    workDir,
    logs: () => output,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export async function httpGet(port: number, p = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent: false, timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Sends `message` to an echo service and resolves with what came back (rejects on reset). */
export async function tcpEcho(port: number, message: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(message));
    let got = '';
    socket.setTimeout(3000, () => socket.destroy(new Error('timeout')));
    socket.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.length >= message.length + 5) socket.end();
    });
    socket.on('end', () => resolve(got));
    socket.on('error', reject);
  });
}

/** A tiny HTTP service answering `<name> says hi to <path>`. */
export async function startHttpService(name: string): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req, res) => res.end(`${name} says hi to ${req.url}`));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as AddressInfo).port };
}

/** A TCP service answering every chunk with `echo:<chunk>`. */
export async function startEchoService(): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer((s) => s.on('data', (d: Buffer) => s.write(`echo:${d.toString()}`)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as AddressInfo).port };
}

/** GET on a DP's admin API, which listens only on a Unix socket in its work dir. */
export async function adminGet(dp: RunningDp, p: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath: path.join(dp.workDir, 'skein-dp-admin.sock'), path: p, timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
  });
}

export function writeFile(dir: string, name: string, content: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

/** A counter from a DP's admin `/stats` (0 when it does not exist yet). */
export async function adminStat(dp: RunningDp, name: string): Promise<number> {
  const line = (await adminGet(dp, '/stats')).split('\n').find((l) => l.startsWith(`${name}:`));
  return line ? Number(line.slice(name.length + 1).trim()) : 0;
}

/** A dataplane token for `mesh`/`name` issued by the CP (`skein generate dataplane-token`), as a file in `dir`. */
export async function dataplaneTokenFile(cp: { apiUrl: string }, dir: string, mesh: string, name: string): Promise<string> {
  const res = await runSkein(['generate', 'dataplane-token', '--api-url', cp.apiUrl, '--mesh', mesh, '--name', name, '--valid-for', '1h']);
  if (res.code !== 0) throw new Error(`generate dataplane-token failed: ${res.stderr}`);
  return writeFile(dir, `${mesh}-${name}.token`, res.stdout.trim());
}

/** A Universal sidecar Dataplane on 127.0.0.1 that serves one service and calls others by name; returns its file. */
export function writeSidecar(dir: string, opts: { name: string; mesh?: string; inbound: { port: number; servicePort: number; service: string }; outbound?: { port: number; service: string }[] }): string {
  const lines = [
    'type: Dataplane',
    `mesh: ${opts.mesh ?? 'default'}`,
    `name: ${opts.name}`,
    'networking:',
    '  address: 127.0.0.1',
    '  inbound:',
    `    - { port: ${opts.inbound.port}, servicePort: ${opts.inbound.servicePort}, tags: { kuma.io/service: ${opts.inbound.service} } }`,
  ];
  if (opts.outbound?.length) lines.push('  outbound:', ...opts.outbound.map((o) => `    - { port: ${o.port}, tags: { kuma.io/service: ${o.service} } }`));
  return writeFile(dir, `${opts.name}.yaml`, `${lines.join('\n')}\n`);
}

/** A mesh-scoped zone egress (SKEIN-SPEC §2) named `egress`, listening on 127.0.0.1:`port`. */
export function writeZoneEgress(dir: string, mesh: string, port: number): string {
  return writeFile(dir, 'egress.yaml', `type: Dataplane
mesh: ${mesh}
name: egress
labels: { kuma.io/proxy-type: zoneproxy, kuma.io/zone-proxy-role: egress }
networking:
  address: 127.0.0.1
  listeners:
    - { type: ZoneEgress, port: ${port} }
`);
}
