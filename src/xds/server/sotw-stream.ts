// State-of-the-world ADS (StreamAggregatedResources): every response for a type carries the full
// set of subscribed resources. One response per type is in flight at a time; the next waits for
// the proxy's ACK or NACK of the previous one (as go-control-plane does).
import { createHash } from 'node:crypto';
import type { CachedResource } from '../cache/snapshot.js';
import { typeVersionOf } from '../cache/snapshot.js';
import { AdsStream } from './ads-stream.js';
import { isNack, type DiscoveryRequest, type DiscoveryResponse } from './messages.js';
import { inPushOrder, isWildcardType } from './type-order.js';

interface SotwTypeState {
  wildcard: boolean;
  names: Set<string>;
  /** Nonce of the last response; requests echoing another nonce are stale. */
  nonce?: string;
  /** version_info of the last response. */
  sentVersion?: string;
  /** Names and versions of the last response; unchanged content is not sent again. */
  sentContent?: string;
  awaitingReply: boolean;
  /** The subscription changed: answer even if the content is unchanged. */
  mustAnswer: boolean;
}

export class SotwStream extends AdsStream<DiscoveryRequest, DiscoveryResponse> {
  private readonly types = new Map<string, SotwTypeState>();

  protected handleRequest(request: DiscoveryRequest): void {
    const typeUrl = request.type_url;
    let state = this.types.get(typeUrl);
    const first = !state;
    if (!state) {
      state = { wildcard: false, names: new Set(), awaitingReply: false, mustAnswer: false };
      this.types.set(typeUrl, state);
    }
    if (request.response_nonce) {
      // A request answering an older response is superseded by the reply to the newer one,
      // which repeats the full subscription anyway.
      if (request.response_nonce !== state.nonce) return;
      state.awaitingReply = false;
      if (isNack(request.error_detail)) this.reportNack(typeUrl, state.sentVersion ?? '', request.error_detail);
      else this.reportAck(typeUrl, request.version_info);
    }
    if (this.updateSubscription(typeUrl, state, request.resource_names, first)) state.mustAnswer = true;
    this.respond(typeUrl, state);
  }

  protected pushChanges(): void {
    for (const typeUrl of inPushOrder(this.types.keys())) this.respond(typeUrl, this.types.get(typeUrl)!);
  }

  /** Returns true when the subscription differs from before. */
  private updateSubscription(typeUrl: string, state: SotwTypeState, names: string[], first: boolean): boolean {
    const explicit = names.filter((n) => n !== '*');
    const wildcard =
      names.includes('*') || (names.length === 0 && isWildcardType(typeUrl) && (first || state.wildcard));
    const changed =
      first || wildcard !== state.wildcard || explicit.length !== state.names.size || explicit.some((n) => !state.names.has(n));
    state.wildcard = wildcard;
    state.names = new Set(explicit);
    return changed;
  }

  private respond(typeUrl: string, state: SotwTypeState): void {
    if (!this.snapshot || state.awaitingReply) return;
    const resources = this.selectResources(typeUrl, state);
    const content = contentKey(resources);
    // Named resources that do not exist yet are simply not answered (the proxy's timer handles it).
    const nothingYet = state.sentContent === undefined && resources.length === 0 && !state.wildcard;
    const shouldSend = !nothingYet && (content !== state.sentContent || state.mustAnswer);
    state.mustAnswer = false;
    if (!shouldSend) return;
    const version = typeVersionOf(this.snapshot, typeUrl);
    const nonce = this.nextNonce();
    Object.assign(state, { nonce, sentVersion: version, sentContent: content, awaitingReply: true, mustAnswer: false });
    this.send({ version_info: version, resources: resources.map((r) => r.any), type_url: typeUrl, nonce });
    this.reportSent(typeUrl, version);
  }

  private selectResources(typeUrl: string, state: SotwTypeState): CachedResource[] {
    const all = this.snapshot?.resources.get(typeUrl) ?? new Map<string, CachedResource>();
    if (state.wildcard) return [...all.values()];
    return [...state.names].flatMap((name) => all.get(name) ?? []);
  }
}

function contentKey(resources: CachedResource[]): string {
  const hash = createHash('sha256');
  for (const line of resources.map((r) => `${r.name}=${r.version}`).sort()) hash.update(line).update('\n');
  return hash.digest('base64url');
}
