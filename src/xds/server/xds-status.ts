// What the server knows about each node's xDS state: open streams, and per type the version last
// sent, last ACKed and the last NACK. Feeds inspect endpoints and insights.
import type { ErrorDetail } from './hooks.js';

export interface NackRecord {
  version: string;
  errorDetail: ErrorDetail;
  at: Date;
}

export interface TypeStatus {
  sentVersion?: string;
  ackedVersion?: string;
  lastNack?: NackRecord;
  acks: number;
  nacks: number;
}

export interface NodeXdsStatus {
  nodeId: string;
  openStreams: number;
  types: Map<string, TypeStatus>;
}

export class XdsStatusRegistry {
  private readonly nodes = new Map<string, NodeXdsStatus>();

  get(nodeId: string): NodeXdsStatus | undefined {
    return this.nodes.get(nodeId);
  }

  /** Returns the number of open streams of the node after this one. */
  streamOpened(nodeId: string): number {
    const node = this.node(nodeId);
    return ++node.openStreams;
  }

  /** Returns the number of open streams of the node left. */
  streamClosed(nodeId: string): number {
    const node = this.node(nodeId);
    node.openStreams = Math.max(0, node.openStreams - 1);
    return node.openStreams;
  }

  /** Drops what is known about a node (e.g. its Dataplane was deleted). */
  forget(nodeId: string): void {
    this.nodes.delete(nodeId);
  }

  sent(nodeId: string, typeUrl: string, version: string): void {
    this.type(nodeId, typeUrl).sentVersion = version;
  }

  acked(nodeId: string, typeUrl: string, version: string): void {
    const status = this.type(nodeId, typeUrl);
    status.ackedVersion = version;
    status.acks++;
  }

  nacked(nodeId: string, typeUrl: string, version: string, errorDetail: ErrorDetail): void {
    const status = this.type(nodeId, typeUrl);
    status.lastNack = { version, errorDetail, at: new Date() };
    status.nacks++;
  }

  private node(nodeId: string): NodeXdsStatus {
    let node = this.nodes.get(nodeId);
    if (!node) this.nodes.set(nodeId, (node = { nodeId, openStreams: 0, types: new Map() }));
    return node;
  }

  private type(nodeId: string, typeUrl: string): TypeStatus {
    const types = this.node(nodeId).types;
    let status = types.get(typeUrl);
    if (!status) types.set(typeUrl, (status = { acks: 0, nacks: 0 }));
    return status;
  }
}
