import { Link } from 'react-router';
import { get, optional, useApi, type Mesh } from '../api';
import { ErrorBox, Loading, Status, Table, time } from '../components';
import { enc, loadMeshes, loadPolicyTypes } from '../data';

interface Counts {
  policies: number;
  dataplanes: number;
  zoneProxies: number;
}

const total = async (path: string) => (await get<{ total: number }>(path)).total;

function mtls(m: Mesh) {
  const name = m.mtls?.enabledBackend;
  if (!name) return <Status status="Off" />;
  const b = m.mtls?.backends?.find((x) => x.name === name);
  return (
    <>
      <Status status="On" /> {name} ({b?.type ?? 'unknown'}
      {b?.mode ? `, ${b.mode}` : ''})
    </>
  );
}

export function Meshes() {
  const { data, error, loading, reload } = useApi(async () => {
    const [meshes, types] = await Promise.all([loadMeshes(), loadPolicyTypes()]);
    const counts = await Promise.all(
      meshes.map(async (m): Promise<Counts> => {
        const base = `/meshes/${enc(m.name)}`;
        const perKind = await Promise.all(types.map(async (t) => (await optional(total(`${base}/${t.path}?size=1`))).value ?? 0));
        return {
          policies: perKind.reduce((a, b) => a + b, 0),
          dataplanes: await total(`${base}/dataplanes?size=1`),
          zoneProxies: await total(`${base}/dataplanes?size=1&${enc('filter[labels.kuma.io/proxy-type]')}=zoneproxy`),
        };
      }),
    );
    return { meshes, counts };
  }, []);
  if (error) return <ErrorBox error={error} what="meshes" onRetry={reload} />;
  if (loading && !data) return <Loading what="meshes" />;
  const { meshes, counts } = data!;
  return (
    <>
      <h1>Meshes</h1>
      <Table
        head={['Name', 'mTLS backend', 'Policies', 'Data plane proxies', 'Zone proxies', 'Created']}
        empty={<>No meshes yet. Create one with <code>skein apply -f mesh.yaml</code> (a <code>type: Mesh</code> resource).</>}
        rows={meshes.map((m, i) => [
          <strong data-testid="mesh-name">{m.name}</strong>,
          mtls(m),
          <Link to={`/policies?mesh=${enc(m.name)}`}>{counts[i]!.policies}</Link>,
          <Link to={`/dataplanes?mesh=${enc(m.name)}`}>{counts[i]!.dataplanes}</Link>,
          <Link to={`/zone-proxies?mesh=${enc(m.name)}`}>{counts[i]!.zoneProxies}</Link>,
          time(m.creationTime),
        ])}
      />
    </>
  );
}
