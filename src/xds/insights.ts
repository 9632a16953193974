// DataplaneInsight: connection history and xDS ACK/NACK counts per proxy. Updated in memory on every
// event and written to the store in batches, so a busy xDS server does not become a busy database.
import type { Logger } from '../observability/logger.js';
import type { ResourceStore } from '../store/store.js';
import type { XdsNode } from './server/node.js';

interface Subscription {
  id: string;
  controlPlaneInstanceId: string;
  connectTime: string;
  disconnectTime?: string;
  status: {
    lastUpdateTime?: string;
    total: { responsesAcknowledged: number; responsesRejected: number };
    lastNack?: { typeUrl: string; version: string; reason: string; time: string };
  };
  version?: { kumaDp?: { version: string } };
  ackedVersions: Record<string, string>;
}

interface InsightState {
  subscriptions: Subscription[];
}

const MAX_SUBSCRIPTIONS = 5;
const FLUSH_INTERVAL_MS = 250;

export class DataplaneInsights {
  private readonly states = new Map<string, InsightState>();
  private readonly dirty = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private counter = 0;

  constructor(
    private readonly store: ResourceStore,
    private readonly instanceId: string,
    private readonly logger: Logger,
  ) {}

  connected(mesh: string, name: string, node: XdsNode): void {
    const state = this.state(mesh, name);
    state.subscriptions.push({
      id: `${this.instanceId}-${++this.counter}`,
      controlPlaneInstanceId: this.instanceId,
      connectTime: new Date().toISOString(),
      status: { total: { responsesAcknowledged: 0, responsesRejected: 0 } },
      version: node.userAgentVersion ? { kumaDp: { version: node.userAgentVersion } } : undefined,
      ackedVersions: {},
    });
    if (state.subscriptions.length > MAX_SUBSCRIPTIONS) state.subscriptions.shift();
    this.markDirty(mesh, name);
  }

  disconnected(mesh: string, name: string): void {
    const sub = this.current(mesh, name);
    if (sub && !sub.disconnectTime) sub.disconnectTime = new Date().toISOString();
    this.markDirty(mesh, name);
  }

  ack(mesh: string, name: string, typeUrl: string, version: string): void {
    const sub = this.current(mesh, name);
    if (!sub) return;
    sub.status.total.responsesAcknowledged++;
    sub.status.lastUpdateTime = new Date().toISOString();
    sub.ackedVersions[typeUrl.split('.').pop()!] = version;
    this.markDirty(mesh, name);
  }

  nack(mesh: string, name: string, typeUrl: string, version: string, reason: string): void {
    const sub = this.current(mesh, name);
    if (!sub) return;
    sub.status.total.responsesRejected++;
    sub.status.lastNack = { typeUrl, version, reason, time: new Date().toISOString() };
    this.markDirty(mesh, name);
  }

  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const keys = [...this.dirty];
    this.dirty.clear();
    this.flushing = this.flushing.then(async () => {
      for (const key of keys) {
        const [mesh, name] = JSON.parse(key) as [string, string];
        await this.write(mesh, name).catch((err: Error) => this.logger.warn({ err, mesh, name }, 'could not store DataplaneInsight'));
      }
    });
    await this.flushing;
  }

  private async write(mesh: string, name: string): Promise<void> {
    const state = this.states.get(JSON.stringify([mesh, name]));
    if (!state) return;
    const spec = { subscriptions: state.subscriptions };
    const key = { type: 'DataplaneInsight', mesh, name };
    for (let attempt = 0; attempt < 3; attempt++) {
      const existing = await this.store.get(key);
      try {
        if (existing) await this.store.update({ ...key, labels: existing.labels, spec, version: existing.version });
        else await this.store.create({ ...key, labels: { 'kuma.io/mesh': mesh }, spec });
        return;
      } catch (err) {
        if (attempt === 2) throw err;
      }
    }
  }

  private state(mesh: string, name: string): InsightState {
    const key = JSON.stringify([mesh, name]);
    let s = this.states.get(key);
    if (!s) this.states.set(key, (s = { subscriptions: [] }));
    return s;
  }

  private current(mesh: string, name: string): Subscription | undefined {
    return this.states.get(JSON.stringify([mesh, name]))?.subscriptions.at(-1);
  }

  private markDirty(mesh: string, name: string): void {
    this.dirty.add(JSON.stringify([mesh, name]));
    this.timer ??= setTimeout(() => void this.flush(), FLUSH_INTERVAL_MS);
  }
}
