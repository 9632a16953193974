import { Link } from 'react-router';
import { connectionStatus, isZoneProxy, useApi, ZONE_LABEL, ZONE_PROXY_ROLE_LABEL, type DataplaneOverview } from '../api';
import { ErrorBox, FilterSelect, Loading, MeshFilter, Status, Table, Tags, Name, useQueryFilters } from '../components';
import { enc, loadDataplanes, loadMeshes, LIVE_REFRESH_MS } from '../data';

export function proxyType(d: DataplaneOverview): string {
  return isZoneProxy(d.labels) ? `zone proxy (${d.labels?.[ZONE_PROXY_ROLE_LABEL] ?? '?'})` : 'sidecar';
}

function services(d: DataplaneOverview): string {
  const names = new Set((d.dataplane.networking.inbound ?? []).map((i) => i.tags['kuma.io/service']).filter(Boolean));
  return [...names].join(', ') || '—';
}

export function Dataplanes() {
  const filters = useQueryFilters();
  const mesh = filters.get('mesh');
  const status = filters.get('status');
  const type = filters.get('type');
  const q = filters.get('q');
  const { data, error, loading, reload } = useApi(async () => {
    const meshes = await loadMeshes();
    return { meshes, dataplanes: await loadDataplanes(meshes) };
  }, [], LIVE_REFRESH_MS);
  if (error) return <ErrorBox error={error} what="data plane proxies" onRetry={reload} />;
  if (loading && !data) return <Loading what="data plane proxies" />;
  const rows = data!.dataplanes.filter(
    (d) =>
      (!mesh || d.mesh === mesh) &&
      (!status || connectionStatus(d.dataplaneInsight?.subscriptions) === status) &&
      (!type || (type === 'zoneproxy') === isZoneProxy(d.labels)) &&
      (!q || d.name.includes(q) || services(d).includes(q)),
  );
  const filtered = mesh || status || type || q;
  return (
    <>
      <h1>Data plane proxies</h1>
      <div className="filters">
        <MeshFilter meshes={data!.meshes} value={mesh} onChange={(v) => filters.set('mesh', v)} />
        <FilterSelect label="Status" value={status} onChange={(v) => filters.set('status', v)}>
          <option>Online</option>
          <option>Offline</option>
        </FilterSelect>
        <FilterSelect label="Type" value={type} onChange={(v) => filters.set('type', v)}>
          <option value="sidecar">sidecar</option>
          <option value="zoneproxy">zone proxy</option>
        </FilterSelect>
        <label>
          Name or service <input aria-label="name" value={q} onChange={(e) => filters.set('q', e.target.value)} placeholder="filter…" />
        </label>
        <button type="button" onClick={reload}>
          Refresh
        </button>
      </div>
      <Table
        head={['Name', 'Mesh', 'Type', 'Services', 'Zone', 'Address', 'Status', 'Tags']}
        empty={
          filtered ? (
            <>No data plane proxy matches these filters.</>
          ) : (
            <>
              No data plane proxies yet. Start one with <code>skein dp run --dataplane-file dp.yaml …</code>.
            </>
          )
        }
        rows={rows.map((d) => [
          <Link to={`/meshes/${enc(d.mesh)}/dataplanes/${enc(d.name)}`}>
            <Name r={d} />
          </Link>,
          d.mesh,
          proxyType(d),
          services(d),
          d.labels?.[ZONE_LABEL] ?? '—',
          d.dataplane.networking.address,
          <Status status={connectionStatus(d.dataplaneInsight?.subscriptions)} />,
          <Tags tags={d.dataplane.networking.inbound?.[0]?.tags} />,
        ])}
      />
    </>
  );
}
