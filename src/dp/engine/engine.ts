// The Skein data plane engine: runs Envoy v3 listeners, clusters, routes, endpoints and secrets.
// apply() is atomic: the whole new config is validated (and new sockets bound) before anything
// changes; on error the old config keeps serving untouched.
import './builtins.js';
import { ConfigError } from './config-error.js';
import { fingerprint } from './fingerprint.js';
import type { Obj } from './proto-values.js';
import type { CompileContext, LiveConfig, NetworkFilter, References } from './registry.js';
import { RESOURCE_KINDS, resourceName, type ResourceKind, type ResourceUpdate } from './resources.js';
import { Stats } from './stats.js';
import { compileCluster, type ClusterRuntime } from './cluster/cluster.js';
import { PoolCache } from './cluster/endpoint-pool.js';
import { compileRouteConfiguration, type RouteTable } from './http/route-table.js';
import { compileListener, type CompiledListener } from './listener/compile-listener.js';
import { ListenerRuntime } from './listener/listener-runtime.js';
import { ListenerIndex } from './listener/original-dst.js';
import { compileSecret } from './transport/secrets.js';
import { closeOtlpClients } from './tracing/otlp.js';

type ResourceMaps = Record<ResourceKind, Map<string, Obj>>;

/** A compiled listener plus what decides whether it can be reused as is by the next config. */
interface ListenerEntry {
  compiled: CompiledListener;
  rawFingerprint: string;
  /** Fingerprints of the secrets it was compiled with. */
  secretFingerprints: Map<string, string | undefined>;
  refs: References;
}

export interface ListenerStatus {
  name: string;
  host: string;
  port: number;
}

export class Engine {
  readonly stats = new Stats();
  private readonly live: LiveConfig = { clusters: new Map(), routes: new Map() };
  private resources: ResourceMaps = emptyMaps();
  private entries = new Map<string, ListenerEntry>();
  /** Compiled route tables by name with the fingerprint of their resource, reused while unchanged. */
  private routeEntries = new Map<string, { rawFingerprint: string; table: RouteTable }>();
  private runtimes = new Map<string, ListenerRuntime>();
  /** Listeners by address, for use_original_dst hand-over. */
  private readonly listenerIndex = new ListenerIndex<ListenerRuntime>();
  private readonly pools = new PoolCache();
  private refs: References = emptyRefs();
  private applied = false;
  private queue: Promise<unknown> = Promise.resolve();
  private stopped = false;

  /** Validates and swaps in a new config. Rejects (keeping the old config) with the reason. */
  apply(update: ResourceUpdate): Promise<void> {
    const run = this.queue.then(() => this.applyNow(update));
    this.queue = run.catch(() => {});
    return run;
  }

  /** True once a config has been applied. */
  get ready(): boolean {
    return this.applied;
  }

  /** Names of routes, endpoints and secrets the current config refers to (for xDS subscriptions). */
  references(): References {
    return this.refs;
  }

  /** The resources in force, by kind and name (for /config_dump). */
  currentResources(): Record<ResourceKind, Obj[]> {
    const out = {} as Record<ResourceKind, Obj[]>;
    for (const kind of RESOURCE_KINDS) out[kind] = [...this.resources[kind].values()];
    return out;
  }

  clusters(): ClusterRuntime[] {
    return [...this.live.clusters.values()];
  }

  listeners(): ListenerStatus[] {
    return [...this.runtimes.entries()].map(([name, rt]) => ({ name, host: rt.host, port: rt.port }));
  }

  /** The bound port of a listener (useful with port 0). */
  listenerPort(name: string): number | undefined {
    return this.runtimes.get(name)?.port;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.queue;
    await Promise.all([...this.runtimes.values()].map((rt) => rt.close()));
    this.runtimes.clear();
    for (const cluster of this.live.clusters.values()) cluster.stop();
    closeOtlpClients();
    this.listenerIndex.update([]);
    this.pools.retireAll();
  }

  private async applyNow(update: ResourceUpdate): Promise<void> {
    if (this.stopped) throw new Error('engine is stopped');
    const next = mergeResources(this.resources, update);
    const ctx: CompileContext = {
      stats: this.stats,
      live: this.live,
      secrets: new Map(),
      endpoints: next.endpoints,
      refs: emptyRefs(),
      created: [],
    };
    let compiled: Compiled;
    try {
      compiled = this.compile(next, ctx);
    } catch (err) {
      this.abort(ctx.created);
      throw err;
    }
    let bound: Map<string, ListenerRuntime>;
    try {
      bound = await this.bindNewListeners(compiled.listeners);
    } catch (err) {
      this.abort(ctx.created);
      throw err;
    }
    this.commit(next, compiled, bound, ctx.refs);
  }

  private compile(next: ResourceMaps, ctx: CompileContext): Compiled {
    for (const [name, raw] of next.secrets) ctx.secrets.set(name, compileSecret(raw));
    const routes = new Map<string, RouteTable>();
    const routeEntries = new Map<string, { rawFingerprint: string; table: RouteTable }>();
    for (const [name, raw] of next.routes) {
      // An unchanged RouteConfiguration keeps its compiled table, and with it the state of its
      // per-route filter configs (e.g. local rate limit buckets) across unrelated updates.
      const rawFingerprint = fingerprint(raw);
      const old = this.routeEntries.get(name);
      const table = old && old.rawFingerprint === rawFingerprint ? old.table : compileRouteConfiguration(raw, `RouteConfiguration "${name}"`, ctx);
      routes.set(name, table);
      routeEntries.set(name, { rawFingerprint, table });
    }
    const clusters = new Map<string, ClusterRuntime>();
    for (const [name, raw] of next.clusters) clusters.set(name, compileCluster(raw, ctx, this.pools));

    const listeners = new Map<string, ListenerEntry>();
    const addresses = new Map<string, string>();
    for (const [name, raw] of next.listeners) {
      const entry = this.reuseOrCompile(name, raw, ctx);
      listeners.set(name, entry);
      for (const kind of ['routes', 'endpoints', 'secrets'] as const) for (const ref of entry.refs[kind]) ctx.refs[kind].add(ref);
      const { host, port } = entry.compiled;
      if (port !== 0) {
        const other = addresses.get(`${host}:${port}`);
        if (other) throw new ConfigError(`Listener "${name}": address ${host}:${port} is already used by listener "${other}"`);
        addresses.set(`${host}:${port}`, name);
      }
    }
    return { routes, routeEntries, clusters, listeners };
  }

  /** An unchanged listener (same resource, same secrets) keeps its compiled config, so nothing drains. */
  private reuseOrCompile(name: string, raw: Obj, ctx: CompileContext): ListenerEntry {
    const rawFingerprint = fingerprint(raw);
    const old = this.entries.get(name);
    if (old && old.rawFingerprint === rawFingerprint && [...old.secretFingerprints].every(([s, fp]) => ctx.secrets.get(s)?.fingerprint === fp)) {
      return old;
    }
    const own: CompileContext = { ...ctx, refs: emptyRefs() };
    const compiled = compileListener(raw, own);
    const secretFingerprints = new Map([...own.refs.secrets].map((s) => [s, ctx.secrets.get(s)?.fingerprint] as const));
    return { compiled, rawFingerprint, secretFingerprints, refs: own.refs };
  }

  /** Binds sockets for listeners that need a new one; all or nothing. */
  private async bindNewListeners(listeners: Map<string, ListenerEntry>): Promise<Map<string, ListenerRuntime>> {
    const bound = new Map<string, ListenerRuntime>();
    try {
      for (const [name, entry] of listeners) {
        if (this.findRuntime(name, entry.compiled, listeners)) continue;
        const runtime = new ListenerRuntime(entry.compiled, this.listenerIndex);
        await runtime.bind();
        bound.set(name, runtime);
      }
    } catch (err) {
      await Promise.all([...bound.values()].map((rt) => rt.close()));
      throw err;
    }
    return bound;
  }

  /**
   * The running socket a listener can take over: its own if the address is unchanged, or one on the
   * same address whose listener is being removed (a rename).
   */
  private findRuntime(name: string, compiled: CompiledListener, next: Map<string, ListenerEntry>): ListenerRuntime | undefined {
    const sameAddress = (rt: ListenerRuntime): boolean =>
      rt.current.host === compiled.host && rt.current.port === compiled.port && rt.current.bindToPort === compiled.bindToPort;
    const own = this.runtimes.get(name);
    if (own) return sameAddress(own) ? own : undefined;
    if (compiled.port === 0) return undefined;
    for (const [otherName, rt] of this.runtimes) if (!next.has(otherName) && sameAddress(rt)) return rt;
    return undefined;
  }

  private commit(next: ResourceMaps, compiled: Compiled, bound: Map<string, ListenerRuntime>, refs: References): void {
    for (const cluster of this.live.clusters.values()) cluster.stop();
    this.live.clusters = compiled.clusters;
    for (const cluster of compiled.clusters.values()) cluster.start();
    this.live.routes = compiled.routes;
    this.routeEntries = compiled.routeEntries;
    const runtimes = new Map<string, ListenerRuntime>();
    for (const [name, entry] of compiled.listeners) {
      const runtime = bound.get(name) ?? this.findRuntime(name, entry.compiled, compiled.listeners);
      if (!runtime) throw new Error(`internal: no socket for listener ${name}`);
      runtime.swap(entry.compiled);
      runtimes.set(name, runtime);
    }
    const kept = new Set(runtimes.values());
    for (const runtime of this.runtimes.values()) if (!kept.has(runtime)) void runtime.close();
    this.runtimes = runtimes;
    this.listenerIndex.update([...runtimes.values()].map((runtime) => ({ host: runtime.host, port: runtime.port, runtime })));
    this.entries = compiled.listeners;
    this.pools.commit();
    this.resources = next;
    this.refs = refs;
    this.applied = true;
  }

  /** Undoes the side effects of compiling a rejected config. */
  private abort(created: NetworkFilter[]): void {
    const reused = new Set<NetworkFilter>();
    for (const entry of this.entries.values()) {
      for (const chain of [...entry.compiled.chains, ...(entry.compiled.defaultChain ? [entry.compiled.defaultChain] : [])]) {
        for (const f of chain.filters) reused.add(f);
      }
    }
    for (const filter of created) if (!reused.has(filter)) filter.drain();
    this.pools.abort();
  }
}

interface Compiled {
  routes: Map<string, RouteTable>;
  routeEntries: Map<string, { rawFingerprint: string; table: RouteTable }>;
  clusters: Map<string, ClusterRuntime>;
  listeners: Map<string, ListenerEntry>;
}

function emptyMaps(): ResourceMaps {
  return { listeners: new Map(), clusters: new Map(), routes: new Map(), endpoints: new Map(), secrets: new Map() };
}

function emptyRefs(): References {
  return { routes: new Set(), endpoints: new Set(), secrets: new Set() };
}

function mergeResources(current: ResourceMaps, update: ResourceUpdate): ResourceMaps {
  const next = { ...current };
  for (const kind of RESOURCE_KINDS) {
    const list = update[kind];
    if (!list) continue;
    const map = new Map<string, Obj>();
    for (const resource of list) {
      const name = resourceName(kind, resource);
      if (!name) throw new ConfigError(`${kind}: a resource has no name`);
      if (map.has(name)) throw new ConfigError(`${kind}: duplicate resource name "${name}"`);
      map.set(name, resource);
    }
    next[kind] = map;
  }
  return next;
}
