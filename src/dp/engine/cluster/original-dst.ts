// Cluster type ORIGINAL_DST (lb_policy CLUSTER_PROVIDED): no configured endpoints; each connection
// goes to its own original destination, as restored by a use_original_dst listener (Kuma's
// `outbound:passthrough:ipv4`). Hosts are made on first use and forgotten once idle for
// cleanup_interval (Envoy's default 5 s). Only tcp_proxy uses it: HTTP routes to such a cluster find
// no host (503).
import { reject } from '../config-error.js';
import { str } from '../proto-values.js';
import { clusterTypes } from '../registry.js';
import { originalDstUnavailable, type OriginalDestination } from '../listener/original-dst.js';
import { EndpointPool, type PoolOptions } from './endpoint-pool.js';
import { UpstreamHost } from './load-balancer.js';

export const DEFAULT_CLEANUP_INTERVAL_MS = 5000;

clusterTypes.register('ORIGINAL_DST', (cluster, path) => {
  if (cluster.load_assignment) reject(`${path}.load_assignment`, 'ORIGINAL_DST clusters take their host from each connection');
  if (cluster.eds_cluster_config) reject(`${path}.eds_cluster_config`, 'only valid for EDS clusters');
  const lbPolicy = str(cluster.lb_policy) || 'ROUND_ROBIN';
  if (lbPolicy !== 'CLUSTER_PROVIDED') reject(`${path}.lb_policy`, `${lbPolicy} is not valid for ORIGINAL_DST clusters (use CLUSTER_PROVIDED)`);
  const unavailable = originalDstUnavailable();
  if (unavailable) reject(`${path}.type`, `ORIGINAL_DST: ${unavailable}`);
  return {};
});

/** The hosts of one compiled ORIGINAL_DST cluster, by original destination. */
export class OriginalDstHosts {
  private readonly byAddress = new Map<string, { host: UpstreamHost; lastUsed: number }>();
  private lastSweep = Date.now();

  constructor(
    /** The cluster's host list (shown by /clusters): hosts are added and removed in place. */
    private readonly hosts: UpstreamHost[],
    private readonly cleanupIntervalMs: number,
    private readonly poolOptions: Omit<PoolOptions, 'host' | 'port'>,
  ) {}

  /** The host for a connection's original destination; undefined when it has none. */
  hostFor(destination: OriginalDestination | undefined): UpstreamHost | undefined {
    if (!destination) return undefined;
    const now = Date.now();
    if (now - this.lastSweep >= this.cleanupIntervalMs) this.sweep(now);
    const key = `${destination.address}|${destination.port}`;
    let entry = this.byAddress.get(key);
    if (!entry) {
      const pool = new EndpointPool({ ...this.poolOptions, host: destination.address, port: destination.port });
      entry = { host: new UpstreamHost(destination.address, destination.port, 1, 'HEALTHY', pool), lastUsed: now };
      this.byAddress.set(key, entry);
      this.hosts.push(entry.host);
    }
    entry.lastUsed = now;
    return entry.host;
  }

  /** Forgets hosts without connections that were not used for a cleanup interval. */
  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [key, entry] of this.byAddress) {
      if (entry.host.active > 0 || now - entry.lastUsed < this.cleanupIntervalMs) continue;
      this.byAddress.delete(key);
      const i = this.hosts.indexOf(entry.host);
      if (i >= 0) this.hosts.splice(i, 1);
      entry.host.pool.retire();
    }
  }
}
