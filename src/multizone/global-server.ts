// Global side of multi-zone sync (KDS): serves both streams on the KDS port over TLS, registers
// zones (`Zone`), records `ZoneInsight` subscriptions, pushes global resources to every connected
// zone and stores what zones send, labelled and renamed as Kuma does.
import crypto from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { ZONE_LABEL, ORIGIN_LABEL } from '../api/well-known.js';
import { parsePrivateKey, publicKeyPem } from '../auth/signing-keys.js';
import { AlreadyExistsError, ConflictError, type ResourceStore } from '../store/store.js';
import type { Logger } from '../observability/logger.js';
import type { CpMetrics } from '../observability/metrics.js';
import { globalOutbound, globalToZoneTypes, mapKeyOnGlobal, mapOnGlobal, zoneToGlobalTypes, zoneToZoneTypes } from './naming.js';
import { OutboundSession, storeKeyId, storeVersion, type OutboundEntry, type OutboundSource } from './outbound.js';
import type { Resource } from '../api/resource.js';
import { AUTHORIZATION_MD, CLIENT_ID_MD, kdsServiceDefinition, type SyncMessage } from './protocol.js';
import { SyncReceiver } from './receiver.js';

export interface ZoneIdentity {
  zone: string;
  /** The zone token from `authorization` metadata (`Bearer ` stripped), if any. */
  token?: string;
  metadata: grpc.Metadata;
}

/**
 * Decides whether a zone CP may sync. Throw to reject the stream (the message goes back to the
 * zone as UNAUTHENTICATED). Kuma OSS accepts any zone over TLS; wire zone-token verification here.
 */
export type ZoneAuthenticator = (id: ZoneIdentity) => Promise<void>;

/** Reads the zone identity from stream metadata and runs the authenticator hook. */
export async function authenticateZone(metadata: grpc.Metadata, authenticator?: ZoneAuthenticator): Promise<ZoneIdentity> {
  const zone = String(metadata.get(CLIENT_ID_MD)[0] ?? '');
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(zone)) throw new Error(`invalid or missing ${CLIENT_ID_MD} metadata: "${zone}"`);
  const auth = metadata.get(AUTHORIZATION_MD);
  const raw = auth.length === 1 ? String(auth[0]) : undefined;
  const id: ZoneIdentity = { zone, metadata };
  if (raw) id.token = raw.replace(/^Bearer\s+/i, '');
  if (authenticator) await authenticator(id);
  return id;
}

export interface KdsServerOptions {
  store: ResourceStore;
  port: number;
  host: string;
  /** PEM cert/key (the DP server's generated or provided certificate). */
  certPem: string;
  keyPem: string;
  instanceId: string;
  logger: Logger;
  authenticator?: ZoneAuthenticator;
  /** Sync lag and message counts per zone, connected zones. */
  metrics?: CpMetrics;
}

export interface KdsServer {
  port: number;
  /** Zones with an open GlobalToZoneSync stream. */
  connectedZones(): string[];
  close(): Promise<void>;
}

interface Subscription {
  id: string;
  globalInstanceId: string;
  connectTime: string;
  disconnectTime?: string;
  authTokenProvided: boolean;
  status: {
    lastUpdateTime?: string;
    total: { responsesSent: number; responsesAcknowledged: number; responsesRejected: number };
    /** Sync lag toward the zone: age of the oldest unacknowledged message, last acknowledgement latency. */
    syncLag?: { pendingMs: number; lastAckMs?: number };
  };
  zoneToGlobal?: { connectTime: string; disconnectTime?: string; messagesReceived: number; lastUpdateTime?: string };
}

const SUBSCRIPTION_LIMIT = 10;

export async function startKdsServer(opts: KdsServerOptions): Promise<KdsServer> {
  const { store, logger } = opts;
  const sessions = new Set<OutboundSession>();
  const connected = new Map<string, number>();
  const insightQueues = new Map<string, Promise<void>>();
  const outboundTypes = [...globalToZoneTypes(), ...zoneToZoneTypes()];
  const unwatch = store.watch((e) => {
    if (outboundTypes.includes(e.type)) for (const s of sessions) s.schedule(e);
  });

  /** What zone `zone` gets: global's resources plus the OTHER zones' forwarded Dataplanes/ZoneIngresses. */
  const sourceFor = (zone: string): OutboundSource => {
    const toEntry = (r: Resource): OutboundEntry | undefined => {
      const w = globalOutbound(r, zoneTokenPublicKey, zone);
      return w && { id: storeKeyId(r), wire: w, version: storeVersion(r) };
    };
    return {
      all: async () => {
        const out: OutboundEntry[] = [];
        for (const type of outboundTypes) {
          for (const r of await store.list(type)) {
            const e = toEntry(r);
            if (e) out.push(e);
          }
        }
        return out;
      },
      some: async (keys) => {
        const rs = await Promise.all(keys.filter((k) => outboundTypes.includes(k.type)).map((k) => store.get(k)));
        const out: OutboundEntry[] = [];
        for (const r of rs) {
          const e = r && toEntry(r);
          if (e) out.push(e);
        }
        return out;
      },
    };
  };

  /** Serialised read-modify-write of a zone's insight. */
  const updateInsight = (zone: string, fn: (subs: Subscription[]) => void): Promise<void> => {
    const prev = insightQueues.get(zone) ?? Promise.resolve();
    const next = prev.then(async () => {
      for (let attempt = 0; attempt < 5; attempt++) {
        const existing = await store.get({ type: 'ZoneInsight', mesh: '', name: zone });
        const subs = structuredClone(((existing?.spec['subscriptions'] as Subscription[] | undefined) ?? []));
        fn(subs);
        const spec = { subscriptions: subs.slice(-SUBSCRIPTION_LIMIT) };
        try {
          if (existing) await store.update({ type: 'ZoneInsight', mesh: '', name: zone, labels: existing.labels, spec, version: existing.version });
          else await store.create({ type: 'ZoneInsight', mesh: '', name: zone, labels: {}, spec });
          return;
        } catch (err) {
          if (!(err instanceof AlreadyExistsError || err instanceof ConflictError)) throw err;
        }
      }
    }).catch((err: Error) => logger.warn({ err, zone }, 'could not update zone insight'));
    insightQueues.set(zone, next);
    return next;
  };

  const createZoneIfAbsent = async (zone: string): Promise<void> => {
    if (await store.get({ type: 'Zone', mesh: '', name: zone })) return;
    try {
      await store.create({ type: 'Zone', mesh: '', name: zone, labels: {}, spec: { enabled: true } });
      logger.info({ zone }, 'zone successfully created');
    } catch (err) {
      if (!(err instanceof AlreadyExistsError)) throw err;
    }
  };

  const reject = (call: grpc.ServerDuplexStream<SyncMessage, SyncMessage>, err: Error) => {
    logger.warn({ err: err.message }, 'rejected zone sync stream');
    // grpc-js turns an 'error' event on a server stream into the call's status.
    call.emit('error', Object.assign(new Error(err.message), { code: grpc.status.UNAUTHENTICATED, details: err.message }));
  };

  /** Authenticates the zone and registers it; undefined (stream rejected) when it may not sync. */
  const admit = async (call: grpc.ServerDuplexStream<SyncMessage, SyncMessage>): Promise<ZoneIdentity | undefined> => {
    try {
      const id = await authenticateZone(call.metadata, opts.authenticator);
      await createZoneIfAbsent(id.zone);
      return id;
    } catch (err) {
      reject(call, err as Error);
      return undefined;
    }
  };

  const globalToZone = async (call: grpc.ServerDuplexStream<SyncMessage, SyncMessage>): Promise<void> => {
    const id = await admit(call);
    if (!id) return;
    const zone = id.zone;
    const subId = crypto.randomUUID();
    const log = logger.child({ zone, stream: 'global-to-zone' });
    connected.set(zone, (connected.get(zone) ?? 0) + 1);
    opts.metrics?.kdsConnectedZones.set(connected.size);
    await updateInsight(zone, (subs) => {
      subs.push({
        id: subId,
        globalInstanceId: opts.instanceId,
        connectTime: new Date().toISOString(),
        authTokenProvided: id.token !== undefined,
        status: { total: { responsesSent: 0, responsesAcknowledged: 0, responsesRejected: 0 } },
      });
    });
    log.info('zone connected');
    let flushTimer: NodeJS.Timeout | undefined;
    const flushStats = () => {
      if (flushTimer) return;
      flushTimer = setTimeout(() => {
        flushTimer = undefined;
        void updateInsight(zone, (subs) => {
          const s = subs.find((x) => x.id === subId);
          if (s) s.status = statusOf(session);
        });
      }, 1000);
    };
    const session = new OutboundSession(
      (m) => {
        call.write(m);
        flushStats();
      },
      sourceFor(zone),
      log,
      50,
      outboundTypes,
    );
    session.onAnswered = (lag, ok) => {
      opts.metrics?.kdsSyncLag.observe({ zone, direction: 'global-to-zone' }, lag);
      opts.metrics?.kdsMessages.inc({ zone, direction: 'global-to-zone', result: ok ? 'ack' : 'nack' });
    };
    sessions.add(session);
    call.on('data', (m: SyncMessage) => {
      if (m.ack !== undefined) {
        session.onAck(m);
        flushStats();
      }
    });
    const done = () => {
      if (!sessions.delete(session)) return;
      session.close();
      if (flushTimer) clearTimeout(flushTimer);
      connected.set(zone, (connected.get(zone) ?? 1) - 1);
      if (connected.get(zone) === 0) connected.delete(zone);
      opts.metrics?.kdsConnectedZones.set(connected.size);
      log.info('zone disconnected');
      void updateInsight(zone, (subs) => {
        const s = subs.find((x) => x.id === subId);
        if (s) {
          s.disconnectTime = new Date().toISOString();
          s.status = statusOf(session);
        }
      });
    };
    call.on('end', () => {
      done();
      call.end();
    });
    call.on('error', done);
    call.on('close', done);
    call.on('cancelled', done);
    session.start();
  };

  const zoneToGlobal = async (call: grpc.ServerDuplexStream<SyncMessage, SyncMessage>): Promise<void> => {
    const id = await admit(call);
    if (!id) return;
    const zone = id.zone;
    const log = logger.child({ zone, stream: 'zone-to-global' });
    const receiver = new SyncReceiver({
      store,
      types: zoneToGlobalTypes(),
      scope: { [ORIGIN_LABEL]: 'zone', [ZONE_LABEL]: zone },
      mapResource: (w) => mapOnGlobal(w, zone),
      mapKey: (k) => mapKeyOnGlobal(k, zone),
      logger: log,
    });
    const connectTime = new Date().toISOString();
    let received = 0;
    // Messages are applied one at a time, in order.
    let chain = Promise.resolve();
    call.on('data', (m: SyncMessage) => {
      chain = chain.then(async () => {
        try {
          const r = await receiver.apply(m);
          opts.metrics?.kdsMessages.inc({ zone, direction: 'zone-to-global', result: 'applied' });
          received++;
          log.debug({ ...r, full: m.full }, 'applied zone resources');
          call.write({ ack: m.nonce ?? '' });
        } catch (err) {
          log.warn({ err }, 'could not apply zone resources');
          call.write({ ack: m.nonce ?? '', error: (err as Error).message });
        }
        void updateInsight(zone, (subs) => {
          const s = subs[subs.length - 1];
          if (s) s.zoneToGlobal = { connectTime, messagesReceived: received, lastUpdateTime: new Date().toISOString() };
        });
      });
    });
    call.on('end', () => call.end());
    call.on('error', () => undefined);
  };

  const server = new grpc.Server({ 'grpc.max_receive_message_length': 10 * 1024 * 1024, 'grpc.keepalive_time_ms': 15_000 });
  server.addService(kdsServiceDefinition, {
    GlobalToZoneSync: (call: grpc.ServerDuplexStream<SyncMessage, SyncMessage>) => void globalToZone(call),
    ZoneToGlobalSync: (call: grpc.ServerDuplexStream<SyncMessage, SyncMessage>) => void zoneToGlobal(call),
  });
  const creds = grpc.ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(opts.certPem), private_key: Buffer.from(opts.keyPem) }], false);
  const hostPort = opts.host.includes(':') ? `[${opts.host}]:${opts.port}` : `${opts.host}:${opts.port}`;
  const port = await new Promise<number>((resolve, reject) => server.bindAsync(hostPort, creds, (err, p) => (err ? reject(err) : resolve(p))));

  return {
    port,
    connectedZones: () => [...connected.keys()],
    close: async () => {
      unwatch();
      for (const s of sessions) s.close();
      sessions.clear();
      // Sync streams never end on their own: cut them (zones reconnect with backoff).
      server.forceShutdown();
      await Promise.all([...insightQueues.values()]);
    },
  };
}

/** Private zone-token keys go to zones as their public halves (base64 of the PEM, like the private). */
function zoneTokenPublicKey(privateData: string): string | undefined {
  try {
    return Buffer.from(publicKeyPem(parsePrivateKey(privateData))).toString('base64');
  } catch {
    return undefined;
  }
}

function statusOf(session: OutboundSession): Subscription['status'] {
  const { lastUpdateTime, responsesSent, responsesAcknowledged, responsesRejected, lastAckLatencyMs } = session.stats;
  return {
    lastUpdateTime,
    total: { responsesSent, responsesAcknowledged, responsesRejected },
    syncLag: { pendingMs: session.lagMs(), ...(lastAckLatencyMs !== undefined ? { lastAckMs: lastAckLatencyMs } : {}) },
  };
}
