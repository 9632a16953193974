// What SotW and Delta streams share: node identity and authentication on the first request,
// serial processing of requests and snapshot changes, node connect/disconnect bookkeeping,
// ACK/NACK reporting, and closing with a gRPC status.
import { status as GrpcStatus, type ServerDuplexStream } from '@grpc/grpc-js';
import type { SnapshotCache } from '../cache/snapshot-cache.js';
import type { Snapshot } from '../cache/snapshot.js';
import type { ErrorDetail, StreamInfo, XdsHooks, XdsLogger } from './hooks.js';
import { nodeFromMessage, type NodeMessage, type XdsNode } from './node.js';
import type { XdsStatusRegistry } from './xds-status.js';

export interface StreamContext {
  cache: SnapshotCache;
  hooks: XdsHooks;
  logger: XdsLogger;
  status: XdsStatusRegistry;
  /** Every open stream, so the server can close them on shutdown. */
  streams: Set<AdsStream<never, never>>;
}

interface RequestBase {
  node?: NodeMessage | null;
  type_url: string;
}

export abstract class AdsStream<Req extends RequestBase, Res> {
  protected node?: XdsNode;
  protected snapshot?: Snapshot;
  private work: Promise<void> = Promise.resolve();
  private closed = false;
  private authenticated = false;
  private unwatch?: () => void;
  private nonceCounter = 0;

  constructor(
    private readonly call: ServerDuplexStream<Req, Res>,
    protected readonly ctx: StreamContext,
    readonly info: StreamInfo,
  ) {
    ctx.streams.add(this as unknown as AdsStream<never, never>);
    call.on('data', (request: Req) => this.serially(() => this.receive(request)));
    call.on('end', () => {
      if (!call.writableEnded) call.end();
      this.close();
    });
    call.on('cancelled', () => this.close());
    call.on('error', (err: Error) => {
      ctx.logger.debug({ ...this.logFields(), err: err.message }, 'xDS stream error');
      this.close();
    });
  }

  /** Handles one request of an authenticated stream. */
  protected abstract handleRequest(request: Req): void;
  /** Sends whatever the new snapshot changes for this stream's subscriptions. */
  protected abstract pushChanges(): void;

  /** Ends the stream with a status (the proxy sees it and reconnects). */
  fail(code: GrpcStatus, message: string): void {
    if (this.closed) return;
    this.ctx.logger.warn({ ...this.logFields(), code: GrpcStatus[code], reason: message }, 'closing xDS stream');
    this.call.emit('error', { code, details: message });
    this.close();
  }

  protected send(response: Res): void {
    if (!this.closed) this.call.write(response);
  }

  protected nextNonce(): string {
    return String(++this.nonceCounter);
  }

  protected reportSent(typeUrl: string, version: string): void {
    this.ctx.status.sent(this.node!.id, typeUrl, version);
  }

  protected reportAck(typeUrl: string, version: string): void {
    const nodeId = this.node!.id;
    this.ctx.status.acked(nodeId, typeUrl, version);
    this.ctx.logger.debug({ ...this.logFields(), typeUrl, version }, 'xDS ACK');
    this.callHook(() => this.ctx.hooks.onAck?.(nodeId, typeUrl, version));
  }

  protected reportNack(typeUrl: string, version: string, errorDetail: ErrorDetail): void {
    const nodeId = this.node!.id;
    this.ctx.status.nacked(nodeId, typeUrl, version, errorDetail);
    this.ctx.logger.warn(
      { ...this.logFields(), typeUrl, version, error: errorDetail.message },
      'xDS NACK: the proxy rejected the configuration and keeps its last good version',
    );
    this.callHook(() => this.ctx.hooks.onNack?.(nodeId, typeUrl, version, errorDetail));
  }

  protected logFields(): Record<string, unknown> {
    return { streamId: this.info.streamId, protocol: this.info.protocol, nodeId: this.node?.id };
  }

  private serially(task: () => Promise<void> | void): void {
    this.work = this.work
      .then(() => (this.closed ? undefined : task()))
      .catch((err: Error) => this.fail(GrpcStatus.INTERNAL, `xDS server error: ${err.message}`));
  }

  private async receive(request: Req): Promise<void> {
    if (!this.node) {
      if (!(await this.start(request.node))) return;
    } else if (request.node?.id && request.node.id !== this.node.id) {
      this.fail(GrpcStatus.INVALID_ARGUMENT, 'Node ID cannot be changed after stream is initialized');
      return;
    }
    this.handleRequest(request);
  }

  /** Authenticates the stream and hooks it to the node's snapshot. False if the stream was closed. */
  private async start(nodeMessage: NodeMessage | null | undefined): Promise<boolean> {
    if (!nodeMessage?.id) {
      this.fail(GrpcStatus.INVALID_ARGUMENT, 'the first request of a stream must carry node.id');
      return false;
    }
    const node = nodeFromMessage(nodeMessage);
    try {
      await this.ctx.hooks.onStreamOpen?.(node, this.call.metadata, this.info);
    } catch (err) {
      this.node = node;
      this.fail(GrpcStatus.UNAUTHENTICATED, (err as Error).message);
      return false;
    }
    if (this.closed) return false;
    this.node = node;
    this.authenticated = true;
    this.ctx.logger.info({ ...this.logFields(), peer: this.info.peer }, 'xDS stream opened');
    if (this.ctx.status.streamOpened(node.id) === 1) {
      try {
        await this.ctx.hooks.onNodeConnected?.(node);
      } catch (err) {
        this.fail(GrpcStatus.UNAVAILABLE, `could not prepare configuration: ${(err as Error).message}`);
        return false;
      }
      if (this.closed) return false;
    }
    this.snapshot = this.ctx.cache.getSnapshot(node.id);
    this.unwatch = this.ctx.cache.watch(node.id, (snapshot) =>
      this.serially(() => {
        this.snapshot = snapshot;
        this.pushChanges();
      }),
    );
    return true;
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ctx.streams.delete(this as unknown as AdsStream<never, never>);
    this.unwatch?.();
    if (!this.authenticated || !this.node) return;
    const node = this.node;
    this.ctx.logger.info(this.logFields(), 'xDS stream closed');
    this.callHook(() => this.ctx.hooks.onStreamClosed?.(node, this.info));
    if (this.ctx.status.streamClosed(node.id) === 0) {
      this.callHook(() => this.ctx.hooks.onNodeDisconnected?.(node.id));
    }
  }

  private callHook(hook: () => unknown): void {
    try {
      const result = hook();
      if (result instanceof Promise) result.catch((err: Error) => this.logHookError(err));
    } catch (err) {
      this.logHookError(err as Error);
    }
  }

  private logHookError(err: Error): void {
    this.ctx.logger.error({ ...this.logFields(), err: err.message }, 'xDS hook failed');
  }
}
