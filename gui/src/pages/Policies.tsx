import { Link, useSearchParams } from 'react-router';
import { useApi } from '../api';
import { ErrorBox, Loading, Table, Tags, Name } from '../components';
import { enc, loadMeshes, loadPolicies } from '../data';

export function Policies() {
  const [params, setParams] = useSearchParams();
  const mesh = params.get('mesh') ?? '';
  const kind = params.get('kind') ?? '';
  const { data, error, loading, reload } = useApi(async () => ({ meshes: await loadMeshes(), ...(await loadPolicies()) }), []);
  const set = (k: string, v: string) => {
    const next = new URLSearchParams(params);
    if (v) next.set(k, v);
    else next.delete(k);
    setParams(next, { replace: true });
  };
  if (error) return <ErrorBox error={error} what="policies" onRetry={reload} />;
  if (loading && !data) return <Loading what="policies" />;
  const rows = data!.policies.filter((p) => (!mesh || p.mesh === mesh) && (!kind || p.type === kind));
  return (
    <>
      <h1>Policies</h1>
      <div className="filters">
        <label>
          Mesh{' '}
          <select aria-label="mesh" value={mesh} onChange={(e) => set('mesh', e.target.value)}>
            <option value="">all</option>
            {data!.meshes.map((m) => (
              <option key={m.name}>{m.name}</option>
            ))}
          </select>
        </label>
        <label>
          Kind{' '}
          <select aria-label="kind" value={kind} onChange={(e) => set('kind', e.target.value)}>
            <option value="">all</option>
            {data!.types.map((t) => (
              <option key={t.name} value={t.name}>
                {t.name} ({data!.policies.filter((p) => p.type === t.name && (!mesh || p.mesh === mesh)).length})
              </option>
            ))}
          </select>
        </label>
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
