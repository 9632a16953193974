// Simulated data planes for the xDS scale benchmark, run in their own process (forked by
// xds-bench.js, driven over IPC). Each simulated proxy is one Delta ADS stream that behaves like the
// Skein/Envoy client: wildcard Clusters and Listeners, ClusterLoadAssignments for the clusters it was
// sent, an ACK for every response. Nothing is decoded beyond the gRPC envelope: a proxy's cost here
// is small next to the control plane's, so thousands fit in one process.
//
// Messages from the parent:
//   { type: 'open', target, count, streamsPerChannel, carryDataplane, dataplanes: [{ name, resource }] }
//   { type: 'mark' }      start watching for the next update of `watchCluster` on every stream
//   { type: 'status' }    → { type: 'status', ... counts }
//   { type: 'collect' }   → per-stream times since the last 'open' / 'mark'
//   { type: 'close' }
import * as grpc from '@grpc/grpc-js';
import { adsPackageDefinition, TypeUrl } from '../dist/envoy/protos.js';

const Service = grpc.loadPackageDefinition(adsPackageDefinition()).envoy.service.discovery.v3.AggregatedDiscoveryService;

const channels = [];
const streams = [];
let watchCluster = '';
let marked = false;

function stringStruct(json) {
  const fields = {};
  for (const [key, value] of Object.entries(json)) fields[key] = { stringValue: value };
  return { fields };
}

class SimStream {
  constructor(client, dp, carryDataplane) {
    this.name = dp.name;
    this.openedAt = Date.now();
    this.listenersAt = 0;
    this.clustersAt = 0;
    this.endpointsAt = 0;
    this.updatedAt = 0;
    this.responses = 0;
    this.error = '';
    this.edsNames = new Set();
    this.edsRequested = false;
    const call = client.DeltaAggregatedResources();
    this.call = call;
    call.on('data', (response) => this.onResponse(response));
    call.on('error', (err) => (this.error = err.message));
    call.on('end', () => (this.error ||= 'stream ended by the control plane'));
    const metadata = { 'dataplane.mesh': 'default' };
    if (carryDataplane) metadata['dataplane.resource'] = dp.resource;
    const node = { id: `default.${dp.name}`, cluster: 'bench', metadata: stringStruct(metadata), user_agent_name: 'skein-xds-sim' };
    call.write({ node, type_url: TypeUrl.Cluster, resource_names_subscribe: [] });
    call.write({ type_url: TypeUrl.Listener, resource_names_subscribe: [] });
  }

  get fullAt() {
    if (!this.listenersAt || !this.clustersAt || (this.edsNames.size > 0 && !this.endpointsAt)) return 0;
    return Math.max(this.listenersAt, this.clustersAt, this.endpointsAt);
  }

  onResponse(response) {
    const now = Date.now();
    this.responses++;
    this.call.write({ type_url: response.type_url, response_nonce: response.nonce });
    switch (response.type_url) {
      case TypeUrl.Listener:
        this.listenersAt ||= now;
        break;
      case TypeUrl.Cluster: {
        this.clustersAt ||= now;
        // Like Envoy: every cluster may be an EDS one; the server only answers for names it has.
        const added = response.resources.map((r) => r.name).filter((n) => !this.edsNames.has(n));
        for (const n of added) this.edsNames.add(n);
        if (added.length > 0) {
          this.call.write({ type_url: TypeUrl.ClusterLoadAssignment, resource_names_subscribe: added });
          this.edsRequested = true;
        }
        break;
      }
      case TypeUrl.ClusterLoadAssignment:
        if (this.edsRequested) this.endpointsAt ||= now;
        if (marked && !this.updatedAt && response.resources.some((r) => r.name === watchCluster)) this.updatedAt = now;
        break;
      default:
        break;
    }
  }
}

function open({ target, count, streamsPerChannel, carryDataplane, dataplanes, cluster }) {
  watchCluster = cluster;
  for (let i = 0; i < count; i++) {
    if (i % streamsPerChannel === 0) {
      // Distinct options and a local subchannel pool: one HTTP/2 connection per channel.
      channels.push(new Service(target, grpc.credentials.createInsecure(), {
        'grpc.dummy': channels.length,
        'grpc.use_local_subchannel_pool': 1,
        'grpc.max_receive_message_length': -1,
        'grpc.keepalive_time_ms': 60_000,
      }));
    }
    streams.push(new SimStream(channels.at(-1), dataplanes[i], carryDataplane));
  }
}

function status() {
  let full = 0;
  let lc = 0;
  let updated = 0;
  let errors = 0;
  let firstError = '';
  for (const s of streams) {
    if (s.fullAt) full++;
    if (s.listenersAt && s.clustersAt) lc++;
    if (s.updatedAt) updated++;
    if (s.error) {
      errors++;
      firstError ||= `${s.name}: ${s.error}`;
    }
  }
  return { type: 'status', streams: streams.length, full, lc, updated, errors, firstError };
}

process.on('message', (msg) => {
  switch (msg.type) {
    case 'open':
      open(msg);
      process.send({ type: 'opened', at: Date.now() });
      break;
    case 'mark':
      marked = true;
      for (const s of streams) s.updatedAt = 0;
      process.send({ type: 'marked' });
      break;
    case 'status':
      process.send(status());
      break;
    case 'collect':
      process.send({
        type: 'collected',
        openedAt: streams.map((s) => s.openedAt),
        lcAt: streams.map((s) => (s.listenersAt && s.clustersAt ? Math.max(s.listenersAt, s.clustersAt) : 0)),
        fullAt: streams.map((s) => s.fullAt),
        updatedAt: streams.map((s) => s.updatedAt),
        responses: streams.reduce((sum, s) => sum + s.responses, 0),
      });
      break;
    case 'close':
      for (const s of streams) s.call.cancel();
      for (const c of channels) c.close();
      process.exit(0);
      break;
    default:
      break;
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ type: 'ready' });
