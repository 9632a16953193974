// Incremental ADS (DeltaAggregatedResources): the proxy says what it subscribes to and what it
// already has; responses carry only resources whose version changed and the names that went away.
// One response per type is in flight at a time; changes made meanwhile go out after the ACK/NACK.
import { typeVersionOf, type CachedResource } from '../cache/snapshot.js';
import { AdsStream } from './ads-stream.js';
import { isNack, type DeltaDiscoveryRequest, type DeltaDiscoveryResponse, type DeltaResource } from './messages.js';
import { inPushOrder, isWildcardType } from './type-order.js';

interface DeltaTypeState {
  wildcard: boolean;
  /** Explicitly subscribed names. */
  names: Set<string>;
  /** What the proxy holds: name → version (sent by us, or declared in initial_resource_versions). */
  known: Map<string, string>;
  nonce?: string;
  sentVersion?: string;
  awaitingReply: boolean;
  /** A wildcard subscriber gets a first response even when there is nothing, to finish its init. */
  owesFirstResponse: boolean;
  /**
   * The snapshot's resources of this type that `known` was last brought in line with: while the
   * snapshot has that same map and the subscription is unchanged, there is nothing to send.
   */
  syncedWith?: Map<string, CachedResource>;
}

const NO_RESOURCES = new Map<string, CachedResource>();

export class DeltaStream extends AdsStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse> {
  private readonly types = new Map<string, DeltaTypeState>();

  protected handleRequest(request: DeltaDiscoveryRequest): void {
    const typeUrl = request.type_url;
    let state = this.types.get(typeUrl);
    if (!state) {
      state = this.newTypeState(typeUrl, request);
      this.types.set(typeUrl, state);
    } else if (request.resource_names_subscribe.length > 0 || request.resource_names_unsubscribe.length > 0) {
      // (A plain ACK changes nothing: skipped, so an unchanged type stays known as up to date.)
      this.applySubscriptionChanges(state, request);
    }
    // Subscription changes above apply whatever the nonce: Delta requests are increments.
    if (request.response_nonce && request.response_nonce === state.nonce && state.awaitingReply) {
      state.awaitingReply = false;
      if (isNack(request.error_detail)) this.reportNack(typeUrl, state.sentVersion ?? '', request.error_detail);
      else this.reportAck(typeUrl, state.sentVersion ?? '');
    }
    this.respond(typeUrl, state);
  }

  protected pushChanges(): void {
    for (const typeUrl of inPushOrder(this.types.keys())) this.respond(typeUrl, this.types.get(typeUrl)!);
  }

  private newTypeState(typeUrl: string, request: DeltaDiscoveryRequest): DeltaTypeState {
    const subscribe = request.resource_names_subscribe;
    const state: DeltaTypeState = {
      wildcard: subscribe.length === 0 && isWildcardType(typeUrl),
      names: new Set(),
      known: new Map(Object.entries(request.initial_resource_versions ?? {})),
      awaitingReply: false,
      owesFirstResponse: false,
    };
    this.applySubscriptionChanges(state, request);
    state.owesFirstResponse = state.wildcard;
    return state;
  }

  private applySubscriptionChanges(state: DeltaTypeState, request: DeltaDiscoveryRequest): void {
    state.syncedWith = undefined;
    for (const name of request.resource_names_subscribe) {
      if (name === '*') state.wildcard = true;
      else state.names.add(name);
    }
    for (const name of request.resource_names_unsubscribe) {
      if (name === '*') state.wildcard = false;
      else state.names.delete(name);
    }
    // The proxy drops what it no longer subscribes to; forget it so a later re-subscribe resends it.
    for (const name of state.known.keys()) {
      if (!this.isSubscribed(state, name)) state.known.delete(name);
    }
  }

  private isSubscribed(state: DeltaTypeState, name: string): boolean {
    return state.wildcard || state.names.has(name);
  }

  private respond(typeUrl: string, state: DeltaTypeState): void {
    if (!this.snapshot || state.awaitingReply) return;
    const available = this.snapshot.resources.get(typeUrl) ?? NO_RESOURCES;
    if (available === state.syncedWith && !state.owesFirstResponse) return;
    const wanted = state.wildcard ? new Set([...available.keys(), ...state.names]) : state.names;
    const changed: DeltaResource[] = [];
    for (const name of wanted) {
      const resource = available.get(name);
      if (resource && state.known.get(name) !== resource.version) {
        changed.push({ name, version: resource.version, resource: resource.any });
      }
    }
    const removed = [...state.known.keys()].filter((name) => !available.has(name));
    state.syncedWith = available;
    if (changed.length === 0 && removed.length === 0 && !state.owesFirstResponse) return;

    for (const r of changed) state.known.set(r.name, r.version);
    for (const name of removed) state.known.delete(name);
    const version = typeVersionOf(this.snapshot, typeUrl);
    const nonce = this.nextNonce();
    Object.assign(state, { nonce, sentVersion: version, awaitingReply: true, owesFirstResponse: false });
    this.send({ system_version_info: version, resources: changed, type_url: typeUrl, removed_resources: removed, nonce });
    this.reportSent(typeUrl, version);
  }
}
