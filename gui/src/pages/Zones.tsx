import { connectionStatus, getAll, optional, useApi } from '../api';
import { LIVE_REFRESH_MS } from '../data';
import { useIndex } from '../App';
import { Empty, ErrorBox, Loading, Status, Table, time, Unsupported } from '../components';

interface ZoneSubscription {
  connectTime?: string;
  disconnectTime?: string;
  globalInstanceId?: string;
  status?: { lastUpdateTime?: string; total?: { responsesSent?: number; responsesAcknowledged?: number; responsesRejected?: number } };
  zoneToGlobal?: { messagesReceived?: number; lastUpdateTime?: string };
}
interface ZoneOverview {
  name: string;
  zone?: { enabled?: boolean };
  zoneInsight?: { subscriptions?: ZoneSubscription[] };
}

export function Zones() {
  const index = useIndex();
  const { data, error, loading, reload } = useApi(async () => (index.mode === 'global' ? optional(getAll<ZoneOverview>('/zones/_overview')) : undefined), [index.mode], LIVE_REFRESH_MS);
  if (index.mode !== 'global') {
    return (
      <>
        <h1>Zones</h1>
        <Empty>
          This control plane runs in {index.mode} mode{index.zone ? ` (zone ${index.zone})` : ''}. Zones and their sync state are listed by the global control plane.
        </Empty>
      </>
    );
  }
  if (error) return <ErrorBox error={error} what="zones" onRetry={reload} />;
  if (loading && !data) return <Loading what="zones" />;
  if (data!.unsupported) return <Unsupported feature="Zone overview" error={data!.unsupported} />;
  const zones = data!.value ?? [];
  return (
    <>
      <h1>Zones</h1>
      <Table
        head={['Zone', 'Enabled', 'Sync state', 'Connected', 'Last sync to zone', 'Sent / ACKed / rejected', 'Messages from zone']}
        empty="No zone has connected yet. Start a zone control plane with --mode zone --global-address grpcs://<this host>:5685."
        rows={zones.map((z) => {
          const last = z.zoneInsight?.subscriptions?.at(-1);
          const t = last?.status?.total;
          return [
            <strong data-testid="zone-name">{z.name}</strong>,
            z.zone?.enabled === false ? 'no' : 'yes',
            <Status status={connectionStatus(z.zoneInsight?.subscriptions)} />,
            time(last?.connectTime),
            time(last?.status?.lastUpdateTime),
            `${t?.responsesSent ?? 0} / ${t?.responsesAcknowledged ?? 0} / ${t?.responsesRejected ?? 0}`,
            last?.zoneToGlobal?.messagesReceived ?? 0,
          ];
        })}
      />
    </>
  );
}
