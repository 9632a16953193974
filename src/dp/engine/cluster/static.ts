// Cluster type STATIC: endpoints come inline in load_assignment.
import { reject } from '../config-error.js';
import { clusterTypes } from '../registry.js';

clusterTypes.register('STATIC', (cluster, path) => {
  if (cluster.eds_cluster_config) reject(`${path}.eds_cluster_config`, 'only valid for EDS clusters');
  return (cluster.load_assignment as Record<string, unknown> | undefined) ?? {};
});
