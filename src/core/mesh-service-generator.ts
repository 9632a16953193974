// Generates MeshServices from Dataplanes (Kuma's Universal `meshservice` generator): per mesh whose
// `meshServices.mode` is not Disabled, one MeshService per `kuma.io/service` of the local zone's
// Dataplane inbounds, named after the service, with one port per distinct inbound port
// (appProtocol = `kuma.io/protocol`), the service tag as selector and identity, and a status (VIP,
// hostname, TLS readiness, proxy counts). Generated ones carry `kuma.io/managed-by:
// meshservice-generator`; they follow their Dataplanes and go when the last one goes (or when the
// mode is set back to Disabled). A MeshService a user wrote is never touched.
// Runs on standalone and zone CPs (global has no Dataplanes of its own; zones' MeshServices reach
// it and the other zones through sync).
import type { Resource } from '../api/resource.js';
import type { DataplaneSpec } from '../api/kinds/dataplane-spec.js';
import { destinationVip, type MeshServiceSpec, type MeshServiceStatus } from '../api/kinds/mesh-service.js';
import { mtlsEnabled, type MeshSpec } from '../api/kinds/mesh.js';
import { isZoneProxy } from '../api/zone-proxy.js';
import { DISPLAY_NAME_LABEL, ORIGIN_LABEL, ZONE_LABEL } from '../api/well-known.js';
import type { Logger } from '../observability/logger.js';
import type { ResourceManager } from './resource-manager.js';

export const MANAGED_BY_LABEL = 'kuma.io/managed-by';
export const MESH_SERVICE_GENERATOR = 'meshservice-generator';

const SERVICE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

interface Desired {
  ports: Map<number, string>;
  total: number;
  healthy: number;
}

/** What the local Dataplanes of a mesh ask for, by service name. */
export function desiredMeshServices(dataplanes: Resource[], localZone: string): Map<string, Desired> {
  const out = new Map<string, Desired>();
  for (const dp of dataplanes) {
    if (isZoneProxy(dp)) continue;
    const zone = dp.labels[ZONE_LABEL] ?? '';
    if (dp.labels[ORIGIN_LABEL] === 'global' || (zone !== '' && zone !== localZone)) continue;
    const seen = new Set<string>();
    for (const inbound of (dp.spec as DataplaneSpec).networking?.inbound ?? []) {
      const service = inbound.tags?.['kuma.io/service'];
      // A name that cannot be a MeshService (or part of an SNI) is skipped, as in Kuma.
      if (!service || service.length > 63 || !SERVICE_NAME.test(service) || !inbound.port) continue;
      let d = out.get(service);
      if (!d) out.set(service, (d = { ports: new Map(), total: 0, healthy: 0 }));
      if (!d.ports.has(inbound.port)) d.ports.set(inbound.port, inbound.tags?.['kuma.io/protocol'] ?? 'tcp');
      if (!seen.has(service)) {
        seen.add(service);
        d.total++;
        if (inbound.health?.ready !== false && inbound.state !== 'NotReady') d.healthy++;
      }
    }
  }
  return out;
}

export class MeshServiceGenerator {
  private readonly dirty = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private unwatch: (() => void) | undefined;

  constructor(
    private readonly manager: ResourceManager,
    private readonly logger: Logger,
    private readonly zone: string,
    private readonly debounceMs = 100,
  ) {}

  async start(): Promise<void> {
    this.unwatch = this.manager.store.watch((ev) => {
      if (ev.type === 'Mesh') this.markDirty(ev.name);
      else if (ev.type === 'Dataplane') this.markDirty(ev.mesh);
    });
    // Catch up with what changed while the CP was down.
    for (const mesh of await this.manager.list('Mesh')) this.markDirty(mesh.name);
  }

  async stop(): Promise<void> {
    this.unwatch?.();
    clearTimeout(this.timer);
    await this.running;
  }

  private markDirty(mesh: string): void {
    this.dirty.add(mesh);
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const meshes = [...this.dirty];
      this.dirty.clear();
      this.running = this.running.then(async () => {
        for (const mesh of meshes) {
          await this.reconcile(mesh).catch((err: Error) => {
            this.logger.error({ err: err.message, mesh }, 'could not generate MeshServices; retrying');
            this.markDirty(mesh);
          });
        }
      });
    }, this.debounceMs);
  }

  private isLocal(r: Resource): boolean {
    const zone = r.labels[ZONE_LABEL] ?? '';
    return r.labels[ORIGIN_LABEL] !== 'global' && (zone === '' || zone === this.zone);
  }

  /** Brings the mesh's generated MeshServices in line with its Dataplanes. */
  async reconcile(meshName: string): Promise<void> {
    const mesh = await this.manager.get('Mesh', '', meshName);
    // Other zones' MeshServices (synced) are theirs to manage.
    const existing = (mesh ? await this.manager.list('MeshService', { mesh: meshName }) : []).filter((r) => this.isLocal(r));
    const managed = new Map(existing.filter((r) => r.labels[MANAGED_BY_LABEL] === MESH_SERVICE_GENERATOR).map((r) => [r.name, r]));
    const userOwned = new Set(existing.filter((r) => r.labels[MANAGED_BY_LABEL] !== MESH_SERVICE_GENERATOR).map((r) => r.name));
    const mode = (mesh?.spec as MeshSpec | undefined)?.meshServices?.mode ?? 'Disabled';
    const desired = mesh && mode !== 'Disabled' ? desiredMeshServices(await this.manager.list('Dataplane', { mesh: meshName }), this.zone) : new Map<string, Desired>();
    for (const [name, d] of desired) {
      if (userOwned.has(name)) continue;
      const labels = { [MANAGED_BY_LABEL]: MESH_SERVICE_GENERATOR, [DISPLAY_NAME_LABEL]: name, ...(this.zone ? { [ZONE_LABEL]: this.zone } : {}) };
      const spec: MeshServiceSpec = {
        selector: { dataplaneTags: { 'kuma.io/service': name } },
        ports: [...d.ports].sort(([a], [b]) => a - b).map(([port, appProtocol]) => ({ port, targetPort: port, appProtocol })),
        identities: [{ type: 'ServiceTag', value: name }],
      };
      const status: MeshServiceStatus = {
        addresses: [{ hostname: `${name}.svc.mesh.local`, origin: 'HostnameGenerator' }],
        vips: [{ ip: destinationVip({ type: 'MeshService', mesh: meshName, name, labels, spec: {} } as unknown as Resource) }],
        tls: { status: mtlsEnabled(mesh!.spec as MeshSpec) ? 'Ready' : 'NotReady' },
        dataplaneProxies: { healthy: d.healthy, total: d.total },
      };
      const current = managed.get(name);
      if (current && canonical([current.spec, current.status]) === canonical([spec, status])) continue;
      await this.manager.upsert({ type: 'MeshService', mesh: meshName, name, labels: { ...(current?.labels ?? {}), ...labels }, spec: spec as Record<string, unknown>, status: status as Record<string, unknown> }, { origin: 'system' });
    }
    for (const name of managed.keys()) {
      if (!desired.has(name)) await this.manager.delete('MeshService', meshName, name, { origin: 'system' });
    }
  }
}

/** JSON with object keys sorted: stores may hand back keys in another order (PostgreSQL jsonb). */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}
