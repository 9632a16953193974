import { Link } from 'react-router';
import { useApi } from '../api';
import { ErrorBox, FilterSelect, Loading, MeshFilter, Table, Tags, Name, useQueryFilters } from '../components';
import { enc, loadMeshes, loadPolicies } from '../data';

export function Policies() {
  const filters = useQueryFilters();
  const mesh = filters.get('mesh');
  const kind = filters.get('kind');
  const { data, error, loading, reload } = useApi(async () => ({ meshes: await loadMeshes(), ...(await loadPolicies()) }), []);
  if (error) return <ErrorBox error={error} what="policies" onRetry={reload} />;
  if (loading && !data) return <Loading what="policies" />;
  const rows = data!.policies.filter((p) => (!mesh || p.mesh === mesh) && (!kind || p.type === kind));
  return (
    <>
      <h1>Policies</h1>
      <div className="filters">
        <MeshFilter meshes={data!.meshes} value={mesh} onChange={(v) => filters.set('mesh', v)} />
        <FilterSelect label="Kind" value={kind} onChange={(v) => filters.set('kind', v)}>
          {data!.types.map((t) => (
            <option key={t.name} value={t.name}>
              {t.name} ({data!.policies.filter((p) => p.type === t.name && (!mesh || p.mesh === mesh)).length})
            </option>
          ))}
        </FilterSelect>
      </div>
      <Table
        head={['Name', 'Kind', 'Mesh', 'Target', 'Labels']}
        empty={mesh || kind ? 'No policy matches these filters.' : 'No policies yet. Apply one with skein apply -f policy.yaml.'}
        rows={rows.map((p) => [
          <Link to={`/meshes/${enc(p.mesh)}/policies/${enc(p.kind.path)}/${enc(p.name)}`}>
            <Name r={p} />
          </Link>,
          p.type,
          p.mesh,
          <code>{JSON.stringify((p.spec ?? {})['targetRef'] ?? { kind: 'Mesh' })}</code>,
          <Tags tags={p.labels} />,
        ])}
      />
    </>
  );
}
