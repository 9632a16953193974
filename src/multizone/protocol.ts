// The KDS-like wire protocol: one gRPC service, two bidirectional streams, JSON messages.
//   GlobalToZoneSync: the zone opens it; global sends SyncMessages, the zone ACKs them.
//   ZoneToGlobalSync: the zone opens it and sends SyncMessages; global ACKs them.
// The first message in each direction after (re)connect is `full: true`: the complete set, so the
// receiver removes whatever synced resource it holds that is not in it (resync after restarts).
// Messages are JSON (a custom codec; no .proto needed); resources are Kuma-format objects.
import * as grpc from '@grpc/grpc-js';
import type { WireKey, WireResource } from './naming.js';

export const KDS_SERVICE = 'skein.multizone.v1.KDSSyncService';

export interface SyncMessage {
  /** Set by the sender of resources; echoed in `ack`. */
  nonce?: string;
  /** The complete set: the receiver drops synced resources not listed. */
  full?: boolean;
  upserts?: WireResource[];
  removals?: WireKey[];
  /** ACK (or NACK with `error`) of the message with this nonce. */
  ack?: string;
  error?: string;
}

const serialize = (m: SyncMessage): Buffer => Buffer.from(JSON.stringify(m));
const deserialize = (b: Buffer): SyncMessage => JSON.parse(b.toString('utf8')) as SyncMessage;

function bidi(path: string): grpc.MethodDefinition<SyncMessage, SyncMessage> {
  return {
    path: `/${KDS_SERVICE}/${path}`,
    requestStream: true,
    responseStream: true,
    requestSerialize: serialize,
    requestDeserialize: deserialize,
    responseSerialize: serialize,
    responseDeserialize: deserialize,
  };
}

export const kdsServiceDefinition = {
  GlobalToZoneSync: bidi('GlobalToZoneSync'),
  ZoneToGlobalSync: bidi('ZoneToGlobalSync'),
} satisfies grpc.ServiceDefinition;

export type KdsStream = grpc.ServerDuplexStream<SyncMessage, SyncMessage> | grpc.ClientDuplexStream<SyncMessage, SyncMessage>;

export const KdsClient = grpc.makeGenericClientConstructor(kdsServiceDefinition, 'KDSSyncService');

/** Metadata keys (Kuma's): the zone names itself in `client-id`; a zone token goes in `authorization`. */
export const CLIENT_ID_MD = 'client-id';
export const AUTHORIZATION_MD = 'authorization';
