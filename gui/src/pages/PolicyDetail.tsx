import { Link, useParams } from 'react-router';
import YAML from 'yaml';
import { connectionStatus, displayName, get, optional, useApi, type PolicyResource } from '../api';
import { ErrorBox, KeyValues, Loading, Status, Table, Tags, time, Unsupported, Name } from '../components';
import { enc, loadDataplanes } from '../data';
import { selects } from '../matching';

interface ResourcesAnswer {
  items?: { name: string; mesh?: string; type?: string }[];
}

export function PolicyDetail() {
  const { mesh = '', path = '', name = '' } = useParams();
  const { data, error, loading, reload } = useApi(async () => {
    const base = `/meshes/${enc(mesh)}/${enc(path)}/${enc(name)}`;
    const policy = await get<PolicyResource>(base);
    const hits = await optional(get<ResourcesAnswer>(`${base}/_resources/dataplanes`));
    const computed = hits.unsupported
      ? (await loadDataplanes([{ name: mesh }])).map((dp) => ({ dp, hit: selects(policy, dp) })).filter((x) => x.hit !== false)
      : [];
    return { policy, hits, computed };
  }, [mesh, path, name]);
  if (error) return <ErrorBox error={error} what={`policy ${mesh}/${name}`} onRetry={reload} />;
  if (loading && !data) return <Loading what={`policy ${name}`} />;
  const { policy, hits, computed } = data!;
  const { type, mesh: _m, name: _n, creationTime, modificationTime, ...rest } = policy as PolicyResource & Record<string, unknown>;
  const yaml = YAML.stringify({ type, mesh, name, creationTime, modificationTime, ...rest });
  return (
    <>
      <p className="crumbs">
        <Link to="/policies">Policies</Link> / {mesh} / {type}
      </p>
      <h1>
        {displayName(policy)} <span className="muted">{type}</span>
      </h1>
      <KeyValues
        items={[
          ['Mesh', mesh],
          ['Kind', type],
          ['Labels', <Tags tags={policy.labels} />],
          ['Created', time(creationTime)],
          ['Modified', time(modificationTime)],
        ]}
      />
      <h2>Proxies it applies to</h2>
      {hits.value ? (
        <Table
          head={['Data plane proxy']}
          empty="This policy selects no proxy."
          rows={(hits.value.items ?? []).map((i) => [<Link to={`/meshes/${enc(i.mesh ?? mesh)}/dataplanes/${enc(i.name)}`}>{i.name}</Link>])}
        />
      ) : (
        <>
          <Unsupported feature="Policy target inspection (_resources)" error={hits.unsupported} />
          <p className="muted">Proxies selected by the top-level targetRef (evaluated in the browser):</p>
          <Table
            head={['Data plane proxy', 'Status', 'Selected']}
            empty="This policy selects no proxy in the mesh."
            rows={computed.map(({ dp, hit }) => [
              <Link to={`/meshes/${enc(dp.mesh)}/dataplanes/${enc(dp.name)}`}>
                <Name r={dp} />
              </Link>,
              <Status status={connectionStatus(dp.dataplaneInsight?.subscriptions)} />,
              hit ? 'yes' : 'cannot tell here (targetRef kind evaluated only by the control plane)',
            ])}
          />
        </>
      )}
      <h2>YAML</h2>
      <pre className="code" data-testid="policy-yaml">
        {yaml}
      </pre>
    </>
  );
}
