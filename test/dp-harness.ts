// Data plane side of the test harness: `skein dp run` processes, local services, and small
// clients (HTTP, TCP echo, admin API over the Unix socket).
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { SKEIN_BIN, spawnNode, tempDir, type RunningCp } from './harness.js';

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
