import { Link } from 'react-router';
import { connectionStatus, getAll, isZoneProxy, optional, useApi } from '../api';
import { useIndex } from '../App';
import { Card, ErrorBox, Loading, Table } from '../components';
import { enc, loadDataplanes, loadMeshes, LIVE_REFRESH_MS } from '../data';

interface ZoneOverview {
  name: string;
  zoneInsight?: { subscriptions?: { connectTime?: string; disconnectTime?: string }[] };
}

export function Overview() {
  const index = useIndex();
  const { data, error, loading, reload } = useApi(async () => {
    const meshes = await loadMeshes();
    const dataplanes = await loadDataplanes(meshes);
    const zones = index.mode === 'global' ? await optional(getAll<ZoneOverview>('/zones/_overview')) : undefined;
    return { meshes, dataplanes, zones };
  }, [index.mode], LIVE_REFRESH_MS);
  if (error) return <ErrorBox error={error} what="the overview" onRetry={reload} />;
  if (loading && !data) return <Loading what="the overview" />;
  const { meshes, dataplanes, zones } = data!;
  const online = dataplanes.filter((d) => connectionStatus(d.dataplaneInsight?.subscriptions) === 'Online');
  const zoneProxies = dataplanes.filter((d) => isZoneProxy(d.labels));
  const zonesOnline = zones?.value?.filter((z) => connectionStatus(z.zoneInsight?.subscriptions) === 'Online').length ?? 0;
  return (
    <>
      <h1>Overview</h1>
      <p className="muted">
        Control plane in <strong>{index.mode}</strong> mode{index.zone ? ` (zone ${index.zone})` : ''}, {index.product} {index.version}.
      </p>
      <div className="cards">
        <Card title="Meshes" value={meshes.length} detail={<Link to="/meshes">all meshes</Link>} />
        <Card
          title="Data plane proxies"
          value={`${online.length} / ${dataplanes.length}`}
          detail={
            <>
              <span data-testid="dp-online">{online.length} online</span>, <span data-testid="dp-offline">{dataplanes.length - online.length} offline</span>
            </>
          }
        />
        <Card title="Zone proxies" value={zoneProxies.length} detail={<Link to="/zone-proxies">by mesh and role</Link>} />
        <Card
          title="Zones"
          value={zones?.value ? `${zonesOnline} / ${zones.value.length}` : '—'}
          detail={index.mode === 'global' ? (zones?.unsupported ? 'not available in this control plane version' : `${zonesOnline} online`) : `zones are managed by a global control plane (this one is ${index.mode})`}
        />
      </div>
      <h2>Meshes</h2>
      <Table
        head={['Mesh', 'Data plane proxies online', 'Offline', 'Zone proxies']}
        empty={<>No meshes yet. Create one with <code>skein apply -f mesh.yaml</code> (a <code>type: Mesh</code> resource).</>}
        rows={meshes.map((m) => {
          const dps = dataplanes.filter((d) => d.mesh === m.name);
          const on = dps.filter((d) => connectionStatus(d.dataplaneInsight?.subscriptions) === 'Online').length;
          return [
            <Link to={`/dataplanes?mesh=${enc(m.name)}`}>{m.name}</Link>,
            on,
            dps.length - on,
            dps.filter((d) => isZoneProxy(d.labels)).length,
          ];
        })}
      />
    </>
  );
}
