// Cluster health_checks: active health checking as Envoy does it. Each host is checked every
// `interval` (no_traffic_interval while the cluster has seen no traffic); `unhealthy_threshold`
// network failures or timeouts in a row, or one wrong answer (an unexpected HTTP status, a TCP reply
// without the expected bytes), mark it `/failed_active_hc` and take it out of load balancing;
// `healthy_threshold` passes in a row bring it back. New hosts start failed until their first pass.
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { reject } from '../config-error.js';
import { checkFields, durationMs, list, num, obj, str, type Obj } from '../proto-values.js';
import { fingerprint } from '../fingerprint.js';
import { compileEventLoggers, type EventLog } from './health-check-events.js';
import type { Counter, Stats } from '../stats.js';
import type { UpstreamHost } from './load-balancer.js';

type Check =
  | { kind: 'tcp'; send: Buffer | undefined; receive: Buffer[] }
  | { kind: 'grpc'; serviceName: string; authority: string; metadata: [string, string][] }
  | { kind: 'http'; path: string; host: string; method: string; headers: [string, string][]; expected: [number, number][]; http2: boolean };

export interface HealthCheckSettings {
  timeoutMs: number;
  intervalMs: number;
  initialJitterMs: number;
  intervalJitterMs: number;
  intervalJitterPercent: number;
  unhealthyThreshold: number;
  healthyThreshold: number;
  noTrafficIntervalMs: number;
  noTrafficHealthyIntervalMs: number;
  unhealthyIntervalMs: number;
  unhealthyEdgeIntervalMs: number;
  healthyEdgeIntervalMs: number;
  altPort: number;
  check: Check;
  clusterName: string;
  /** event_logger; failures are logged for the first check only unless alwaysLogFailures. */
  eventLog: EventLog | undefined;
  alwaysLogFailures: boolean;
  /** Identifies these settings: hosts are checked from scratch when they change. */
  fingerprint: string;
}

const FIELDS = [
  'timeout', 'interval', 'initial_jitter', 'interval_jitter', 'interval_jitter_percent', 'unhealthy_threshold',
  'healthy_threshold', 'alt_port', 'reuse_connection', 'http_health_check', 'tcp_health_check', 'grpc_health_check', 'health_checker',
  'no_traffic_interval', 'no_traffic_healthy_interval', 'unhealthy_interval', 'unhealthy_edge_interval', 'healthy_edge_interval',
  'event_logger', 'always_log_health_check_failures',
];

/** Undefined when the cluster has no health_checks. */
export function compileHealthChecks(value: unknown, path: string, clusterName: string): HealthCheckSettings | undefined {
  const checks = list(value, path);
  if (checks.length === 0) return undefined;
  if (checks.length > 1) reject(path, 'only one health check per cluster is supported');
  const hpath = `${path}[0]`;
  const hc = checks[0];
  // reuse_connection is accepted either way: every check opens its own connection, which checks no less.
  checkFields(hc, hpath, FIELDS);
  const required = (field: string): number => {
    if (hc[field] === undefined) reject(`${hpath}.${field}`, 'is required');
    return durationMs(hc[field], 0);
  };
  const timeoutMs = required('timeout');
  const intervalMs = required('interval');
  if (timeoutMs <= 0 || intervalMs <= 0) reject(hpath, 'timeout and interval must be greater than 0');
  if (hc.unhealthy_threshold === undefined) reject(`${hpath}.unhealthy_threshold`, 'is required');
  if (hc.healthy_threshold === undefined) reject(`${hpath}.healthy_threshold`, 'is required');
  const unhealthyIntervalMs = durationMs(hc.unhealthy_interval, intervalMs);
  const noTrafficIntervalMs = durationMs(hc.no_traffic_interval, 60_000);
  const settings: Omit<HealthCheckSettings, 'fingerprint'> = {
    timeoutMs,
    intervalMs,
    initialJitterMs: durationMs(hc.initial_jitter, 0),
    intervalJitterMs: durationMs(hc.interval_jitter, 0),
    intervalJitterPercent: num(hc.interval_jitter_percent, 0),
    unhealthyThreshold: Math.max(1, num(hc.unhealthy_threshold, 1)),
    healthyThreshold: Math.max(1, num(hc.healthy_threshold, 1)),
    noTrafficIntervalMs,
    noTrafficHealthyIntervalMs: durationMs(hc.no_traffic_healthy_interval, noTrafficIntervalMs),
    unhealthyIntervalMs,
    unhealthyEdgeIntervalMs: durationMs(hc.unhealthy_edge_interval, unhealthyIntervalMs),
    healthyEdgeIntervalMs: durationMs(hc.healthy_edge_interval, intervalMs),
    altPort: num(hc.alt_port, 0),
    check: compileCheck(hc, hpath, clusterName),
    clusterName,
    eventLog: compileEventLoggers(hc.event_logger, `${hpath}.event_logger`),
    alwaysLogFailures: hc.always_log_health_check_failures === true,
  };
  return { ...settings, fingerprint: fingerprint(hc) };
}

function compileCheck(hc: Obj, path: string, clusterName: string): Check {
  if (hc.tcp_health_check) {
    const tpath = `${path}.tcp_health_check`;
    const tcp = obj(hc.tcp_health_check, tpath);
    checkFields(tcp, tpath, ['send', 'receive']);
    return {
      kind: 'tcp',
      send: tcp.send ? payload(tcp.send, `${tpath}.send`) : undefined,
      receive: list(tcp.receive, `${tpath}.receive`).map((p, i) => payload(p, `${tpath}.receive[${i}]`)),
    };
  }
  if (hc.http_health_check) {
    const hpath = `${path}.http_health_check`;
    const h = obj(hc.http_health_check, hpath);
    checkFields(h, hpath, ['host', 'path', 'request_headers_to_add', 'expected_statuses', 'codec_client_type', 'method']);
    const urlPath = str(h.path);
    if (!urlPath) reject(`${hpath}.path`, 'is required');
    const codec = str(h.codec_client_type) || 'HTTP1';
    if (codec !== 'HTTP1' && codec !== 'HTTP2') reject(`${hpath}.codec_client_type`, `${codec} is not supported (HTTP1, HTTP2)`);
    const method = str(h.method) || 'GET';
    if (method === 'METHOD_UNSPECIFIED') reject(`${hpath}.method`, 'must be set to a method');
    const expected = list(h.expected_statuses, `${hpath}.expected_statuses`).map((r, i): [number, number] => {
      checkFields(r, `${hpath}.expected_statuses[${i}]`, ['start', 'end']);
      const range: [number, number] = [num(r.start, 0), num(r.end, 0)];
      if (range[0] < 100 || range[1] > 600 || range[0] >= range[1]) reject(`${hpath}.expected_statuses[${i}]`, 'must be a range [start, end) within [100, 600)');
      return range;
    });
    const headers = list(h.request_headers_to_add, `${hpath}.request_headers_to_add`).map((o, i): [string, string] => {
      const opath = `${hpath}.request_headers_to_add[${i}]`;
      checkFields(o, opath, ['header', 'append', 'append_action', 'keep_empty_value']);
      const header = obj(o.header, `${opath}.header`);
      checkFields(header, `${opath}.header`, ['key', 'value']);
      return [str(header.key), str(header.value)];
    });
    return { kind: 'http', path: urlPath, host: str(h.host) || clusterName, method, headers, expected: expected.length ? expected : [[200, 201]], http2: codec === 'HTTP2' };
  }
  if (hc.grpc_health_check) {
    const gpath = `${path}.grpc_health_check`;
    const g = obj(hc.grpc_health_check, gpath);
    checkFields(g, gpath, ['service_name', 'authority', 'initial_metadata']);
    const metadata = list(g.initial_metadata, `${gpath}.initial_metadata`).map((m, i): [string, string] => {
      checkFields(m, `${gpath}.initial_metadata[${i}]`, ['key', 'value']);
      return [str(m.key).toLowerCase(), str(m.value)];
    });
    return { kind: 'grpc', serviceName: str(g.service_name), authority: str(g.authority) || clusterName, metadata };
  }
  return reject(path, 'one of http_health_check, tcp_health_check, grpc_health_check is required (custom checks are not supported)');
}

function payload(value: unknown, path: string): Buffer {
  const p = obj(value, path);
  checkFields(p, path, ['text', 'binary', 'payload']);
  if (p.text !== undefined) {
    const hex = str(p.text);
    if (!/^([0-9a-fA-F]{2})+$/.test(hex)) reject(`${path}.text`, 'must be hex-encoded bytes');
    return Buffer.from(hex, 'hex');
  }
  if (p.binary instanceof Uint8Array) return Buffer.from(p.binary);
  return reject(path, 'one of text, binary is required');
}

type Outcome = 'success' | 'network' | 'active';

interface CheckStats {
  attempt: Counter;
  success: Counter;
  failure: Counter;
  networkFailure: Counter;
  healthy: Counter;
}

export class HealthChecker {
  private readonly timers = new Map<UpstreamHost, NodeJS.Timeout>();
  private stopped = false;
  private readonly stats: CheckStats;

  constructor(
    private readonly settings: HealthCheckSettings,
    private readonly hosts: UpstreamHost[],
    stats: Stats,
    statName: string,
    /** Whether the cluster has carried traffic (else no_traffic_interval applies). */
    private readonly hadTraffic: () => boolean,
    /** A host changed state: rebuild the load balancer. */
    private readonly onChange: () => void,
    /** A check passed (outlier detection may bring an ejected host back). */
    private readonly onPass: (host: UpstreamHost) => void,
  ) {
    const stat = (s: string): Counter => stats.cluster(statName, `health_check.${s}`);
    this.stats = {
      attempt: stat('attempt'),
      success: stat('success'),
      failure: stat('failure'),
      networkFailure: stat('network_failure'),
      healthy: stats.clusterGauge(statName, 'health_check.healthy'),
    };
  }

  start(): void {
    const now = Date.now();
    for (const host of this.hosts) {
      const h = host.health;
      if (h.hcSettings !== this.settings.fingerprint) {
        // New host, or new check settings: unhealthy until the first check passes, as in Envoy.
        h.hcSettings = this.settings.fingerprint;
        h.failedActiveHc = true;
        h.pendingActiveHc = true;
        h.hcSuccesses = 0;
        h.hcFailures = 0;
        h.nextCheckAt = now + Math.random() * this.settings.initialJitterMs;
      }
      this.schedule(host, Math.max(0, h.nextCheckAt - now));
    }
    this.syncHealthy();
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  private schedule(host: UpstreamHost, delayMs: number): void {
    const timer = setTimeout(() => this.check(host), delayMs);
    timer.unref();
    this.timers.set(host, timer);
  }

  private check(host: UpstreamHost): void {
    if (this.stopped) return;
    this.stats.attempt.value++;
    const socketPath = this.settings.altPort ? undefined : host.pool.options.socketPath;
    const target: Target = socketPath ? { path: socketPath } : { host: host.address, port: this.settings.altPort || host.port };
    const tlsOptions = host.pool.options.tls;
    const check = this.settings.check;
    const timeoutMs = this.settings.timeoutMs;
    const run = check.kind === 'tcp'
      ? tcpCheck(target, tlsOptions, check, timeoutMs)
      : check.kind === 'http'
        ? (check.http2 ? http2Check : httpCheck)(target, tlsOptions, check, timeoutMs)
        : grpcCheck(target, tlsOptions, check, timeoutMs);
    void run.then((outcome) => this.onOutcome(host, outcome));
  }

  private onOutcome(host: UpstreamHost, outcome: Outcome): void {
    if (this.stopped) return;
    const s = this.settings;
    const h = host.health;
    const first = h.pendingActiveHc;
    h.pendingActiveHc = false;
    const wasFailed = h.failedActiveHc;
    if (outcome === 'success') {
      this.stats.success.value++;
      h.hcFailures = 0;
      h.hcSuccesses++;
      if (h.failedActiveHc && (first || h.hcSuccesses >= s.healthyThreshold)) h.failedActiveHc = false;
      this.onPass(host);
    } else {
      this.stats.failure.value++;
      if (outcome === 'network') this.stats.networkFailure.value++;
      h.hcSuccesses = 0;
      h.hcFailures++;
      // A wrong answer fails the host at once; network failures and timeouts need the threshold.
      if (outcome === 'active' || h.hcFailures >= s.unhealthyThreshold) h.failedActiveHc = true;
    }
    const changed = wasFailed !== h.failedActiveHc;
    this.logEvent(host, outcome, first, changed);
    let interval: number;
    if (!this.hadTraffic()) interval = h.failedActiveHc ? s.noTrafficIntervalMs : s.noTrafficHealthyIntervalMs;
    else if (changed) interval = h.failedActiveHc ? s.unhealthyEdgeIntervalMs : s.healthyEdgeIntervalMs;
    else interval = h.failedActiveHc ? s.unhealthyIntervalMs : s.intervalMs;
    interval += Math.random() * (s.intervalJitterMs + (interval * s.intervalJitterPercent) / 100);
    h.nextCheckAt = Date.now() + interval;
    this.schedule(host, interval);
    if (changed) {
      this.syncHealthy();
      this.onChange();
    }
  }

  private logEvent(host: UpstreamHost, outcome: Outcome, first: boolean, changed: boolean): void {
    const log = this.settings.eventLog;
    if (!log) return;
    const base = {
      health_checker_type: this.settings.check.kind.toUpperCase(),
      host: { socket_address: { address: host.address, port_value: host.port } },
      cluster_name: this.settings.clusterName,
    };
    if (outcome === 'success') {
      if (changed) log({ ...base, add_healthy_event: { first_check: first } });
      return;
    }
    const failureType = outcome === 'network' ? 'NETWORK' : 'ACTIVE';
    if (changed) log({ ...base, eject_unhealthy_event: { failure_type: failureType } });
    if (first || this.settings.alwaysLogFailures) log({ ...base, health_check_failure_event: { failure_type: failureType, first_check: first } });
  }

  private syncHealthy(): void {
    this.stats.healthy.value = this.hosts.filter((h) => !h.health.failedActiveHc).length;
  }
}

/** Connects; sends the payload if any; passes once every expected block has arrived, in order. */
type Target = { host: string; port: number } | { path: string };

function tcpCheck(target: Target, tlsOptions: tls.ConnectionOptions | undefined, check: Extract<Check, { kind: 'tcp' }>, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = tlsOptions ? tls.connect({ ...target, ...tlsOptions }) : net.connect(target);
    let received = Buffer.alloc(0);
    let connected = false;
    const done = (outcome: Outcome): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => done('network'), timeoutMs);
    socket.once(tlsOptions ? 'secureConnect' : 'connect', () => {
      connected = true;
      if (check.send) socket.write(check.send);
      if (check.receive.length === 0) done('success');
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (containsInOrder(received, check.receive)) done('success');
    });
    socket.on('error', () => done('network'));
    socket.on('close', () => done(connected ? 'active' : 'network'));
  });
}

function containsInOrder(data: Buffer, blocks: Buffer[]): boolean {
  let from = 0;
  for (const block of blocks) {
    const at = data.indexOf(block, from);
    if (at < 0) return false;
    from = at + block.length;
  }
  return true;
}

function httpCheck(target: Target, tlsOptions: tls.ConnectionOptions | undefined, check: Extract<Check, { kind: 'http' }>, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (outcome: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(outcome);
    };
    const options: https.RequestOptions = {
      ...('path' in target ? { socketPath: target.path } : target),
      method: check.method,
      path: check.path,
      agent: false,
      headers: { host: check.host, 'user-agent': 'Envoy/HC', ...Object.fromEntries(check.headers) },
      ...(tlsOptions ?? {}),
    };
    const req = tlsOptions ? https.request(options) : http.request(options);
    const timer = setTimeout(() => done('network'), timeoutMs);
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      const ok = check.expected.some(([start, end]) => status >= start && status < end);
      res.resume();
      done(ok ? 'success' : 'active');
    });
    req.on('error', () => done('network'));
    req.end();
  });
}

/** The HTTP check over HTTP/2 (codec_client_type HTTP2): prior knowledge, as the cluster's own requests. */
function http2Check(target: Target, tlsOptions: tls.ConnectionOptions | undefined, check: Extract<Check, { kind: 'http' }>, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const where = 'path' in target ? { path: target.path } : target;
    const session = tlsOptions
      ? http2.connect('https://localhost', { createConnection: () => tls.connect({ ...where, ...tlsOptions, ALPNProtocols: tlsOptions.ALPNProtocols ?? ['h2'] }) })
      : http2.connect('http://localhost', { createConnection: () => net.connect(where as net.NetConnectOpts) });
    let settled = false;
    const done = (outcome: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => done('network'), timeoutMs);
    session.on('error', () => done('network'));
    const req = session.request({ ':method': check.method, ':path': check.path, ':authority': check.host, 'user-agent': 'Envoy/HC', ...Object.fromEntries(check.headers.map(([k, v]) => [k.toLowerCase(), v])) });
    req.on('response', (headers) => {
      const status = Number(headers[':status'] ?? 0);
      done(check.expected.some(([start, end]) => status >= start && status < end) ? 'success' : 'active');
    });
    req.on('error', () => done('network'));
    req.end();
  });
}

const HealthClient = grpc.makeGenericClientConstructor(healthService, 'Health');

/** grpc.health.v1.Health/Check: passes when the service answers SERVING. */
function grpcCheck(target: Target, tlsOptions: tls.ConnectionOptions | undefined, check: Extract<Check, { kind: 'grpc' }>, timeoutMs: number): Promise<Outcome> {
  const address = 'path' in target ? `unix:${target.path}` : `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
  const credentials = tlsOptions
    ? grpc.credentials.createSsl(pem(tlsOptions.ca), pem(tlsOptions.key), pem(tlsOptions.cert), { checkServerIdentity: tlsOptions.checkServerIdentity })
    : grpc.credentials.createInsecure();
  const options: grpc.ChannelOptions = { 'grpc.default_authority': check.authority };
  if (tlsOptions?.servername) options['grpc.ssl_target_name_override'] = tlsOptions.servername;
  const client = new HealthClient(address, credentials, options);
  const metadata = new grpc.Metadata();
  for (const [k, v] of check.metadata) metadata.add(k, v);
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      '/grpc.health.v1.Health/Check',
      healthService.Check.requestSerialize,
      healthService.Check.responseDeserialize,
      { service: check.serviceName },
      metadata,
      { deadline: Date.now() + timeoutMs },
      (err: grpc.ServiceError | null, response?: { status?: string }) => {
        client.close();
        // A gRPC error status is an answer (active failure); no connection is a network failure.
        if (err) resolve(err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED ? 'network' : 'active');
        else resolve(response?.status === 'SERVING' ? 'success' : 'active');
      },
    );
  });
}

function pem(value: unknown): Buffer | null {
  if (value === undefined || value === null) return null;
  if (Array.isArray(value)) return Buffer.concat(value.map((v) => Buffer.from(v as string)));
  return Buffer.from(value as string);
}
