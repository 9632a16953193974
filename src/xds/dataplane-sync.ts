// Keeps every connected proxy's snapshot in step with the store:
//   store change → mesh marked dirty → MeshContext rebuilt once per batch → each connected proxy of
//   that mesh regenerated only if its inputs (own Dataplane, mesh, used services) changed.
// Also the xDS hooks: authenticate streams with dataplane tokens, re-register Dataplanes carried in
// node metadata, and record connection state and ACK/NACKs in DataplaneInsights.
import type { Metadata } from '@grpc/grpc-js';
import YAML from 'yaml';
import type { Resource } from '../api/resource.js';
import { fromWire } from '../api/index.js';
import type { ResourceManager } from '../core/resource-manager.js';
import { authorizeDataplane, verifyDataplaneToken } from '../auth/dataplane-tokens.js';
import { unpackAny } from '../envoy/protos.js';
import type { Logger } from '../observability/logger.js';
import { SnapshotCache } from './cache/snapshot-cache.js';
import { makeSnapshot } from './cache/snapshot.js';
import { buildMeshContext, proxyInputHash, type MeshContext } from './context/mesh-context.js';
import { generateSidecar } from './generator/sidecar.js';
import type { XdsHooks } from './server/hooks.js';
import type { XdsNode } from './server/node.js';
import type { ErrorDetail } from './server/hooks.js';
import { DataplaneInsights } from './insights.js';
import { ProxyIdentities } from './identity.js';
import type { MeshCaManager } from '../pki/index.js';
import { descriptorByName } from '../api/descriptor.js';

export interface DataplaneSyncOptions {
  manager: ResourceManager;
  logger: Logger;
  auth: 'dpToken' | 'none';
  instanceId: string;
  /** Coalesce store changes for this long before regenerating (ms). */
  debounceMs?: number;
  /** Issues workload certificates when a mesh has mTLS enabled. */
  caManager: MeshCaManager;
}

interface ConnectedProxy {
  mesh: string;
  name: string;
  inputHash?: string;
}

export class DataplaneSync {
  readonly cache = new SnapshotCache();
  readonly insights: DataplaneInsights;
  private readonly proxies = new Map<string, ConnectedProxy>();
  private readonly contexts = new Map<string, MeshContext>();
  private readonly dirtyMeshes = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private unwatch: (() => void) | undefined;

  private readonly identities: ProxyIdentities;

  constructor(private readonly opts: DataplaneSyncOptions) {
    this.insights = new DataplaneInsights(opts.manager.store, opts.instanceId, opts.logger);
    this.identities = new ProxyIdentities(opts.caManager, (nodeId) => {
      const proxy = this.proxies.get(nodeId);
      if (!proxy) return;
      this.running = this.running.then(() =>
        this.regenerate(proxy.mesh, [nodeId]).catch((err: Error) => opts.logger.error({ err, nodeId }, 'certificate renewal failed')),
      );
    });
  }

  start(): void {
    this.unwatch = this.opts.manager.store.watch((ev) => {
      // Everything a proxy's config is made of: the mesh (mTLS), its Dataplanes, policies and
      // secrets (a provided CA).
      if (ev.type === 'Mesh') this.markDirty(ev.name);
      else if (ev.type === 'Dataplane' || ev.type === 'Secret' || descriptorByName(ev.type)?.isPolicy) this.markDirty(ev.mesh);
    });
  }

  async stop(): Promise<void> {
    this.unwatch?.();
    this.identities.stop();
    clearTimeout(this.timer);
    await this.running;
    await this.insights.flush();
  }

  /** The config last generated for a proxy, decoded to JSON (for `/meshes/{m}/dataplanes/{n}/xds`). */
  configDump(mesh: string, name: string): Record<string, unknown> | undefined {
    const snapshot = this.cache.getSnapshot(nodeIdOf(mesh, name));
    if (!snapshot) return undefined;
    const byType: Record<string, unknown> = {};
    for (const [typeUrl, resources] of snapshot.resources) {
      byType[typeUrl.split('.').pop()!] = [...resources.values()].map((r) => ({ name: r.name, version: r.version, resource: redactKeys(unpackAny(r.any)) }));
    }
    return { version: snapshot.version, resources: byType };
  }

  readonly hooks: XdsHooks = {
    onStreamOpen: async (node: XdsNode, metadata: Metadata) => {
      const { mesh, name } = parseNodeId(node);
      const manager = this.opts.manager;
      if (!(await manager.meshExists(mesh))) throw new Error(`mesh: mesh "${mesh}" does not exist`);
      let dp = await manager.get('Dataplane', mesh, name);
      const carried = dataplaneFromMetadata(node);
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
      const { mesh, name } = parseNodeId(node);
      this.proxies.set(node.id, { mesh, name });
      this.insights.connected(mesh, name, node);
      await this.regenerate(mesh, [node.id]);
    },
    onNodeDisconnected: (nodeId: string) => {
      const proxy = this.proxies.get(nodeId);
      this.proxies.delete(nodeId);
      this.identities.forget(nodeId);
      if (proxy) this.insights.disconnected(proxy.mesh, proxy.name);
    },
    onAck: (nodeId: string, typeUrl: string, version: string) => {
      const proxy = this.proxies.get(nodeId);
      if (proxy) this.insights.ack(proxy.mesh, proxy.name, typeUrl, version);
    },
    onNack: (nodeId: string, typeUrl: string, version: string, detail: ErrorDetail) => {
      const proxy = this.proxies.get(nodeId);
      this.opts.logger.warn({ nodeId, typeUrl, version, reason: detail.message }, 'proxy rejected configuration (NACK); it keeps its last good config');
      if (proxy) this.insights.nack(proxy.mesh, proxy.name, typeUrl, version, detail.message);
    },
  };

  private markDirty(mesh: string): void {
    this.dirtyMeshes.add(mesh);
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const meshes = [...this.dirtyMeshes];
      this.dirtyMeshes.clear();
      this.running = this.running.then(async () => {
        for (const mesh of meshes) {
          this.contexts.delete(mesh);
          await this.regenerate(mesh).catch((err: Error) => this.opts.logger.error({ err, mesh }, 'xDS generation failed'));
        }
      });
    }, this.opts.debounceMs ?? 20);
  }

  private async meshContext(mesh: string): Promise<MeshContext | undefined> {
    const cached = this.contexts.get(mesh);
    if (cached) return cached;
    const meshResource = await this.opts.manager.get('Mesh', '', mesh);
    if (!meshResource) return undefined;
    const [dataplanes, permissions] = await Promise.all([
      this.opts.manager.list('Dataplane', { mesh }),
      this.opts.manager.list('MeshTrafficPermission', { mesh }),
    ]);
    const ctx = buildMeshContext(meshResource, dataplanes, permissions);
    this.contexts.set(mesh, ctx);
    return ctx;
  }

  /** Regenerates the given (default: all connected) proxies of a mesh whose inputs changed. */
  private async regenerate(mesh: string, nodeIds?: string[]): Promise<void> {
    const ctx = await this.meshContext(mesh);
    if (!ctx) return;
    const ids = nodeIds ?? [...this.proxies.entries()].filter(([, p]) => p.mesh === mesh).map(([id]) => id);
    for (const id of ids) {
      const proxy = this.proxies.get(id);
      const dp = proxy && ctx.dataplanes.get(proxy.name);
      if (!proxy || !dp) continue;
      let identity;
      try {
        identity = await this.identities.identityFor(id, dp);
      } catch (err) {
        // Without a certificate the proxy keeps its last config rather than losing mTLS.
        this.opts.logger.error({ err: (err as Error).message, nodeId: id }, 'could not issue a workload certificate');
        continue;
      }
      const inputHash = proxyInputHash(ctx, dp, identity.version);
      if (proxy.inputHash === inputHash && this.cache.getSnapshot(id)) continue;
      proxy.inputHash = inputHash;
      this.cache.setSnapshot(id, makeSnapshot(generateSidecar(dp, ctx, identity.identity)));
    }
  }
}

/** Private keys never leave the CP through the inspect API (Envoy's config_dump redacts them too). */
function redactKeys(resource: unknown): unknown {
  const r = resource as { tls_certificate?: { private_key?: unknown } } | undefined;
  if (!r?.tls_certificate?.private_key) return resource;
  return { ...r, tls_certificate: { ...r.tls_certificate, private_key: '[redacted]' } };
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

function dataplaneFromMetadata(node: XdsNode): (Resource & { type: 'Dataplane' }) | undefined {
  const raw = node.metadata['dataplane.resource'];
  if (typeof raw !== 'string' || !raw) return undefined;
  try {
    const parsed = fromWire(YAML.parse(raw));
    return parsed.resource?.type === 'Dataplane' ? (parsed.resource as unknown as Resource & { type: 'Dataplane' }) : undefined;
  } catch {
    return undefined;
  }
}
