// Endpoint selection for lb_policy ROUND_ROBIN, LEAST_REQUEST and RANDOM, honouring endpoint weights.
import type { EndpointPool } from './endpoint-pool.js';
import type { HostHealth } from './host-health.js';

export class UpstreamHost {
  /** Requests in flight, for LEAST_REQUEST and /clusters. */
  active = 0;
  /** Smooth weighted round-robin state. */
  current = 0;

  constructor(
    readonly address: string,
    readonly port: number,
    readonly weight: number,
    readonly healthStatus: string,
    readonly pool: EndpointPool,
  ) {}

  /** `address:port` (`[v6]:port`), or the socket path of a pipe endpoint: how Envoy prints hosts. */
  get label(): string {
    if (this.pool.options.socketPath) return this.pool.options.socketPath;
    return `${this.address.includes(':') ? `[${this.address}]` : this.address}:${this.port}`;
  }

  /** Active health check and outlier state; shared by every config that uses this endpoint's pool. */
  get health(): HostHealth {
    return this.pool.health;
  }

  /** EDS says it may serve. */
  get edsHealthy(): boolean {
    return !UNSERVING_STATUSES.has(this.healthStatus);
  }

  get healthy(): boolean {
    const health = this.pool.health;
    return this.edsHealthy && !health.failedActiveHc && !health.ejected;
  }

  /** Envoy's /clusters health_flags. */
  healthFlags(): string {
    const h = this.pool.health;
    let flags = '';
    if (h.failedActiveHc) flags += '/failed_active_hc';
    if (h.pendingActiveHc) flags += '/pending_active_hc';
    if (h.ejected) flags += '/failed_outlier_check';
    if (!this.edsHealthy) flags += '/failed_eds_health';
    return flags || 'healthy';
  }
}

/** EDS health statuses that take an endpoint out of load balancing. */
const UNSERVING_STATUSES = new Set(['UNHEALTHY', 'DRAINING', 'TIMEOUT']);

export interface LoadBalancer {
  pick(): UpstreamHost | undefined;
}

export const LB_POLICIES = ['ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM'] as const;
export type LbPolicy = (typeof LB_POLICIES)[number];

export function createLoadBalancer(policy: LbPolicy, hosts: UpstreamHost[]): LoadBalancer {
  if (hosts.length === 0) return { pick: () => undefined };
  if (hosts.length === 1) return { pick: () => hosts[0] };
  switch (policy) {
    case 'ROUND_ROBIN':
      return hosts.every((h) => h.weight === hosts[0].weight) ? new RoundRobin(hosts) : new SmoothWeightedRoundRobin(hosts);
    case 'LEAST_REQUEST':
      return new LeastRequest(hosts);
    case 'RANDOM':
      return new WeightedRandom(hosts);
  }
}

class RoundRobin implements LoadBalancer {
  private next = 0;
  constructor(private readonly hosts: UpstreamHost[]) {}
  pick(): UpstreamHost {
    const host = this.hosts[this.next];
    this.next = (this.next + 1) % this.hosts.length;
    return host;
  }
}

/** nginx-style smooth weighted round robin: interleaves hosts in proportion to their weights. */
class SmoothWeightedRoundRobin implements LoadBalancer {
  private readonly total: number;
  constructor(private readonly hosts: UpstreamHost[]) {
    this.total = hosts.reduce((sum, h) => sum + h.weight, 0);
  }
  pick(): UpstreamHost {
    let best = this.hosts[0];
    for (const h of this.hosts) {
      h.current += h.weight;
      if (h.current > best.current) best = h;
    }
    best.current -= this.total;
    return best;
  }
}

/** Power of two choices on (active requests + 1) / weight, like Envoy's default least request. */
class LeastRequest implements LoadBalancer {
  constructor(private readonly hosts: UpstreamHost[]) {}
  pick(): UpstreamHost {
    const n = this.hosts.length;
    const a = this.hosts[Math.floor(Math.random() * n)];
    const b = this.hosts[Math.floor(Math.random() * n)];
    return (a.active + 1) / a.weight <= (b.active + 1) / b.weight ? a : b;
  }
}

class WeightedRandom implements LoadBalancer {
  private readonly total: number;
  constructor(private readonly hosts: UpstreamHost[]) {
    this.total = hosts.reduce((sum, h) => sum + h.weight, 0);
  }
  pick(): UpstreamHost {
    let r = Math.random() * this.total;
    for (const h of this.hosts) {
      r -= h.weight;
      if (r < 0) return h;
    }
    return this.hosts[this.hosts.length - 1];
  }
}
