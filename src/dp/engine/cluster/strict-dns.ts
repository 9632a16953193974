// Cluster type STRICT_DNS: endpoints come inline in load_assignment and may be host names (an OTLP
// collector, say). The engine resolves a name each time it connects (Node's resolver), rather than
// re-resolving on a timer and keeping one host per address as Envoy does; endpoints given as IPs
// behave exactly as in a STATIC cluster.
import { reject } from '../config-error.js';
import { clusterTypes } from '../registry.js';

clusterTypes.register('STRICT_DNS', (cluster, path) => {
  if (cluster.eds_cluster_config) reject(`${path}.eds_cluster_config`, 'only valid for EDS clusters');
  return (cluster.load_assignment as Record<string, unknown> | undefined) ?? {};
});
