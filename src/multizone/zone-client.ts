// Zone side of multi-zone sync: dials the global CP, receives global resources (stored with
// `kuma.io/origin: global`) and sends the zone's own resources. Reconnects with backoff; every
// (re)connect starts with a full exchange in both directions, so restarts converge.
import fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { ORIGIN_LABEL } from '../api/well-known.js';
import type { ResourceStore } from '../store/store.js';
import type { Logger } from '../observability/logger.js';
import type { CpMetrics } from '../observability/metrics.js';
import { SKEIN_VERSION } from '../version.js';
import { globalToZoneTypes, isRemoteOnZone, mapKeyOnZone, mapOnZone, syncedOnZone, zoneOutbound, zoneToGlobalTypes, zoneToZoneTypes } from './naming.js';
import { OutboundSession, storeKeyId, storeVersion, type OutboundEntry, type OutboundSource } from './outbound.js';
import type { Resource } from '../api/resource.js';
import { AUTHORIZATION_MD, CLIENT_ID_MD, KdsClient, type SyncMessage } from './protocol.js';
import { SyncReceiver } from './receiver.js';

export interface KdsClientOptions {
  store: ResourceStore;
  zone: string;
  /** `grpcs://host:port` (TLS) or `grpc://host:port` (plaintext). */
  globalAddress: string;
  /** PEM file of the CA (or self-signed cert) that signed global's KDS certificate; default: system roots. */
  rootCaFile?: string;
  tlsSkipVerify?: boolean;
  /** Zone token sent as `authorization` metadata. */
  authToken?: string;
  logger: Logger;
  /**
   * After a full resync, how long other zones' resources that global did not send are kept before
   * they are removed (unless global sends them again meanwhile).
   */
  relayedRemovalGraceMs?: number;
  /** Backoff bounds for reconnects. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Sync lag of what this zone sends to global, connection state. */
  metrics?: CpMetrics;
}

export interface KdsZoneClient {
  /** True while both streams are open and the first full set from global was applied. */
  synced(): boolean;
  stop(): Promise<void>;
}

export function parseGlobalAddress(address: string): { target: string; tls: boolean } {
  const m = /^([a-z]+):\/\/(.+)$/.exec(address);
  const scheme = m?.[1] ?? '';
  if (scheme !== 'grpc' && scheme !== 'grpcs') throw new Error(`unsupported scheme "${scheme}" in global address ${address}. Use one of [grpc grpcs]`);
  return { target: m![2]!.replace(/\/+$/, ''), tls: scheme === 'grpcs' };
}

type Stream = grpc.ClientDuplexStream<SyncMessage, SyncMessage>;

export function startKdsClient(opts: KdsClientOptions): KdsZoneClient {
  const { store, zone, logger } = opts;
  const { target, tls } = parseGlobalAddress(opts.globalAddress);
  const creds = tls
    ? grpc.credentials.createSsl(opts.rootCaFile ? fs.readFileSync(opts.rootCaFile) : null, null, null, opts.tlsSkipVerify ? { rejectUnauthorized: false } : {})
    : grpc.credentials.createInsecure();
  const minBackoff = opts.minBackoffMs ?? 500;
  const maxBackoff = opts.maxBackoffMs ?? 10_000;
  const zoneTypes = zoneToGlobalTypes();

  let stopped = false;
  let client: grpc.Client | undefined;
  let streams: Stream[] = [];
  let outbound: OutboundSession | undefined;
  let isSynced = false;
  let backoff = minBackoff;
  let retryTimer: NodeJS.Timeout | undefined;
  let attempt = 0;

  const receiver = new SyncReceiver({
    store,
    // Global's own resources, plus other zones' Dataplanes/ZoneIngresses global forwards (remote
    // zone proxies and service endpoints: they carry `kuma.io/zone: <their zone>`).
    types: [...globalToZoneTypes(), ...zoneToZoneTypes()],
    scope: { [ORIGIN_LABEL]: 'global' },
    owns: (r) => syncedOnZone(r, zone),
    mapResource: mapOnZone,
    mapKey: mapKeyOnZone,
    logger: logger.child({ stream: 'global-to-zone' }),
    // Other zones' resources: a global that restarted empty relays them again once those zones
    // have reconnected to it; keep them meanwhile, so cross-zone traffic goes on.
    deferredRemoval: { applies: (r) => isRemoteOnZone(r, zone), graceMs: opts.relayedRemovalGraceMs ?? 30_000 },
  });

  const toEntry = (r: Resource): OutboundEntry | undefined => {
    const w = zoneOutbound(r, zone);
    return w && { id: storeKeyId(r), wire: w, version: storeVersion(r) };
  };
  const source: OutboundSource = {
    all: async () => {
      const out: OutboundEntry[] = [];
      for (const type of zoneTypes) {
        for (const r of await store.list(type)) {
          const e = toEntry(r);
          if (e) out.push(e);
        }
      }
      return out;
    },
    some: async (keys) => {
      const rs = await Promise.all(keys.filter((k) => zoneTypes.includes(k.type)).map((k) => store.get(k)));
      const out: OutboundEntry[] = [];
      for (const r of rs) {
        const e = r && toEntry(r);
        if (e) out.push(e);
      }
      return out;
    },
  };

  const unwatch = store.watch((e) => {
    if (zoneTypes.includes(e.type)) outbound?.schedule(e);
  });

  const metadata = (): grpc.Metadata => {
    const md = new grpc.Metadata();
    md.set(CLIENT_ID_MD, zone);
    md.set('kds-version', 'v3');
    md.set('zone-version', 'v3');
    md.add('features', 'hash-suffix');
    md.add('features', 'zone-ping-health');
    md.set('version', SKEIN_VERSION);
    if (opts.authToken) md.set(AUTHORIZATION_MD, `Bearer ${opts.authToken}`);
    return md;
  };

  const teardown = () => {
    outbound?.close();
    outbound = undefined;
    for (const s of streams) s.cancel();
    streams = [];
    client?.close();
    client = undefined;
    isSynced = false;
    opts.metrics?.kdsConnectedZones.set(0);
  };

  const reconnectLater = (reason: string) => {
    if (stopped || retryTimer) return;
    teardown();
    const delay = backoff;
    backoff = Math.min(maxBackoff, backoff * 2);
    logger.warn({ reason, retryInMs: delay }, 'connection to global lost; reconnecting');
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      connect();
    }, delay);
  };

  const connect = () => {
    if (stopped) return;
    const myAttempt = ++attempt;
    const current = () => myAttempt === attempt && !stopped;
    client = new KdsClient(target, creds, { 'grpc.max_receive_message_length': 10 * 1024 * 1024, 'grpc.keepalive_time_ms': 15_000 });
    const c = client as unknown as {
      GlobalToZoneSync(md: grpc.Metadata): Stream;
      ZoneToGlobalSync(md: grpc.Metadata): Stream;
    };

    // Global → zone: apply in order, ACK each message.
    const g2z = c.GlobalToZoneSync(metadata());
    let chain = Promise.resolve();
    g2z.on('data', (m: SyncMessage) => {
      chain = chain.then(async () => {
        if (!current()) return;
        try {
          const r = await receiver.apply(m);
          if (m.full) {
            isSynced = true;
            opts.metrics?.kdsConnectedZones.set(1);
            backoff = minBackoff;
            logger.info({ ...r }, 'synced with global');
          } else {
            logger.debug({ ...r }, 'applied global resources');
          }
          g2z.write({ ack: m.nonce ?? '' });
        } catch (err) {
          logger.warn({ err }, 'could not apply global resources');
          g2z.write({ ack: m.nonce ?? '', error: (err as Error).message });
        }
      });
    });
    g2z.on('error', (err: Error) => current() && reconnectLater(err.message));
    g2z.on('end', () => current() && reconnectLater('global closed the stream'));

    // Zone → global: our own resources, full set first.
    const z2g = c.ZoneToGlobalSync(metadata());
    const session = new OutboundSession((m) => z2g.write(m), source, logger.child({ stream: 'zone-to-global' }), 50, zoneTypes);
    session.onAnswered = (lag, ok) => {
      opts.metrics?.kdsSyncLag.observe({ zone, direction: 'zone-to-global' }, lag);
      opts.metrics?.kdsMessages.inc({ zone, direction: 'zone-to-global', result: ok ? 'ack' : 'nack' });
    };
    z2g.on('data', (m: SyncMessage) => {
      if (m.ack !== undefined) session.onAck(m);
    });
    z2g.on('error', (err: Error) => current() && reconnectLater(err.message));
    z2g.on('end', () => current() && reconnectLater('global closed the stream'));
    streams = [g2z, z2g];
    outbound = session;
    session.start();
    logger.info({ global: opts.globalAddress, zone }, 'connecting to global');
  };

  connect();

  return {
    synced: () => isSynced,
    stop: async () => {
      stopped = true;
      receiver.close();
      if (retryTimer) clearTimeout(retryTimer);
      unwatch();
      teardown();
    },
  };
}
