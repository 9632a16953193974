import { useState } from 'react';
import { Link, useParams } from 'react-router';
import { ApiError, connectionStatus, displayName, get, isZoneProxy, optional, useApi, ZONE_PROXY_ROLE_LABEL, type DataplaneOverview } from '../api';
import { ErrorBox, KeyValues, Loading, Status, Table, Tags, time, Unsupported, Name } from '../components';
import { enc, loadPolicies } from '../data';
import { selects } from '../matching';
import { proxyType } from './Dataplanes';

interface XdsDump {
  version?: string;
  resources?: Record<string, { name: string; version?: string }[]>;
}

/**
 * Names of policies found in a `_rules` answer: Skein's `rules: [{type, policies: [name]}]`, else
 * Kuma's shape (names under `origin` / `resourceMeta`).
 */
function originNames(rules: unknown): string[] {
  const skein = (rules as { rules?: { type?: string; policies?: string[] }[] } | undefined)?.rules;
  if (Array.isArray(skein)) return skein.flatMap((r) => (r.policies ?? []).map((p) => `${r.type} ${p}`)).sort();
  const names = new Set<string>();
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      const meta = (o['resourceMeta'] ?? (o['type'] && o['name'] && o['mesh'] ? o : undefined)) as { type?: string; name?: string } | undefined;
      if (meta?.name && meta.type) names.add(`${meta.type} ${meta.name}`);
      Object.values(o).forEach(walk);
    }
  };
  walk(rules);
  return [...names].sort();
}

async function xdsConfig(mesh: string, name: string): Promise<{ dump?: XdsDump; unavailable?: string; unsupported?: ApiError }> {
  try {
    return { dump: await get<XdsDump>(`/meshes/${enc(mesh)}/dataplanes/${enc(name)}/xds`) };
  } catch (err) {
    if (err instanceof ApiError && err.unsupported) return { unsupported: err };
    if (err instanceof ApiError && err.status === 404) return { unavailable: err.detail || 'the proxy is not connected to this control plane' };
    throw err;
  }
}

export function DataplaneDetail() {
  const { mesh = '', name = '' } = useParams();
  const [showXds, setShowXds] = useState(false);
  const { data, error, loading, reload } = useApi(async () => {
    const base = `/meshes/${enc(mesh)}/dataplanes/${enc(name)}`;
    const overview = await get<DataplaneOverview>(`${base}/_overview`);
    const [rules, xds] = await Promise.all([optional(get<unknown>(`${base}/_rules`)), xdsConfig(mesh, name)]);
    // Without `_rules`, evaluate the policies' top-level targetRefs here.
    const policies = rules.unsupported ? (await loadPolicies()).policies.filter((p) => p.mesh === mesh && selects(p, overview) === true) : [];
    return { overview, rules, xds, policies };
  }, [mesh, name]);
  if (error) return <ErrorBox error={error} what={`data plane proxy ${mesh}/${name}`} onRetry={reload} />;
  if (loading && !data) return <Loading what={`data plane proxy ${name}`} />;
  const { overview: d, rules, xds, policies } = data!;
  const subs = d.dataplaneInsight?.subscriptions ?? [];
  const last = subs.at(-1);
  const net = d.dataplane.networking;
  return (
    <>
      <p className="crumbs">
        <Link to="/dataplanes">Data plane proxies</Link> / {mesh} / {name}
      </p>
      <h1>
        {displayName(d)} <Status status={connectionStatus(subs)} />
      </h1>
      <KeyValues
        items={[
          ['Mesh', mesh],
          ['Type', proxyType(d)],
          ...(isZoneProxy(d.labels) ? ([['Zone proxy role', d.labels?.[ZONE_PROXY_ROLE_LABEL] ?? '—']] as [string, string][]) : []),
          ['Address', `${net.address}${net.advertisedAddress ? ` (advertised ${net.advertisedAddress})` : ''}`],
          ['Labels', <Tags tags={d.labels} />],
          ['Created', time(d.creationTime)],
        ]}
      />

      <h2>Inbounds</h2>
      <Table
        head={['Port', 'Service port', 'Service', 'Tags', 'State']}
        empty={isZoneProxy(d.labels) ? 'A zone proxy has listeners, not inbounds.' : 'This proxy serves nothing (no inbounds).'}
        rows={(net.inbound ?? []).map((i) => [i.port, i.servicePort ?? '—', i.tags['kuma.io/service'] ?? '—', <Tags tags={i.tags} />, i.state ?? (i.health?.ready === false ? 'NotReady' : 'Ready')])}
      />
      {net.listeners && net.listeners.length > 0 && (
        <>
          <h2>Listeners</h2>
          <Table head={['Type', 'Port', 'Name']} empty="" rows={net.listeners.map((l) => [l.type, l.port ?? 'default', l.name ?? '—'])} />
        </>
      )}

      <h2>Outbounds</h2>
      <Table
        head={['Port', 'Address', 'Destination']}
        empty="No outbounds declared (transparent proxying or nothing to call)."
        rows={(net.outbound ?? []).map((o) => [o.port, o.address ?? '127.0.0.1', o.backendRef ? `${o.backendRef.kind} ${o.backendRef.name}` : <Tags tags={o.tags} />])}
      />

      <h2>Insight</h2>
      {subs.length === 0 ? (
        <p className="empty">This proxy has never connected to the control plane.</p>
      ) : (
        <>
          <KeyValues
            items={[
              ['Status', <Status status={connectionStatus(subs)} />],
              ['Connected', time(last?.connectTime)],
              ['Disconnected', time(last?.disconnectTime)],
              ['Control plane instance', last?.controlPlaneInstanceId ?? '—'],
              ['Data plane version', last?.version?.kumaDp?.version ?? '—'],
              ['Configurations ACKed', last?.status?.total?.responsesAcknowledged ?? 0],
              ['Configurations rejected', last?.status?.total?.responsesRejected ?? 0],
              ['Last update', time(last?.status?.lastUpdateTime)],
            ]}
          />
          {last?.status?.lastNack && (
            <div className="error">
              Last rejected configuration ({last.status.lastNack.typeUrl}): {last.status.lastNack.reason}
            </div>
          )}
        </>
      )}

      <h2>Policies that apply</h2>
      {rules.value !== undefined ? (
        <Table head={['Policy']} empty="No policy applies to this proxy." rows={originNames(rules.value).map((n) => [n])} />
      ) : (
        <>
          <Unsupported feature="Policy rules inspection (_rules)" error={rules.unsupported} />
          <p className="muted">Policies whose top-level targetRef selects this proxy (evaluated in the browser):</p>
          <Table
            head={['Kind', 'Name', 'targetRef']}
            empty="No policy selects this proxy."
            rows={policies.map((p) => [
              p.type,
              <Link to={`/meshes/${enc(p.mesh)}/policies/${enc(p.kind.path)}/${enc(p.name)}`}>
                <Name r={p} />
              </Link>,
              <code>{JSON.stringify((p.spec ?? {})['targetRef'] ?? { kind: 'Mesh' })}</code>,
            ])}
          />
        </>
      )}

      <h2>xDS configuration</h2>
      {xds.unsupported && <Unsupported feature="xDS configuration inspection" error={xds.unsupported} />}
      {xds.unavailable && <p className="empty">No xDS configuration: {xds.unavailable}.</p>}
      {xds.dump && (
        <>
          <p className="muted">Version {xds.dump.version}</p>
          <Table
            head={['Type', 'Resources']}
            empty="The configuration is empty."
            rows={Object.entries(xds.dump.resources ?? {}).map(([type, list]) => [type, <span className="names">{list.map((r) => r.name).join(', ')}</span>])}
          />
          <button type="button" onClick={() => setShowXds((s) => !s)}>
            {showXds ? 'Hide' : 'Show'} the full configuration
          </button>
          {showXds && <pre className="code">{JSON.stringify(xds.dump, null, 2)}</pre>}
        </>
      )}
    </>
  );
}
