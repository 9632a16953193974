import { Link, useSearchParams } from 'react-router';
import { connectionStatus, isZoneProxy, useApi, ZONE_LABEL, ZONE_PROXY_ROLE_LABEL } from '../api';
import { Empty, ErrorBox, Loading, Status, Table, Name } from '../components';
import { enc, loadDataplanes, loadMeshes, LIVE_REFRESH_MS } from '../data';

const ROLES = ['ingress', 'egress', 'all'];

export function ZoneProxies() {
  const [params] = useSearchParams();
  const only = params.get('mesh');
  const { data, error, loading, reload } = useApi(async () => {
    const meshes = await loadMeshes();
    return { meshes, proxies: (await loadDataplanes(meshes)).filter((d) => isZoneProxy(d.labels)) };
  }, [], LIVE_REFRESH_MS);
  if (error) return <ErrorBox error={error} what="zone proxies" onRetry={reload} />;
  if (loading && !data) return <Loading what="zone proxies" />;
  const meshes = data!.meshes.filter((m) => !only || m.name === only);
  return (
    <>
      <h1>Zone proxies</h1>
      <p className="muted">
        Zone proxies are Dataplanes labelled <code>kuma.io/proxy-type: zoneproxy</code>; their <code>kuma.io/zone-proxy-role</code> (ingress, egress or all) decides
        their listeners.
      </p>
      {meshes.length === 0 && <Empty>No meshes yet, so no zone proxies.</Empty>}
      {meshes.map((m) => {
        const proxies = data!.proxies.filter((p) => p.mesh === m.name);
        return (
          <section key={m.name}>
            <h2>Mesh {m.name}</h2>
            {proxies.length === 0 ? (
              <Empty>
                No zone proxies in mesh {m.name}. Run <code>skein dp run</code> with a Dataplane labelled <code>kuma.io/proxy-type: zoneproxy</code>.
              </Empty>
            ) : (
              ROLES.map((role) => {
                const ofRole = proxies.filter((p) => p.labels?.[ZONE_PROXY_ROLE_LABEL] === role);
                if (ofRole.length === 0) return null;
                return (
                  <div key={role}>
                    <h3>Role {role}</h3>
                    <Table
                      head={['Name', 'Zone', 'Address', 'Advertised', 'Status']}
                      empty=""
                      rows={ofRole.map((p) => [
                        <Link to={`/meshes/${enc(p.mesh)}/dataplanes/${enc(p.name)}`}>
                          <Name r={p} />
                        </Link>,
                        p.labels?.[ZONE_LABEL] ?? '—',
                        p.dataplane.networking.address,
                        p.dataplane.networking.advertisedAddress ?? '—',
                        <Status status={connectionStatus(p.dataplaneInsight?.subscriptions)} />,
                      ])}
                    />
                  </div>
                );
              })
            )}
          </section>
        );
      })}
    </>
  );
}
