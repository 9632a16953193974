// The ADS gRPC service: SotW (StreamAggregatedResources, for proxyless gRPC and older Envoys) and
// Delta (DeltaAggregatedResources, for Envoy and the Skein data plane), both over one snapshot cache.
import * as grpc from '@grpc/grpc-js';
import { adsPackageDefinition } from '../../envoy/protos.js';
import type { SnapshotCache } from '../cache/snapshot-cache.js';
import type { AdsStream, StreamContext } from './ads-stream.js';
import { DeltaStream } from './delta-stream.js';
import type { StreamInfo, XdsHooks, XdsLogger, XdsProtocol } from './hooks.js';
import type { DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse } from './messages.js';
import { SotwStream } from './sotw-stream.js';
import { XdsStatusRegistry } from './xds-status.js';

export interface AdsServiceOptions {
  cache: SnapshotCache;
  hooks?: XdsHooks;
  logger: XdsLogger;
}

export interface AdsService {
  /** Per-node stream counts and per-type sent/ACKed versions and last NACK. */
  readonly status: XdsStatusRegistry;
  /** Ends every open stream (the proxies reconnect). */
  closeAllStreams(): void;
}

interface AdsServiceDefinition {
  envoy: { service: { discovery: { v3: { AggregatedDiscoveryService: { service: grpc.ServiceDefinition } } } } };
}

/** Registers the ADS service on an existing gRPC server. */
export function addAdsService(server: grpc.Server, options: AdsServiceOptions): AdsService {
  const ctx: StreamContext = {
    cache: options.cache,
    hooks: options.hooks ?? {},
    logger: options.logger,
    status: new XdsStatusRegistry(),
    streams: new Set(),
  };
  let lastStreamId = 0;
  const infoOf = (call: grpc.ServerDuplexStream<unknown, unknown>, protocol: XdsProtocol): StreamInfo => ({
    streamId: ++lastStreamId,
    protocol,
    peer: call.getPeer(),
  });

  const proto = grpc.loadPackageDefinition(adsPackageDefinition()) as unknown as AdsServiceDefinition;
  server.addService(proto.envoy.service.discovery.v3.AggregatedDiscoveryService.service, {
    StreamAggregatedResources: (call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>) => {
      new SotwStream(call, ctx, infoOf(call, 'sotw'));
    },
    DeltaAggregatedResources: (call: grpc.ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>) => {
      new DeltaStream(call, ctx, infoOf(call, 'delta'));
    },
  });
  return {
    status: ctx.status,
    closeAllStreams: () => {
      for (const stream of [...ctx.streams] as AdsStream<never, never>[]) {
        stream.fail(grpc.status.UNAVAILABLE, 'xDS server shutting down');
      }
    },
  };
}

/**
 * Server options for many long-lived streams: no per-connection stream cap (one multiplexing
 * client may hold thousands), keepalive to notice proxies that vanished without closing.
 */
export const XDS_SERVER_OPTIONS: grpc.ServerOptions = {
  'grpc.max_concurrent_streams': 2 ** 31 - 1,
  'grpc.max_receive_message_length': 16 * 1024 * 1024,
  'grpc.max_send_message_length': -1,
  'grpc.keepalive_time_ms': 60_000,
  'grpc.keepalive_timeout_ms': 20_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 10_000,
};

export interface StartXdsServerOptions extends AdsServiceOptions {
  /** 0 picks a free port. */
  port: number;
  host?: string;
  /** Defaults to insecure (plaintext); pass grpc.ServerCredentials.createSsl(...) for TLS. */
  credentials?: grpc.ServerCredentials;
}

export interface XdsServer extends AdsService {
  port: number;
  close(): Promise<void>;
}

export async function startXdsServer(options: StartXdsServerOptions): Promise<XdsServer> {
  const server = new grpc.Server(XDS_SERVER_OPTIONS);
  const ads = addAdsService(server, options);
  const host = options.host ?? '127.0.0.1';
  const address = host.includes(':') ? `[${host}]:${options.port}` : `${host}:${options.port}`;
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(address, options.credentials ?? grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    ),
  );
  options.logger.info({ port }, 'xDS server listening');
  return {
    port,
    status: ads.status,
    closeAllStreams: ads.closeAllStreams,
    close: async () => {
      ads.closeAllStreams();
      await new Promise<void>((resolve) => {
        // A peer that never lets its connection go must not hold shutdown up.
        const force = setTimeout(() => server.forceShutdown(), 2_000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
    },
  };
}
