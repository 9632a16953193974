// Test harness: start real `skein` processes (built product, bin/skein.js) and wait for them.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const SKEIN_BIN = path.join(REPO_ROOT, 'bin', 'skein.js');

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `skein-${prefix}-`));
}

export interface RunningCp {
  proc: ChildProcess;
  apiUrl: string;
  apiPort: number;
  diagnosticsPort: number;
  dpPort: number;
  /** The DP server over TLS, as `skein dp run --cp-address` takes it. */
  dpUrl: string;
  /** The CP's work dir, and the self-signed DP server certificate it generated there (`--ca-cert-file`). */
  workDir: string;
  caCertFile: string;
  logs: () => string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL (no shutdown hooks) and wait for exit. */
  kill(): Promise<void>;
}

export interface CpOptions {
  store?: 'memory' | 'embedded' | 'postgres';
  dataDir?: string;
  postgresUrl?: string;
  args?: string[];
  env?: Record<string, string>;
  /** Fixed ports (for restart tests); 0 = pick a free one. */
  apiPort?: number;
  dpPort?: number;
  /** Reuse a work dir (and so the DP server certificate) across restarts; default: a fresh one. */
  workDir?: string;
  /** Command the process runs under, e.g. `['ip', 'netns', 'exec', 'ns1']`. */
  prefix?: string[];
}

/** Spawns `node <args>`, under a command prefix (e.g. `ip netns exec <ns>`) when one is given. */
export function spawnNode(args: string[], opts: { prefix?: string[]; env?: NodeJS.ProcessEnv; stdio: StdioOptions }): ChildProcess {
  const [command, ...rest] = [...(opts.prefix ?? []), process.execPath, ...args];
  const child = spawn(command!, rest, { env: opts.env ?? process.env, stdio: opts.stdio });
  recordRunning(child);
  return child;
}

/** Notes the process in test/global-setup.ts's directory until it exits (killed at the run's end). */
function recordRunning(child: ChildProcess): void {
  const dir = process.env['SKEIN_TEST_PID_DIR'];
  if (!dir || child.pid === undefined) return;
  const file = path.join(dir, String(child.pid));
  fs.writeFileSync(file, '');
  child.once('exit', () => fs.rmSync(file, { force: true }));
}

/** Starts `skein cp run` on free ports and resolves once its `control plane ready` log line appears. */
export async function startCp(opts: CpOptions = {}): Promise<RunningCp> {
  const workDir = opts.workDir ?? tempDir('cpwork');
  const args = [
    SKEIN_BIN, 'cp', 'run',
    '--store', opts.store ?? 'memory',
    '--api-port', String(opts.apiPort ?? 0),
    '--dp-port', String(opts.dpPort ?? 0),
    '--diagnostics-port', '0',
    '--kds-port', '0',
    '--api-address', '127.0.0.1',
    '--diagnostics-address', '127.0.0.1',
    '--work-dir', workDir,
  ];
  if (opts.dataDir) args.push('--data-dir', opts.dataDir);
  if (opts.postgresUrl) args.push('--postgres-url', opts.postgresUrl);
  args.push(...(opts.args ?? []));
  const proc = spawnNode(args, { prefix: opts.prefix, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));

  // A CP that never becomes ready is not left behind.
  const ready = await waitFor(
    () => {
      for (const line of output.split('\n')) {
        if (!line.includes('control plane ready')) continue;
        try {
          return JSON.parse(line) as { apiPort: number; diagnosticsPort: number; dpPort?: number };
        } catch {
          /* partial line */
        }
      }
      if (proc.exitCode !== null) throw new Error(`control plane exited with ${proc.exitCode}:\n${output}`);
      return undefined;
    },
    { timeoutMs: 60_000, what: 'control plane ready' },
  ).catch(async (err: unknown) => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await exited;
    throw err;
  });
  const stopWith = async (signal: NodeJS.Signals) => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    await exited;
  };
  return {
    proc,
    apiPort: ready.apiPort,
    apiUrl: `http://127.0.0.1:${ready.apiPort}`,
    diagnosticsPort: ready.diagnosticsPort,
    dpPort: ready.dpPort ?? 0,
    dpUrl: `https://127.0.0.1:${ready.dpPort ?? 0}`,
    workDir,
    caCertFile: path.join(workDir, 'dp-server.crt'),
    logs: () => output,
    stop: () => stopWith('SIGTERM'),
    kill: () => stopWith('SIGKILL'),
  };
}

/** Polls `check` until it returns a value other than undefined/false. */
export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  opts: { timeoutMs?: number; intervalMs?: number; /** A function is called at the timeout (e.g. to show logs as they are then). */ what?: string | (() => string) } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastError = err;
      if (err instanceof Error && err.message.includes('exited with')) throw err;
    }
    if (Date.now() > deadline) {
      const what = typeof opts.what === 'function' ? opts.what() : opts.what;
      throw new Error(`timed out waiting for ${what ?? 'condition'}${lastError ? `: ${String(lastError)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
  }
}

export interface HttpResult {
  status: number;
  body: unknown;
  text: string;
  headers: Headers;
}

/** Small JSON-over-HTTP client for the REST API. */
export async function api(baseUrl: string, method: string, urlPath: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpResult> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${baseUrl}${urlPath}`, init);
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON: callers use `text` */
  }
  return { status: res.status, body: parsed, text, headers: res.headers };
}

/** PUT or DELETE through the REST API; throws with the API's answer unless it succeeded. */
export async function apiOk(cp: { apiUrl: string }, method: 'PUT' | 'DELETE', urlPath: string, body?: unknown): Promise<void> {
  const res = await api(cp.apiUrl, method, urlPath, body);
  if (res.status >= 300) throw new Error(`${method} ${urlPath}: ${res.status} ${res.text}`);
}

/** POST JSON over http:// or https:// (verified against `ca` when given). */
export function postJson(url: string, body: unknown, ca?: string): Promise<{ status: number; text: string }> {
  const payload = JSON.stringify(body);
  const u = new URL(url);
  const options: https.RequestOptions = { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }, agent: false, timeout: 5000 };
  if (ca) options.ca = ca;
  return new Promise((resolve, reject) => {
    const req = (u.protocol === 'https:' ? https : http).request(u, options, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Runs the real `skein` CLI and returns its exit code and output. */
export async function runSkein(
  args: string[],
  opts: { input?: string; env?: Record<string, string>; prefix?: string[] } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = spawnNode([SKEIN_BIN, ...args], { prefix: opts.prefix, env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  // A CLI that exits before reading its input closes the pipe (EPIPE); its exit code tells the story.
  proc.stdin!.on('error', () => undefined);
  proc.stdin!.end(opts.input ?? '');
  const code = await new Promise<number>((resolve) => proc.once('close', (c) => resolve(c ?? 1)));
  return { code, stdout, stderr };
}

/** PostgreSQL used by tests; `SKEIN_REQUIRE_POSTGRES=1` (CI) turns "unreachable" into a failure. */
export const TEST_POSTGRES_URL = process.env['SKEIN_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
