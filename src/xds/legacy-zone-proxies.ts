// Legacy global-scoped zone proxies (Kuma 2.x ZoneIngress / ZoneEgress, kept for migration):
// `skein dp run --proxy-type ingress|egress -d <ZoneIngress|ZoneEgress>` with a zone token.
//
// Their xDS node id has no mesh: `zoneingress:<name>` / `zoneegress:<name>` (':' cannot appear in a
// mesh name, so it never collides with a sidecar's `<mesh>.<name>`), and the node metadata says
// `dataplane.proxyType: ingress|egress`. Streams are authenticated with the zone token (scope
// `ingress` resp. `egress`, issued for this CP's zone), as the bootstrap request is.
//
// One legacy proxy serves every mesh, so it depends on all of them: any change of a mesh, its
// Dataplanes, destinations, policies or of the legacy proxies themselves regenerates every connected
// legacy proxy from freshly built contexts of all meshes (debounced). Simple rather than clever:
// legacy proxies are few, and this path does not touch the per-mesh sidecar machinery.
import type { Resource } from '../api/resource.js';
import { descriptorByName } from '../api/descriptor.js';
import { fromWire } from '../api/index.js';
import type { ResourceManager } from '../core/resource-manager.js';
import type { Logger } from '../observability/logger.js';
import type { MeshCaManager } from '../pki/index.js';
import { authenticateZoneProxy } from '../auth/zone-tokens.js';
import { makeSnapshot, type Snapshot } from './cache/snapshot.js';
import type { SnapshotCache } from './cache/snapshot-cache.js';
import type { MeshContext } from './context/mesh-context.js';
import { contextFromInputs, readMeshInputs } from './context/mesh-inputs.js';
import { generateLegacyZoneEgress, generateLegacyZoneIngress, legacyEgressSpiffeId } from './generator/legacy-zone-proxy.js';
import type { ProxyIdentity } from './generator/sidecar.js';
import { DataplaneInsights } from './insights.js';
import type { XdsNode } from './server/node.js';

export type LegacyProxyType = 'ingress' | 'egress';

export const LEGACY_PROXY_KINDS = { ingress: 'ZoneIngress', egress: 'ZoneEgress' } as const;

export function legacyNodeId(type: LegacyProxyType, name: string): string {
  return `${LEGACY_PROXY_KINDS[type].toLowerCase()}:${name}`;
}

/** `ingress` / `egress` for a legacy zone proxy's node (metadata `dataplane.proxyType`), else undefined. */
export function legacyProxyTypeOf(node: Pick<XdsNode, 'metadata'>): LegacyProxyType | undefined {
  const t = node.metadata['dataplane.proxyType'];
  return t === 'ingress' || t === 'egress' ? t : undefined;
}

/** Kinds whose changes can alter a legacy proxy's config (policies are added by descriptor). */
const INPUT_KINDS = new Set(['Mesh', 'Dataplane', 'ZoneIngress', 'ZoneEgress', 'Secret', 'MeshService', 'MeshMultiZoneService', 'MeshExternalService']);

const RENEW_AT_FRACTION = 0.8;

export interface LegacyZoneProxiesOptions {
  manager: ResourceManager;
  logger: Logger;
  auth: 'dpToken' | 'none';
  instanceId: string;
  caManager: MeshCaManager;
  cache: SnapshotCache;
  zone?: string;
  debounceMs?: number;
}

interface Connected {
  type: LegacyProxyType;
  name: string;
  previous?: Snapshot;
}

interface IssuedIdentity {
  key: string;
  identity: ProxyIdentity;
  renewAt: number;
}

export class LegacyZoneProxies {
  private readonly proxies = new Map<string, Connected>();
  /** The egresses' certificates, per node id and mesh. */
  private readonly identities = new Map<string, Map<string, IssuedIdentity>>();
  private readonly insights: Record<LegacyProxyType, DataplaneInsights>;
  private timer: NodeJS.Timeout | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private unwatch: (() => void) | undefined;

  constructor(private readonly opts: LegacyZoneProxiesOptions) {
    this.insights = {
      ingress: new DataplaneInsights(opts.manager.store, opts.instanceId, opts.logger, 'ZoneIngressInsight'),
      egress: new DataplaneInsights(opts.manager.store, opts.instanceId, opts.logger, 'ZoneEgressInsight'),
    };
  }

  start(): void {
    this.unwatch = this.opts.manager.store.watch((ev) => {
      if (this.proxies.size === 0) return;
      if (INPUT_KINDS.has(ev.type) || descriptorByName(ev.type)?.isPolicy) this.schedule();
    });
  }

  async stop(): Promise<void> {
    this.unwatch?.();
    clearTimeout(this.timer);
    clearTimeout(this.renewTimer);
    await this.running;
    await Promise.all([this.insights.ingress.flush(), this.insights.egress.flush()]);
  }

  has(nodeId: string): boolean {
    return this.proxies.has(nodeId);
  }

  /** Authenticates the stream and makes sure the proxy's resource exists (it may bring it back). */
  async onStreamOpen(node: XdsNode, token: string): Promise<void> {
    const type = legacyProxyTypeOf(node)!;
    const kind = LEGACY_PROXY_KINDS[type];
    const name = nameOf(node, type);
    if (this.opts.auth === 'dpToken') await authenticateZoneProxy(this.opts.manager.store, token, { zone: this.opts.zone ?? '', scope: type });
    if (await this.opts.manager.get(kind, '', name)) return;
    // After a CP restart on a memory store (or a delete), the proxy brings its resource back.
    const carried = carriedResource(node, kind);
    if (!carried || carried.name !== name) throw new Error(`${kind} "${name}" not found; pass it to skein dp run with -d`);
    const spec = { ...carried.spec, ...(this.opts.zone ? { zone: this.opts.zone } : {}) };
    await this.opts.manager.upsert({ ...carried, mesh: '', name, spec });
  }

  async onNodeConnected(node: XdsNode): Promise<void> {
    const type = legacyProxyTypeOf(node)!;
    const name = nameOf(node, type);
    this.proxies.set(node.id, { type, name });
    this.insights[type].connected('', name, node);
    await this.serially(() => this.regenerate([node.id]));
  }

  onNodeDisconnected(nodeId: string): void {
    const proxy = this.proxies.get(nodeId);
    this.proxies.delete(nodeId);
    this.identities.delete(nodeId);
    this.opts.cache.clearSnapshot(nodeId);
    if (proxy) this.insights[proxy.type].disconnected('', proxy.name);
  }

  onAck(nodeId: string, typeUrl: string, version: string): void {
    const proxy = this.proxies.get(nodeId);
    if (proxy) this.insights[proxy.type].ack('', proxy.name, typeUrl, version);
  }

  onNack(nodeId: string, typeUrl: string, version: string, reason: string): void {
    const proxy = this.proxies.get(nodeId);
    if (proxy) this.insights[proxy.type].nack('', proxy.name, typeUrl, version, reason);
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.serially(() => this.regenerate()).catch((err: Error) => this.opts.logger.error({ err }, 'legacy zone proxy xDS generation failed'));
    }, this.opts.debounceMs ?? 50);
  }

  /** One generation at a time: a snapshot is never overwritten by one made from older data. */
  private serially(task: () => Promise<void>): Promise<void> {
    const done = this.running.then(task);
    this.running = done.catch(() => {});
    return done;
  }

  /** Every mesh's context, built from the store (each legacy proxy serves all meshes). */
  private async contexts(): Promise<MeshContext[]> {
    const { manager } = this.opts;
    const out: MeshContext[] = [];
    for (const mesh of await manager.list('Mesh')) {
      const inputs = await readMeshInputs(manager, mesh.name);
      if (!inputs) continue;
      out.push(contextFromInputs(inputs, await manager.list('Dataplane', { mesh: mesh.name }), this.opts.zone ?? ''));
    }
    return out;
  }

  private async regenerate(nodeIds?: string[]): Promise<void> {
    const ids = nodeIds ?? [...this.proxies.keys()];
    if (ids.length === 0) return;
    const contexts = await this.contexts();
    for (const id of ids) {
      const proxy = this.proxies.get(id);
      if (!proxy) continue;
      const resource = await this.opts.manager.get(LEGACY_PROXY_KINDS[proxy.type], '', proxy.name);
      if (!resource) continue; // deleted: it keeps its last config until it reconnects (and is refused)
      const resources =
        proxy.type === 'ingress'
          ? generateLegacyZoneIngress(resource, contexts, this.opts.zone ?? '')
          : generateLegacyZoneEgress(resource, contexts, await this.egressIdentities(id, contexts));
      const snapshot = makeSnapshot(resources, proxy.previous);
      proxy.previous = snapshot;
      this.opts.cache.setSnapshot(id, snapshot);
    }
  }

  /**
   * The egress's certificate in each mTLS mesh (`spiffe://<mesh>/legacy/zone-egress`), reissued when
   * the mesh CA changes or 80% of its lifetime has passed.
   */
  private async egressIdentities(nodeId: string, contexts: MeshContext[]): Promise<Map<string, ProxyIdentity>> {
    let issued = this.identities.get(nodeId);
    if (!issued) this.identities.set(nodeId, (issued = new Map()));
    const out = new Map<string, ProxyIdentity>();
    for (const ctx of contexts) {
      const mesh = ctx.mesh.name;
      let ca;
      try {
        ca = await this.opts.caManager.getCa(mesh);
      } catch (err) {
        this.opts.logger.error({ err: (err as Error).message, mesh }, 'could not load the mesh CA');
        continue;
      }
      if (!ca) {
        issued.delete(mesh);
        continue;
      }
      const key = JSON.stringify([ca.backend, ca.certPem, ca.mode, ca.dpCertValidityMs]);
      let current = issued.get(mesh);
      if (!current || current.key !== key || Date.now() >= current.renewAt) {
        const cert = await this.opts.caManager.issue(mesh, [legacyEgressSpiffeId(mesh)]);
        const now = Date.now();
        current = { key, identity: { mode: ca.mode, certPem: cert.certPem, keyPem: cert.keyPem, caPem: ca.certPem }, renewAt: now + Math.max(1_000, (cert.notAfter.getTime() - now) * RENEW_AT_FRACTION) };
        issued.set(mesh, current);
        this.scheduleRenewal();
      }
      out.set(mesh, current.identity);
    }
    return out;
  }

  /** Wakes up for the earliest renewal due. */
  private scheduleRenewal(): void {
    const next = Math.min(...[...this.identities.values()].flatMap((m) => [...m.values()].map((i) => i.renewAt)));
    if (!Number.isFinite(next)) return;
    clearTimeout(this.renewTimer);
    this.renewTimer = setTimeout(() => this.schedule(), Math.min(Math.max(0, next - Date.now()), 2 ** 31 - 1));
    this.renewTimer.unref();
  }
}

function nameOf(node: XdsNode, type: LegacyProxyType): string {
  const prefix = `${LEGACY_PROXY_KINDS[type].toLowerCase()}:`;
  if (!node.id.startsWith(prefix) || node.id.length === prefix.length) throw new Error(`invalid node id "${node.id}": expected ${prefix}<name>`);
  return node.id.slice(prefix.length);
}

function carriedResource(node: XdsNode, kind: string): Resource | undefined {
  const raw = node.metadata['dataplane.resource'];
  if (typeof raw !== 'string' || !raw) return undefined;
  try {
    const parsed = fromWire(JSON.parse(raw));
    return parsed.resource?.type === kind ? (parsed.resource as unknown as Resource) : undefined;
  } catch {
    return undefined;
  }
}
