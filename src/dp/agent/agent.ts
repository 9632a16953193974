// `skein dp run` without the CLI: admin socket, bootstrap with the control plane, then Delta ADS.
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import type { Logger } from 'pino';
import YAML from 'yaml';
import { Engine } from '../engine/engine.js';
import { ADMIN_SOCKET_NAME, startAdminServer, type AdminServer } from '../admin/admin-server.js';
import { startReadinessServer, type ReadinessServer } from '../admin/readiness-server.js';
import { MeshMetricPusher } from '../admin/otel-push.js';
import { Backoff } from './backoff.js';
import { BootstrapHttpError, requestBootstrap, type BootstrapRequestBody, type BootstrapResult, type ProxyType } from './bootstrap-client.js';
import { DeltaAdsClient } from './delta-ads-client.js';
import { certificateVerificationFailure, isPlaintextPeer, xdsCredentials } from './cp-tls.js';
import { jsonToStruct } from './struct.js';
import { startAccessLogStreamer, type AccessLogStreamer } from './access-log-streamer.js';
import { SKEIN_VERSION } from '../../version.js';

export interface RunDataplaneOptions {
  /** Control plane dp-server URL, e.g. https://localhost:5678. */
  cpAddress: string;
  /** Optional when the Dataplane resource names the proxy. */
  mesh?: string;
  name?: string;
  /** Dataplane resource (YAML or JSON) sent with the bootstrap request: a file, or the text itself. */
  dataplaneFile?: string;
  dataplaneYaml?: string;
  /**
   * `dataplane` (default): a Dataplane (sidecar or mesh-scoped zone proxy). `ingress` / `egress`: a
   * legacy global-scoped ZoneIngress / ZoneEgress, authenticated with a zone token.
   */
  proxyType?: ProxyType;
  token?: string;
  tokenFile?: string;
  workDir: string;
  caCertFile?: string;
  /** The CA certificate itself (PEM), as KUMA_CONTROL_PLANE_CA_CERT carries it; used when no file is given. */
  caCertPem?: string;
  /** TCP port for GET /ready (kubelet probes); undefined = none. */
  readinessPort?: number;
  readinessAddress?: string;
  /** Certificate and key files of a MeshMetric Prometheus listener with `tls.mode: ProvidedTLS`. */
  metricsCertPath?: string;
  metricsKeyPath?: string;
  logger: Logger;
  /** Human-readable progress lines (what the proxy is waiting for); `skein dp run` prints them on stdout. */
  progress?: (line: string) => void;
}

export interface RunningDataplane {
  engine: Engine;
  /** Resolves when the first Listeners and Clusters are applied; rejects if bootstrap fails for good. */
  ready: Promise<void>;
  adminSocketPath: string;
  stop(): Promise<void>;
}

export function runDataplane(opts: RunDataplaneOptions): RunningDataplane {
  const { logger } = opts;
  const engine = new Engine();
  const adminSocketPath = path.join(opts.workDir, ADMIN_SOCKET_NAME);
  const stopping = new AbortController();
  let admin: AdminServer | undefined;
  let readiness: ReadinessServer | undefined;
  let ads: DeltaAdsClient | undefined;
  let accessLogs: AccessLogStreamer | undefined;
  let pusher: MeshMetricPusher | undefined;
  let warm = false;
  // Each state is said once, not on every retry.
  let lastProgress = '';
  const progress = (line: string) => {
    if (line === lastProgress) return;
    lastProgress = line;
    opts.progress?.(line);
  };

  const ready = (async () => {
    // 0711: others may traverse to reach a socket they are allowed to, but not list the directory.
    fs.mkdirSync(opts.workDir, { recursive: true, mode: 0o711 });
    admin = await startAdminServer(adminSocketPath, engine, () => warm);
    logger.info({ socket: adminSocketPath }, 'admin API listening on a Unix socket');
    if (opts.readinessPort !== undefined) {
      readiness = await startReadinessServer(opts.readinessPort, opts.readinessAddress ?? '0.0.0.0', () => warm);
      logger.info({ port: readiness.port }, 'readiness endpoint GET /ready listening');
    }

    const token = readToken(opts);
    const dataplaneResource = opts.dataplaneYaml ?? (opts.dataplaneFile ? fs.readFileSync(opts.dataplaneFile, 'utf8') : '');
    const proxyType = opts.proxyType ?? 'dataplane';
    const identity = identityFrom(opts, dataplaneResource);
    // MeshAccessLog Tcp backends: the pipe the proxy logs to and the agent forwards from.
    accessLogs = startAccessLogStreamer(path.join(opts.workDir, `kuma-al-${identity.name}-${identity.mesh}.sock`), logger);
    const ca = opts.caCertFile ? fs.readFileSync(opts.caCertFile) : opts.caCertPem ? Buffer.from(opts.caCertPem) : undefined;
    const cpTls = new URL(opts.cpAddress).protocol === 'https:';
    if (cpTls && !ca) logger.warn({ cpAddress: opts.cpAddress }, 'control plane certificate is not verified: pass --ca-cert-file');
    if (!cpTls) logger.warn({ cpAddress: opts.cpAddress }, 'talking to the control plane in plaintext: use an https:// --cp-address');
    const body: BootstrapRequestBody = {
      // A legacy zone proxy is global-scoped: it serves every mesh.
      mesh: proxyType === 'dataplane' ? identity.mesh : '',
      name: identity.name,
      proxyType,
      dataplaneToken: token,
      dataplaneResource,
      version: { kumaDp: { version: SKEIN_VERSION }, envoy: { version: `skein-engine/${SKEIN_VERSION}`, kumaDpCompatible: true } },
      workdir: opts.workDir,
      operatingSystem: os.platform(),
      features: [],
    };
    const boot = await bootstrapUntilAccepted(opts.cpAddress, body, ca, logger, stopping.signal, identity.zoneProxy, progress);
    progress(`bootstrap received: node ${boot.nodeId}, xDS server ${boot.xds.host}:${boot.xds.port}`);

    // Never downgrade: a control plane reached over TLS is also reached over TLS for xDS.
    const credentials = xdsCredentials(boot.xds.tls || cpTls, ca);
    ads = new DeltaAdsClient({
      engine,
      target: `${boot.xds.host.includes(':') ? `[${boot.xds.host}]` : boot.xds.host}:${boot.xds.port}`,
      credentials,
      token,
      logger,
      node: {
        id: boot.nodeId,
        cluster: identity.name,
        user_agent_name: 'skein-dp',
        user_agent_version: SKEIN_VERSION,
        metadata: jsonToStruct({
          ...boot.nodeMetadata,
          'dataplane.token': token || undefined,
          'dataplane.proxyType': proxyType,
          'dataplane.admin.socketPath': adminSocketPath,
          accessLogSocketPath: accessLogs?.path,
          'dataplane.metrics.certPath': opts.metricsCertPath,
          'dataplane.metrics.keyPath': opts.metricsKeyPath,
          'dataplane.resource': dataplaneResource ? JSON.stringify(YAML.parse(dataplaneResource)) : undefined,
          version: { kumaDp: { version: SKEIN_VERSION } },
        }),
      },
    });
    if (stopping.signal.aborted) throw new Error('data plane stopped');
    // MeshMetric OpenTelemetry backends: the stats are pushed by the agent, as kuma-dp does.
    pusher = new MeshMetricPusher(engine, { 'service.name': identity.name, 'kuma.mesh': identity.mesh }, (backend, err) =>
      logger.debug({ backend, err: err.message }, 'MeshMetric OpenTelemetry export failed'),
    );
    ads.start();
    logger.info({ nodeId: boot.nodeId }, 'waiting for the first configuration (Listeners and Clusters) from the control plane');
    progress('waiting for the first configuration (listeners and clusters) from the control plane…');
    await ads.firstConfig;
    warm = true;
    logger.info({ nodeId: boot.nodeId }, 'first configuration applied; data plane is ready');
    progress(readyLine(engine));
  })();
  // Callers may only await stop(); a failed start-up must not become an unhandled rejection.
  ready.catch((err: Error) => {
    logger.error({ err: err.message }, 'data plane failed to start');
    if (!stopping.signal.aborted) progress(`failed: ${err.message}`);
  });

  return {
    engine,
    ready,
    adminSocketPath,
    async stop() {
      stopping.abort();
      ads?.stop();
      await ready.catch(() => undefined);
      ads?.stop();
      pusher?.stop();
      await engine.stop();
      accessLogs?.close();
      await readiness?.close();
      await admin?.close();
    },
  };
}

/** `ready: 2 listeners (inbound:127.0.0.1:10001 on 127.0.0.1:10001, …), 3 clusters (…)`. */
function readyLine(engine: Engine): string {
  const listeners = engine.listeners().map((l) => (l.name === `${l.host}:${l.port}` ? l.name : `${l.name} on ${l.host}:${l.port}`));
  const clusters = engine.clusters().map((c) => c.name);
  const list = (items: string[]) => (items.length > 0 ? ` (${items.join(', ')})` : '');
  return `ready: ${listeners.length} listener${listeners.length === 1 ? '' : 's'}${list(listeners)}, ${clusters.length} cluster${clusters.length === 1 ? '' : 's'}${list(clusters)}`;
}

function readToken(opts: RunDataplaneOptions): string {
  if (opts.token) return opts.token.trim();
  if (opts.tokenFile) return fs.readFileSync(opts.tokenFile, 'utf8').trim();
  return '';
}

/** Name and mesh from the Dataplane resource when given (it names the proxy), else from the flags. */
function identityFrom(opts: RunDataplaneOptions, dataplaneResource: string): { mesh: string; name: string; zoneProxy: boolean } {
  let fromFile: { name?: unknown; mesh?: unknown; labels?: unknown } = {};
  if (dataplaneResource) {
    try {
      fromFile = (YAML.parse(dataplaneResource) ?? {}) as typeof fromFile;
    } catch (err) {
      throw new Error(`dataplane resource ${opts.dataplaneFile ?? '(inline)'}: ${(err as Error).message}`, { cause: err });
    }
  }
  const mesh = (typeof fromFile.mesh === 'string' ? fromFile.mesh : '') || opts.mesh || 'default';
  const name = (typeof fromFile.name === 'string' ? fromFile.name : '') || opts.name || '';
  if (!name) throw new Error('a data plane name is required (flag or "name" in the dataplane file)');
  const labels = fromFile.labels && typeof fromFile.labels === 'object' ? (fromFile.labels as Record<string, unknown>) : {};
  return { mesh, name, zoneProxy: labels['kuma.io/proxy-type'] === 'zoneproxy' };
}

/** Retries while the answer may change (CP unreachable, mesh or Dataplane not there yet). */
/**
 * What the proxy logs while its mesh does not exist (bootstrap answered 422 `mesh: mesh "<m>" does
 * not exist`); a zone proxy (SKEIN-SPEC §2) says so, since it may well be deployed before its mesh.
 */
export function meshNotFoundMessage(mesh: string, zoneProxy: boolean): string {
  return zoneProxy ? `Mesh '${mesh}' not found. Zone proxy waiting for mesh creation.` : `Mesh '${mesh}' not found. Waiting for mesh creation.`;
}

async function bootstrapUntilAccepted(
  cpAddress: string,
  body: BootstrapRequestBody,
  ca: Buffer | undefined,
  logger: Logger,
  stop: AbortSignal,
  zoneProxy = false,
  progress: (line: string) => void = () => undefined,
): Promise<BootstrapResult> {
  const backoff = new Backoff(500, 5000);
  progress(`waiting for bootstrap from ${cpAddress} (mesh '${body.mesh}', proxy '${body.name}')…`);
  for (;;) {
    if (stop.aborted) throw new Error('data plane stopped');
    logger.info({ cpAddress, mesh: body.mesh, name: body.name }, 'waiting for bootstrap from the control plane');
    try {
      const result = await requestBootstrap(cpAddress, body, ca);
      logger.info({ nodeId: result.nodeId, xdsServer: `${result.xds.host}:${result.xds.port}`, tls: result.xds.tls }, 'bootstrap received');
      return result;
    } catch (err) {
      if (err instanceof BootstrapHttpError && !err.retryable) {
        // Retrying cannot help (bad token, invalid Dataplane, mesh constraints): say why, then give up.
        logger.error({ status: err.status, reason: err.body }, `bootstrap refused by the control plane: ${err.body || `HTTP ${err.status}`}`);
        throw err;
      }
      const delay = backoff.next();
      let failure: ReturnType<typeof certificateVerificationFailure>;
      if (err instanceof BootstrapHttpError && err.status === 422) {
        logger.warn({ status: err.status, body: err.body, retryInMs: delay }, meshNotFoundMessage(body.mesh, zoneProxy));
        progress(`mesh '${body.mesh}' not found, waiting for it to be created…`);
      } else if (err instanceof BootstrapHttpError) {
        logger.warn({ status: err.status, body: err.body, retryInMs: delay }, 'bootstrap not accepted yet; retrying');
        progress(`bootstrap not accepted yet (HTTP ${err.status}), retrying…`);
      } else if ((failure = certificateVerificationFailure(err))) {
        logger.error({ cpAddress, code: failure.code, reason: failure.reason, retryInMs: delay }, `control plane certificate verification failed: ${failure.reason}; retrying`);
        progress(`control plane certificate verification failed (${failure.reason}), retrying…`);
      } else if (isPlaintextPeer(err)) {
        logger.error({ cpAddress, err: (err as Error).message, retryInMs: delay }, 'TLS handshake failed: the control plane does not serve TLS at this address (use http:// for a --dp-server-plaintext port); retrying');
        progress(`the control plane at ${cpAddress} does not serve TLS, retrying…`);
      } else {
        logger.warn({ err: (err as Error).message, retryInMs: delay }, 'control plane not reachable; retrying');
        progress(`control plane not reachable at ${cpAddress} (${(err as Error).message}), waiting for it…`);
      }
      await sleep(delay, stop);
    }
  }
}

function sleep(ms: number, stop: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      stop.removeEventListener('abort', done);
      resolve();
    }
    stop.addEventListener('abort', done);
  });
}
