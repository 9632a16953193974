// Cluster type EDS: endpoints come from a ClusterLoadAssignment delivered over ADS.
import { reject } from '../config-error.js';
import { checkFields, obj, str } from '../proto-values.js';
import { clusterTypes } from '../registry.js';

clusterTypes.register('EDS', (cluster, path, ctx) => {
  if (cluster.load_assignment) reject(`${path}.load_assignment`, 'EDS clusters take endpoints from EDS only');
  const eds = obj(cluster.eds_cluster_config, `${path}.eds_cluster_config`);
  checkFields(eds, `${path}.eds_cluster_config`, ['eds_config', 'service_name']);
  const source = obj(eds.eds_config, `${path}.eds_cluster_config.eds_config`);
  checkFields(source, `${path}.eds_cluster_config.eds_config`, ['ads', 'resource_api_version', 'initial_fetch_timeout']);
  if (!source.ads) reject(`${path}.eds_cluster_config.eds_config`, 'only the ADS config source is supported');
  const serviceName = str(eds.service_name) || str(cluster.name);
  ctx.refs.endpoints.add(serviceName);
  // Not delivered yet: the cluster has no endpoints until it is (503 no healthy upstream).
  return ctx.endpoints.get(serviceName);
});
