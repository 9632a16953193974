// Cluster types STATIC and STRICT_DNS: endpoints come inline in load_assignment. A STRICT_DNS
// endpoint is a host name, resolved by the system resolver each time a connection is opened
// (Envoy resolves it periodically; the effect for new connections is the same).
import { reject } from '../config-error.js';
import { clusterTypes } from '../registry.js';

for (const type of ['STATIC', 'STRICT_DNS']) {
  clusterTypes.register(type, (cluster, path) => {
    if (cluster.eds_cluster_config) reject(`${path}.eds_cluster_config`, 'only valid for EDS clusters');
    return (cluster.load_assignment as Record<string, unknown> | undefined) ?? {};
  });
}
