// How the control plane plugs into the xDS server: authentication, lifecycle and ACK/NACK events.
import type { Metadata } from '@grpc/grpc-js';
import type { XdsNode } from './node.js';

export type XdsProtocol = 'sotw' | 'delta';

export interface StreamInfo {
  /** Unique per server, for logs. */
  streamId: number;
  protocol: XdsProtocol;
  /** Remote address as gRPC reports it. */
  peer: string;
}

export interface ErrorDetail {
  code: number;
  message: string;
}

export interface XdsHooks {
  /**
   * Called on a stream's first request (the one carrying the node), before anything is sent.
   * Throwing closes the stream with UNAUTHENTICATED and the error's message.
   */
  onStreamOpen?(node: XdsNode, metadata: Metadata, info: StreamInfo): Promise<void> | void;
  /**
   * Called when a node id gets its first open stream, after authentication and before the stream
   * is served: the place to generate the node's snapshot lazily. Throwing closes the stream
   * with UNAVAILABLE (the proxy retries).
   */
  onNodeConnected?(node: XdsNode): Promise<void> | void;
  /** Called when the last open stream of a node id closes. */
  onNodeDisconnected?(nodeId: string): void;
  /** Called once per stream that passed onStreamOpen, whatever ended it. */
  onStreamClosed?(node: XdsNode, info: StreamInfo): void;
  /** The proxy applied `version` of `typeUrl`. */
  onAck?(nodeId: string, typeUrl: string, version: string): void;
  /** The proxy rejected `version` of `typeUrl` and keeps its previous configuration. */
  onNack?(nodeId: string, typeUrl: string, version: string, errorDetail: ErrorDetail): void;
}

/** The subset of a pino logger the server uses. */
export interface XdsLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}
