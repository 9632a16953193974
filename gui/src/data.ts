// Loaders shared by several pages, built on the REST API only.
import { get, getAll, optional, type DataplaneOverview, type Mesh, type PolicyResource, type PolicyType } from './api';

export const enc = encodeURIComponent;

/** Pages with live status (online/offline) refetch this often. */
export const LIVE_REFRESH_MS = 10_000;

export async function loadMeshes(): Promise<Mesh[]> {
  return getAll<Mesh>('/meshes');
}

/** Every Dataplane (sidecars and zone proxies) of every mesh, with its insight. */
export async function loadDataplanes(meshes?: Mesh[]): Promise<DataplaneOverview[]> {
  const all = meshes ?? (await loadMeshes());
  const perMesh = await Promise.all(all.map((m) => getAll<DataplaneOverview>(`/meshes/${enc(m.name)}/dataplanes/_overview`)));
  return perMesh.flat();
}

export async function loadPolicyTypes(): Promise<PolicyType[]> {
  const res = await get<{ policies: PolicyType[] }>('/policies');
  return res.policies;
}

/** Every policy of every kind (mesh-scoped listing across meshes: `GET /{path}`). */
export async function loadPolicies(types?: PolicyType[]): Promise<{ types: PolicyType[]; policies: (PolicyResource & { kind: PolicyType })[] }> {
  const kinds = types ?? (await loadPolicyTypes());
  const lists = await Promise.all(
    kinds.map(async (t) => {
      const r = await optional(getAll<PolicyResource>(`/${t.path}`));
      return (r.value ?? []).map((p) => ({ ...p, kind: t }));
    }),
  );
  return { types: kinds, policies: lists.flat() };
}
