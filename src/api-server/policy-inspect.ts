// Policy inspection, computed by the policy engine from what is stored (no proxy needs to be
// connected):
//   GET /meshes/{mesh}/dataplanes/{name}/_rules     which policies apply to each inbound, outbound
//                                                   and zone-proxy listener, and the merged conf
//   GET /meshes/{mesh}/{policies}/{name}/_resources[/dataplanes]
//                                                   which proxies (and which of their inbounds and
//                                                   listeners) a policy selects
// Response shapes: docs/policies.md.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { descriptorByPath } from '../api/descriptor.js';
import type { Resource } from '../api/resource.js';
import type { ResourceManager } from '../core/resource-manager.js';
import {
  destinationsOf,
  proxyViewOf,
  registeredPolicyKinds,
  rulesForProxy,
  sectionOf,
  selectProxy,
  topLevelRef,
  zoneAllows,
  type ProxyRules,
  type ProxyView,
} from '../policy-engine/index.js';
import { ApiError } from './errors.js';
import { nextUrl, pageParams } from './resources.js';

type Params = { mesh: string; collection: string; name: string };

export function registerPolicyInspectRoutes(app: FastifyInstance, manager: ResourceManager): void {
  const requireMesh = async (mesh: string): Promise<void> => {
    if (!(await manager.meshExists(mesh))) throw new ApiError(404, 'Failed to retrieve Mesh', 'Not found', [{ field: 'mesh', reason: `mesh "${mesh}" does not exist` }]);
  };

  /** The engine's view of a Dataplane, with its destinations computed from the mesh. */
  const viewOf = async (dp: Resource): Promise<ProxyView> => {
    const [dataplanes, externalServices] = await Promise.all([manager.list('Dataplane', { mesh: dp.mesh }), manager.list('MeshExternalService', { mesh: dp.mesh })]);
    return proxyViewOf(dp, destinationsOf(dp, { dataplanes, externalServices, zone: manager.ctx.zone ?? '' }));
  };

  app.get<{ Params: { mesh: string; name: string } }>('/meshes/:mesh/dataplanes/:name/_rules', async (req) => {
    const { mesh, name } = req.params;
    await requireMesh(mesh);
    const dp = await manager.get('Dataplane', mesh, name);
    if (!dp) throw new ApiError(404, 'Could not retrieve a resource', 'Not found');
    const view = await viewOf(dp);
    const policies = (await Promise.all(registeredPolicyKinds().map((k) => manager.list(k.name, { mesh })))).flat();
    return {
      resource: { type: 'Dataplane', mesh, name, labels: dp.labels },
      proxyType: view.proxyType,
      zoneProxy: view.zoneProxy,
      rules: rulesForProxy(view, policies).map(toWire),
    };
  });

  const resourcesHandler = async (req: FastifyRequest<{ Params: Params }>) => {
    const { mesh, collection, name } = req.params;
    const d = descriptorByPath(collection);
    if (!d || d.scope !== 'Mesh') throw new ApiError(404, 'Not Found', `unknown resource collection "${collection}"`);
    if (!d.isPolicy) throw new ApiError(404, 'Not Found', `${d.name} is not a policy: it selects no proxies`);
    await requireMesh(mesh);
    const policy = await manager.get(d.name, mesh, name);
    if (!policy) throw new ApiError(404, 'Could not retrieve a resource', 'Not found');
    const ref = topLevelRef(policy);
    const hits = [];
    for (const dp of await manager.list('Dataplane', { mesh })) {
      const view = proxyViewOf(dp);
      if (policy.labels['kuma.io/effect'] === 'shadow' || !zoneAllows(policy, view)) continue;
      const sel = selectProxy(ref, view);
      if (!sel.proxy) continue;
      hits.push({
        type: 'Dataplane',
        mesh,
        name: dp.name,
        labels: dp.labels,
        creationTime: dp.creationTime,
        modificationTime: dp.modificationTime,
        inbounds: sel.inbounds.map(sectionOf),
        listeners: sel.listeners.map(sectionOf),
      });
    }
    const { size, offset } = pageParams(req.query as Record<string, string>);
    return { total: hits.length, items: hits.slice(offset, offset + size), next: offset + size < hits.length ? nextUrl(req, offset + size) : null };
  };
  app.get<{ Params: Params }>('/meshes/:mesh/:collection/:name/_resources', resourcesHandler);
  app.get<{ Params: Params }>('/meshes/:mesh/:collection/:name/_resources/dataplanes', resourcesHandler);
}

/** The engine's rules as sent over the API: the `to` entries are summed up in `outbounds`/`toMesh`. */
function toWire(r: ProxyRules): Omit<ProxyRules, 'to'> {
  const { to: _to, ...rest } = r;
  return rest;
}
