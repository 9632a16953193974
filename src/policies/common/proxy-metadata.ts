// What the generators know about a proxy besides its Dataplane: facts the DP agent reports in its
// xDS node metadata (read by src/xds/dataplane-sync.ts, part of every proxy's cache key).
export interface ProxyMetadata {
  /** The access log pipe the DP agent serves (Kuma's `accessLogSocketPath`); no pipe, no Tcp backend (MeshAccessLog). */
  accessLogSocketPath?: string;
  /** `dataplane.admin.socketPath`: its admin API's Unix socket (MeshMetric's Prometheus listener upstream). */
  adminSocketPath?: string;
  /** `dataplane.metrics.certPath` / `keyPath`: files for MeshMetric's `ProvidedTLS`. */
  metricsCertPath?: string;
  metricsKeyPath?: string;
}
