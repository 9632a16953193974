// Incremental (Delta) ADS client: subscribes to Listeners and Clusters (wildcard) and to the Routes,
// Endpoints and Secrets the applied config refers to; applies every response atomically and ACKs or
// NACKs it; reconnects with backoff, resuming with the versions it holds, while the last config serves.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { adsPackageDefinition, unpackAny, type AnyMessage } from '../../envoy/protos.js';
import type { Engine } from '../engine/engine.js';
import type { Obj } from '../engine/proto-values.js';
import { KIND_BY_TYPE_URL, TYPE_URL_BY_KIND, type ResourceKind } from '../engine/resources.js';
import { Backoff } from './backoff.js';
import { certificateVerificationFailure } from './cp-tls.js';

interface DeltaResponse {
  system_version_info?: string;
  type_url: string;
  nonce: string;
  resources: { name: string; version: string; resource: AnyMessage | null }[];
  removed_resources: string[];
}

interface DeltaRequest {
  node?: unknown;
  type_url: string;
  resource_names_subscribe?: string[];
  resource_names_unsubscribe?: string[];
  initial_resource_versions?: Record<string, string>;
  response_nonce?: string;
  error_detail?: { code: number; message: string };
}

interface Held {
  version: string;
  resource: Obj;
}

interface TypeState {
  resources: Map<string, Held>;
  /** Explicitly subscribed names (the referenced kinds). */
  subscribed: Set<string>;
  /** A request for this type was sent on the current stream. */
  requested: boolean;
}

export interface DeltaAdsClientOptions {
  engine: Engine;
  target: string;
  credentials: grpc.ChannelCredentials;
  node: Record<string, unknown>;
  /** Sent as the `authorization` call metadata, like Envoy's bootstrap initial_metadata. */
  token: string;
  logger: Logger;
}

const WILDCARD_KINDS: ResourceKind[] = ['clusters', 'listeners'];
const REFERENCED_KINDS: ResourceKind[] = ['routes', 'endpoints', 'secrets'];
const INVALID_ARGUMENT = 3;
const INITIAL_FETCH_TIMEOUT_MS = 15_000;

type DuplexCall = grpc.ClientDuplexStream<DeltaRequest, DeltaResponse>;

export class DeltaAdsClient {
  private readonly client: grpc.Client & { DeltaAggregatedResources(metadata: grpc.Metadata): DuplexCall };
  private readonly types = new Map<ResourceKind, TypeState>();
  private readonly backoff = new Backoff(250, 5000);
  private call: DuplexCall | undefined;
  private nodeSent = false;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private queue: Promise<void> = Promise.resolve();
  private readonly firstApplied = new Set<ResourceKind>();
  private warm = false;
  private warmingTimer: NodeJS.Timeout | undefined;
  private resolveFirstConfig!: () => void;
  /**
   * Resolves once Listeners and Clusters are applied and so is every kind they refer to (Routes,
   * Endpoints, Secrets), like Envoy's initial warming; after 15s the referenced kinds stop blocking.
   */
  readonly firstConfig = new Promise<void>((resolve) => (this.resolveFirstConfig = resolve));

  constructor(private readonly opts: DeltaAdsClientOptions) {
    const pkg = grpc.loadPackageDefinition(adsPackageDefinition()) as unknown as {
      envoy: { service: { discovery: { v3: { AggregatedDiscoveryService: grpc.ServiceClientConstructor } } } };
    };
    const Service = pkg.envoy.service.discovery.v3.AggregatedDiscoveryService;
    this.client = new Service(opts.target, opts.credentials, { 'grpc.keepalive_time_ms': 30_000 }) as never;
    for (const kind of [...WILDCARD_KINDS, ...REFERENCED_KINDS]) this.types.set(kind, { resources: new Map(), subscribed: new Set(), requested: false });
  }

  start(): void {
    if (this.closed || this.call) return;
    const metadata = new grpc.Metadata();
    if (this.opts.token) metadata.set('authorization', this.opts.token);
    const call = this.client.DeltaAggregatedResources(metadata);
    this.call = call;
    this.nodeSent = false;
    for (const state of this.types.values()) state.requested = false;
    this.opts.logger.info({ xdsServer: this.opts.target }, 'xDS stream opened (Delta ADS)');

    call.on('data', (response: DeltaResponse) => {
      this.backoff.reset();
      this.queue = this.queue.then(() => this.onResponse(call, response));
    });
    const onGone = (reason: string): void => {
      if (this.call !== call) return;
      this.call = undefined;
      if (this.closed) return;
      const delay = this.backoff.next();
      const failure = certificateVerificationFailure({ message: reason });
      if (failure) {
        this.opts.logger.error({ xdsServer: this.opts.target, code: failure.code, reason: failure.reason, retryInMs: delay }, `control plane certificate verification failed: ${failure.reason}; retrying`);
      } else {
        this.opts.logger.warn({ reason, retryInMs: delay }, 'xDS stream closed; keeping the last config and reconnecting');
      }
      this.retryTimer = setTimeout(() => this.start(), delay);
    };
    call.on('error', (err: Error) => onGone(err.message));
    call.on('end', () => onGone('stream ended by the control plane'));

    for (const kind of WILDCARD_KINDS) this.request(call, kind, []);
    this.syncSubscriptions(call);
  }

  stop(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.warmingTimer);
    this.call?.cancel();
    this.call = undefined;
    this.client.close();
  }

  private send(call: DuplexCall, message: DeltaRequest): void {
    if (!this.nodeSent) {
      message.node = this.opts.node;
      this.nodeSent = true;
    }
    call.write(message);
  }

  /** Subscribes to `names`; the first request of a type on a stream also declares what we hold. */
  private request(call: DuplexCall, kind: ResourceKind, names: string[], unsubscribe: string[] = []): void {
    const state = this.state(kind);
    const message: DeltaRequest = { type_url: TYPE_URL_BY_KIND[kind], resource_names_subscribe: names, resource_names_unsubscribe: unsubscribe };
    if (!state.requested) {
      message.initial_resource_versions = Object.fromEntries([...state.resources].map(([n, h]) => [n, h.version]));
      state.requested = true;
    }
    this.send(call, message);
  }

  private async onResponse(call: DuplexCall, response: DeltaResponse): Promise<void> {
    const kind = KIND_BY_TYPE_URL[response.type_url];
    if (!kind) {
      this.nack(call, response, `resource type ${response.type_url} is not supported by the Skein data plane`);
      return;
    }
    const state = this.state(kind);
    const next = new Map(state.resources);
    try {
      for (const name of response.removed_resources ?? []) next.delete(name);
      for (const r of response.resources ?? []) {
        if (!r.resource) throw new Error(`resource "${r.name}" has no body`);
        if (r.resource.type_url !== response.type_url) throw new Error(`resource "${r.name}" is a ${r.resource.type_url}, expected ${response.type_url}`);
        next.set(r.name, { version: r.version, resource: unpackAny(r.resource) });
      }
      await this.opts.engine.apply({ [kind]: [...next.values()].map((h) => h.resource) });
    } catch (err) {
      this.nack(call, response, (err as Error).message);
      return;
    }
    state.resources = next;
    if (call !== this.call) return;
    this.send(call, { type_url: response.type_url, response_nonce: response.nonce });
    this.opts.logger.debug({ type: response.type_url, resources: next.size }, 'xDS update applied (ACK)');
    this.noteFirstConfig(kind);
    this.syncSubscriptions(call);
  }

  private nack(call: DuplexCall, response: DeltaResponse, reason: string): void {
    this.opts.logger.warn({ type: response.type_url, reason }, 'xDS update rejected (NACK); keeping the previous config');
    if (call !== this.call) return;
    this.send(call, { type_url: response.type_url, response_nonce: response.nonce, error_detail: { code: INVALID_ARGUMENT, message: reason } });
  }

  private noteFirstConfig(kind: ResourceKind): void {
    this.firstApplied.add(kind);
    if (this.warm || !WILDCARD_KINDS.every((k) => this.firstApplied.has(k))) return;
    if (!this.warmingTimer) {
      this.warmingTimer = setTimeout(() => this.finishWarming('initial fetch timeout (15s) for referenced resources'), INITIAL_FETCH_TIMEOUT_MS);
      this.warmingTimer.unref();
    }
    const refs = this.opts.engine.references();
    const waiting = REFERENCED_KINDS.filter((k) => refs[k as 'routes' | 'endpoints' | 'secrets'].size > 0 && !this.firstApplied.has(k));
    if (waiting.length === 0) this.finishWarming('');
  }

  private finishWarming(reason: string): void {
    if (this.warm) return;
    this.warm = true;
    clearTimeout(this.warmingTimer);
    if (reason) this.opts.logger.warn({ reason }, 'serving without some referenced resources');
    this.resolveFirstConfig();
  }

  /** Follows what the applied config refers to: new names are subscribed, forgotten ones dropped. */
  private syncSubscriptions(call: DuplexCall): void {
    const refs = this.opts.engine.references();
    for (const kind of REFERENCED_KINDS) {
      const state = this.state(kind);
      const wanted = refs[kind as 'routes' | 'endpoints' | 'secrets'];
      if (!state.requested) {
        // New stream: (re)subscribe to everything wanted, declaring what we hold.
        if (wanted.size > 0) {
          state.subscribed = new Set(wanted);
          this.request(call, kind, [...wanted]);
        }
        continue;
      }
      const subscribe = [...wanted].filter((n) => !state.subscribed.has(n));
      const unsubscribe = [...state.subscribed].filter((n) => !wanted.has(n));
      if (subscribe.length === 0 && unsubscribe.length === 0) continue;
      state.subscribed = new Set(wanted);
      for (const name of unsubscribe) state.resources.delete(name);
      this.request(call, kind, subscribe, unsubscribe);
    }
  }

  private state(kind: ResourceKind): TypeState {
    const state = this.types.get(kind);
    if (!state) throw new Error(`internal: no state for ${kind}`);
    return state;
  }
}
