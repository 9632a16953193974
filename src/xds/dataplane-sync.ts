// Keeps every connected proxy's snapshot in step with the store:
//   store change → mesh marked dirty → MeshContext rebuilt once per batch → each connected proxy of
//   that mesh gets a new snapshot only if its inputs changed, re-generating only the parts that
//   depend on what changed (ProxySnapshots).
// Also the xDS hooks: authenticate streams with dataplane tokens, re-register Dataplanes carried in
// node metadata, and record connection state and ACK/NACKs in DataplaneInsights.
import type { Metadata } from '@grpc/grpc-js';
import YAML from 'yaml';
import type { Resource } from '../api/resource.js';
import { fromWire } from '../api/index.js';
import type { ResourceManager } from '../core/resource-manager.js';
import { authorizeDataplane, verifyDataplaneToken } from '../auth/dataplane-tokens.js';
import { configDump } from './config-dump.js';
import type { Logger } from '../observability/logger.js';
import { SnapshotCache } from './cache/snapshot-cache.js';
import { changedServices, type MeshContext } from './context/mesh-context.js';
import { contextFromInputs, readMeshInputs } from './context/mesh-inputs.js';
import { LegacyZoneProxies, legacyProxyTypeOf } from './legacy-zone-proxies.js';
import { ProxySnapshots } from './generator/proxy-snapshots.js';
import type { ProxyMetadata } from '../policies/common/proxy-metadata.js';
import type { XdsHooks } from './server/hooks.js';
import type { XdsNode } from './server/node.js';
import type { ErrorDetail } from './server/hooks.js';
import { DataplaneInsights } from './insights.js';
import { ProxyIdentities } from './identity.js';
import type { MeshCaManager } from '../pki/index.js';
import { descriptorByName } from '../api/descriptor.js';
import type { CpMetrics } from '../observability/metrics.js';
import type { Snapshot } from './cache/snapshot.js';

export interface DataplaneSyncOptions {
  manager: ResourceManager;
  logger: Logger;
  auth: 'dpToken' | 'none';
  instanceId: string;
  /** Coalesce store changes for this long before regenerating (ms). */
  debounceMs?: number;
  /** Issues workload certificates when a mesh has mTLS enabled. */
  caManager: MeshCaManager;
  /**
   * This CP's zone (`multizone.zone.name`; '' or absent for standalone). Dataplanes labelled with
   * another `kuma.io/zone` are remote: sidecars reach them through that zone's ingress.
   */
  zone?: string;
  /** Generation time, delivery (generated → ACK) time, connected proxies. */
  metrics?: CpMetrics;
}

interface ConnectedProxy {
  mesh: string;
  name: string;
  /** What the generators read from the node metadata (access log pipe, admin socket, metrics TLS files). */
  meta?: ProxyMetadata;
}

/** The agent's facts the generators use (node metadata keys as kuma-dp sends them). */
function proxyMetadataOf(node: XdsNode): ProxyMetadata {
  const out: ProxyMetadata = {};
  const fields = {
    accessLogSocketPath: 'accessLogSocketPath',
    adminSocketPath: 'dataplane.admin.socketPath',
    metricsCertPath: 'dataplane.metrics.certPath',
    metricsKeyPath: 'dataplane.metrics.keyPath',
  } as const;
  for (const [field, key] of Object.entries(fields) as [keyof ProxyMetadata, string][]) {
    const value = node.metadata[key];
    if (typeof value === 'string' && value) out[field] = value;
  }
  return out;
}

/** Kinds besides Dataplanes and policies that a mesh's proxies are generated from. */
const DESTINATION_KINDS = new Set(['Secret', 'MeshExternalService', 'MeshService', 'MeshMultiZoneService']);

/** At least this often a context rebuild re-reads every Dataplane (see meshContext). */
const FULL_RELIST_MS = 60_000;

/** How long to wait before trying again to configure a proxy whose certificate could not be issued. */
const RETRY_MS = 2_000;

/** What a context rebuild changed, so that a batch visits only the proxies concerned. */
interface ContextChanges {
  dataplanes: Set<string>;
  /** Services whose endpoints or protocol changed, or that appeared or went away. */
  services: Set<string>;
}

export class DataplaneSync {
  readonly cache = new SnapshotCache();
  readonly insights: DataplaneInsights;
  private readonly proxies = new Map<string, ConnectedProxy>();
  /** Node ids of the connected proxies, per mesh (a batch visits one mesh; metrics count them). */
  private readonly proxiesByMesh = new Map<string, Set<string>>();
  private readonly snapshots = new ProxySnapshots();
  private readonly contexts = new Map<string, { ctx: MeshContext; listedAt: number }>();
  /** Meshes whose context is out of date; the old one is kept to reuse what did not change. */
  private readonly staleContexts = new Set<string>();
  /** Per mesh, Dataplanes changed since its context was built: only these are read again. */
  private readonly changedDataplanes = new Map<string, Set<string>>();
  /** Meshes with other changes (the mesh, a policy, a secret) since their context was built: they concern every proxy. */
  private readonly meshWideChanges = new Set<string>();
  private readonly dirtyMeshes = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  /** A regeneration batch is queued behind running work and has not started yet. */
  private batchWaiting = false;
  private running: Promise<void> = Promise.resolve();
  private unwatch: (() => void) | undefined;

  private readonly identities: ProxyIdentities;
  /** Per proxy, per type URL: a generated version not ACKed yet and when it was first generated. */
  private readonly undelivered = new Map<string, Map<string, { version: string; at: number }>>();
  /** Legacy global-scoped ZoneIngress / ZoneEgress proxies: their own streams, same cache. */
  readonly legacy: LegacyZoneProxies;

  constructor(private readonly opts: DataplaneSyncOptions) {
    this.insights = new DataplaneInsights(opts.manager.store, opts.instanceId, opts.logger);
    this.legacy = new LegacyZoneProxies({ ...opts, cache: this.cache });
    this.identities = new ProxyIdentities(opts.caManager, (nodeId) => {
      const proxy = this.proxies.get(nodeId);
      if (!proxy) return;
      void this.serially(() => this.regenerate(proxy.mesh, [nodeId])).catch((err: Error) =>
        opts.logger.error({ err, nodeId }, 'certificate renewal failed'),
      );
    });
  }

  start(): void {
    this.unwatch = this.opts.manager.store.watch((ev) => {
      // Everything a proxy's config is made of: the mesh (mTLS), its Dataplanes, policies and
      // secrets (a provided CA).
      if (ev.type === 'Mesh') this.markDirty(ev.name);
      else if (ev.type === 'Dataplane') this.markDirty(ev.mesh, ev.name);
      else if (DESTINATION_KINDS.has(ev.type) || descriptorByName(ev.type)?.isPolicy || ev.type === 'MeshOpenTelemetryBackend') this.markDirty(ev.mesh);
      // Legacy zone proxies are global: any mesh's sidecars may route through them.
      else if (ev.type === 'ZoneIngress' || ev.type === 'ZoneEgress') for (const mesh of this.connectedMeshes()) this.markDirty(mesh);
    });
    this.legacy.start();
  }

  private connectedMeshes(): Set<string> {
    return new Set(this.proxiesByMesh.keys());
  }

  async stop(): Promise<void> {
    this.unwatch?.();
    this.unwatch = undefined;
    await this.legacy.stop();
    this.identities.stop();
    clearTimeout(this.timer);
    await this.running;
    await this.insights.flush();
  }

  /** The config last generated for a proxy, decoded to JSON (for `/meshes/{m}/dataplanes/{n}/xds`). */
  configDump(mesh: string, name: string): Record<string, unknown> | undefined {
    const snapshot = this.cache.getSnapshot(nodeIdOf(mesh, name));
    return snapshot ? configDump(snapshot) : undefined;
  }

  readonly hooks: XdsHooks = {
    onStreamOpen: async (node: XdsNode, metadata: Metadata) => {
      if (legacyProxyTypeOf(node)) return this.legacy.onStreamOpen(node, tokenFrom(node, metadata));
      const { mesh, name } = parseNodeId(node);
      const manager = this.opts.manager;
      if (!(await manager.meshExists(mesh))) throw new Error(`mesh: mesh "${mesh}" does not exist`);
      let dp = await manager.get('Dataplane', mesh, name);
      // Only needed (and parsed) when the store does not have the Dataplane.
      const carried = dp ? undefined : dataplaneFromMetadata(node);
      if (this.opts.auth === 'dpToken') {
        const token = tokenFrom(node, metadata);
        const claims = await verifyDataplaneToken(manager.store, token, mesh);
        authorizeDataplane(claims, { mesh, name, dataplane: dp ?? carried });
      }
      // After a CP restart on a memory store (or a delete), the proxy brings its Dataplane back.
      if (!dp && carried) dp = (await manager.upsert({ ...carried, mesh, name })).resource;
      if (!dp) throw new Error(`resource "${mesh}.${name}" not found; create a Dataplane in Skein CP first or pass it as an argument to skein dp run`);
    },
    onNodeConnected: async (node: XdsNode) => {
      if (legacyProxyTypeOf(node)) return this.legacy.onNodeConnected(node);
      const { mesh, name } = parseNodeId(node);
      this.addProxy(node.id, { mesh, name, meta: proxyMetadataOf(node) });
      this.insights.connected(mesh, name, node);
      await this.serially(() => this.regenerate(mesh, [node.id]));
      // Nothing generated (its Dataplane is not in the mesh context yet, or no certificate could be
      // issued): a batch re-reads the Dataplane and tries again, rather than leaving the proxy waiting
      // for a change that may never come.
      if (!this.cache.getSnapshot(node.id)) {
        this.opts.logger.info({ nodeId: node.id }, 'no configuration for a connecting proxy yet; retrying');
        this.markDirty(mesh, name);
      }
    },
    onNodeDisconnected: (nodeId: string) => {
      if (this.legacy.has(nodeId)) return this.legacy.onNodeDisconnected(nodeId);
      const proxy = this.removeProxy(nodeId);
      this.snapshots.forget(nodeId);
      this.identities.forget(nodeId);
      this.undelivered.delete(nodeId);
      if (proxy) this.insights.disconnected(proxy.mesh, proxy.name);
    },
    onAck: (nodeId: string, typeUrl: string, version: string) => {
      if (this.legacy.has(nodeId)) return this.legacy.onAck(nodeId, typeUrl, version);
      const proxy = this.proxies.get(nodeId);
      this.observeDelivery(nodeId, typeUrl, version);
      this.opts.metrics?.xdsResponses.inc({ type_url: typeUrl, result: 'ack' });
      if (proxy) this.insights.ack(proxy.mesh, proxy.name, typeUrl, version);
    },
    onNack: (nodeId: string, typeUrl: string, version: string, detail: ErrorDetail) => {
      const proxy = this.proxies.get(nodeId);
      this.opts.metrics?.xdsResponses.inc({ type_url: typeUrl, result: 'nack' });
      this.opts.logger.warn({ nodeId, typeUrl, version, reason: detail.message }, 'proxy rejected configuration (NACK); it keeps its last good config');
      if (this.legacy.has(nodeId)) return this.legacy.onNack(nodeId, typeUrl, version, detail.message);
      if (proxy) this.insights.nack(proxy.mesh, proxy.name, typeUrl, version, detail.message);
    },
  };

  private markDirty(mesh: string, dataplane?: string): void {
    if (dataplane !== undefined) {
      let names = this.changedDataplanes.get(mesh);
      if (!names) this.changedDataplanes.set(mesh, (names = new Set()));
      names.add(dataplane);
    } else {
      this.meshWideChanges.add(mesh);
    }
    this.dirtyMeshes.add(mesh);
    // A batch already waiting for its turn takes this change too: however long batches take,
    // changes coalesce instead of queueing one batch per debounce period.
    if (this.timer || this.batchWaiting) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.batchWaiting = true;
      void this.serially(async () => {
        this.batchWaiting = false;
        const meshes = [...this.dirtyMeshes];
        this.dirtyMeshes.clear();
        for (const mesh of meshes) {
          this.staleContexts.add(mesh);
          await this.regenerate(mesh).catch((err: Error) => {
            // Whatever this batch missed, the next one re-reads everything and visits every proxy.
            this.contexts.delete(mesh);
            this.meshWideChanges.add(mesh);
            this.opts.logger.error({ err, mesh }, 'xDS generation failed');
          });
        }
      });
    }, this.opts.debounceMs ?? 20);
  }

  /** Marks the mesh (or one proxy's Dataplane) changed after a pause, so that a later batch tries again. */
  private retrySoon(mesh: string, name?: string): void {
    setTimeout(() => {
      if (!this.unwatch) return; // stopped
      this.markDirty(mesh, name);
    }, RETRY_MS).unref();
  }

  /**
   * Runs generation work one task at a time, in order: a proxy's snapshot is never overwritten by
   * one made from an older context.
   */
  private serially(task: () => Promise<void>): Promise<void> {
    const done = this.running.then(task);
    this.running = done.catch(() => {});
    return done;
  }

  /**
   * The mesh's context, rebuilt when stale. The mesh and its policies are read again; Dataplanes
   * only those that changed (a mesh has many), except for a full re-read every FULL_RELIST_MS that
   * bounds how long a missed change notification (a store reconnecting) can go unnoticed.
   */
  private async meshContext(mesh: string): Promise<{ ctx: MeshContext; changes?: ContextChanges } | undefined> {
    const cached = this.contexts.get(mesh);
    if (cached && !this.staleContexts.has(mesh)) return { ctx: cached.ctx, changes: { dataplanes: new Set(), services: new Set() } };
    this.staleContexts.delete(mesh);
    const changed = this.changedDataplanes.get(mesh) ?? new Set<string>();
    this.changedDataplanes.delete(mesh);
    const manager = this.opts.manager;
    const inputs = await readMeshInputs(manager, mesh);
    if (!inputs) {
      this.contexts.delete(mesh);
      return undefined;
    }
    let dataplanes: Map<string, Resource>;
    let listedAt = cached?.listedAt ?? 0;
    const full = !cached || Date.now() - listedAt > FULL_RELIST_MS;
    if (full) {
      listedAt = Date.now();
      dataplanes = new Map((await manager.list('Dataplane', { mesh })).map((dp) => [dp.name, dp]));
    } else {
      dataplanes = new Map(cached.ctx.dataplanes);
      const fresh = await Promise.all([...changed].map((name) => manager.get('Dataplane', mesh, name)));
      [...changed].forEach((name, i) => (fresh[i] ? dataplanes.set(name, fresh[i]) : dataplanes.delete(name)));
    }
    const ctx = contextFromInputs(inputs, dataplanes.values(), this.opts.zone ?? '', cached?.ctx);
    this.contexts.set(mesh, { ctx, listedAt });
    // After a full read, what changed is not known: anything may have.
    if (full) return { ctx };
    return { ctx, changes: { dataplanes: changed, services: changedServices(cached.ctx, ctx) } };
  }

  /**
   * Updates the snapshots of the given proxies of a mesh, or (a batch) of every connected proxy of
   * the mesh that the changes since the last batch can concern.
   */
  private async regenerate(mesh: string, nodeIds?: string[]): Promise<void> {
    const batch = nodeIds === undefined;
    // Taken before anything is read: a change arriving meanwhile is left to the next batch.
    const meshWide = batch && this.meshWideChanges.delete(mesh);
    const ids = nodeIds ?? [...(this.proxiesByMesh.get(mesh) ?? [])];
    if (ids.length === 0) {
      // Nobody to configure: no context to keep up to date (e.g. while Dataplanes are registered
      // before their proxies start); the next proxy to connect builds a fresh one.
      this.contexts.delete(mesh);
      this.changedDataplanes.delete(mesh);
      return;
    }
    const built = await this.meshContext(mesh);
    if (!built) return;
    const ctx = built.ctx;
    // Which proxies a batch visits; undefined = all (a mesh-wide change, or not known).
    const changes = meshWide ? undefined : built.changes;
    let ca;
    try {
      ca = await this.opts.caManager.getCa(mesh);
    } catch (err) {
      // Without a usable CA the proxies keep their last config rather than losing mTLS.
      this.opts.logger.error({ err: (err as Error).message, mesh }, 'could not load the mesh CA');
      if (batch) this.meshWideChanges.add(mesh); // the next batch visits everyone again
      this.retrySoon(mesh);
      return;
    }
    for (const id of ids) {
      const proxy = this.proxies.get(id);
      const dp = proxy && ctx.dataplanes.get(proxy.name);
      if (!proxy || !dp) continue;
      // (A proxy not configured yet uses every service.)
      if (batch && changes && !changes.dataplanes.has(proxy.name) && !this.snapshots.usesAny(id, changes.services)) continue;
      let identity;
      try {
        identity = await this.identities.identityFor(id, dp, ca);
      } catch (err) {
        // Without a certificate the proxy keeps its last config rather than losing mTLS; it is
        // retried with every batch until it gets one.
        this.opts.logger.error({ err: (err as Error).message, nodeId: id }, 'could not issue a workload certificate');
        this.snapshots.forget(id);
        this.retrySoon(mesh, proxy.name);
        continue;
      }
      let snapshot;
      const endTimer = this.opts.metrics?.xdsGeneration.startTimer({ mesh });
      try {
        snapshot = this.snapshots.build(id, dp, ctx, identity, proxy.meta);
        endTimer?.();
      } catch (err) {
        endTimer?.();
        this.opts.metrics?.xdsGenerations.inc({ mesh, result: 'error' });
        this.insights.generationFailed(mesh, proxy.name, (err as Error).message);
        if (!batch) throw err; // the connecting stream fails with the reason
        // One proxy's unusable Dataplane must not hold up the others' configs.
        this.opts.logger.error({ err: (err as Error).message, nodeId: id }, 'xDS generation failed');
        this.snapshots.forget(id);
        continue;
      }
      this.insights.generated(mesh, proxy.name);
      const previous = this.cache.getSnapshot(id);
      const changed = !!snapshot && this.cache.setSnapshot(id, snapshot);
      if (changed) this.trackDelivery(id, snapshot!, previous);
      this.opts.metrics?.xdsGenerations.inc({ mesh, result: changed ? 'changed' : 'unchanged' });
    }
  }

  private addProxy(nodeId: string, proxy: ConnectedProxy): void {
    this.removeProxy(nodeId);
    this.proxies.set(nodeId, proxy);
    let ids = this.proxiesByMesh.get(proxy.mesh);
    if (!ids) this.proxiesByMesh.set(proxy.mesh, (ids = new Set()));
    ids.add(nodeId);
    this.opts.metrics?.xdsConnectedProxies.set({ mesh: proxy.mesh }, ids.size);
  }

  private removeProxy(nodeId: string): ConnectedProxy | undefined {
    const proxy = this.proxies.get(nodeId);
    if (!proxy) return undefined;
    this.proxies.delete(nodeId);
    const ids = this.proxiesByMesh.get(proxy.mesh);
    ids?.delete(nodeId);
    if (ids?.size === 0) this.proxiesByMesh.delete(proxy.mesh);
    this.opts.metrics?.xdsConnectedProxies.set({ mesh: proxy.mesh }, ids?.size ?? 0);
    return proxy;
  }

  /** Remembers when each changed type of a new snapshot was generated, until the proxy ACKs it. */
  private trackDelivery(nodeId: string, snapshot: Snapshot, previous: Snapshot | undefined): void {
    if (!this.opts.metrics) return;
    let pending = this.undelivered.get(nodeId);
    if (!pending) this.undelivered.set(nodeId, (pending = new Map()));
    const now = performance.now();
    for (const [typeUrl, version] of snapshot.typeVersions) {
      if (previous?.typeVersions.get(typeUrl) === version) continue;
      // A change superseded before its ACK keeps the earlier time: the delay the proxy saw.
      pending.set(typeUrl, { version, at: pending.get(typeUrl)?.at ?? now });
    }
  }

  private observeDelivery(nodeId: string, typeUrl: string, version: string): void {
    const pending = this.undelivered.get(nodeId);
    const entry = pending?.get(typeUrl);
    if (!entry || entry.version !== version) return;
    pending!.delete(typeUrl);
    this.opts.metrics?.xdsDelivery.observe({ type_url: typeUrl }, (performance.now() - entry.at) / 1000);
  }
}

export function nodeIdOf(mesh: string, name: string): string {
  return `${mesh}.${name}`;
}

/** Node ids are `<mesh>.<name>`; the mesh in node metadata disambiguates meshes with dots. */
function parseNodeId(node: XdsNode): { mesh: string; name: string } {
  const mesh = typeof node.metadata['dataplane.mesh'] === 'string' ? (node.metadata['dataplane.mesh'] as string) : node.id.split('.')[0]!;
  if (!node.id.startsWith(`${mesh}.`) || node.id.length === mesh.length + 1) throw new Error(`invalid node id "${node.id}": expected <mesh>.<name>`);
  return { mesh, name: node.id.slice(mesh.length + 1) };
}

function tokenFrom(node: XdsNode, metadata: Metadata): string {
  const header = metadata.get('authorization');
  if (header.length > 1) throw new Error(`request must have exactly 1 "authorization" header, got ${header.length}`);
  if (header.length === 1) return String(header[0]).replace(/^Bearer\s+/i, '');
  const fromNode = node.metadata['dataplane.token'];
  return typeof fromNode === 'string' ? fromNode : '';
}

/** The DP sends JSON or YAML; JSON (a subset of YAML) parses far faster with JSON.parse. */
function parseJsonOrYaml(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return YAML.parse(raw);
  }
}

function dataplaneFromMetadata(node: XdsNode): (Resource & { type: 'Dataplane' }) | undefined {
  const raw = node.metadata['dataplane.resource'];
  if (typeof raw !== 'string' || !raw) return undefined;
  try {
    const parsed = fromWire(parseJsonOrYaml(raw));
    return parsed.resource?.type === 'Dataplane' ? (parsed.resource as unknown as Resource & { type: 'Dataplane' }) : undefined;
  } catch {
    return undefined;
  }
}
