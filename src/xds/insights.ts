// DataplaneInsight: connection history and xDS ACK/NACK counts per proxy. Updated in memory on every
// event and written to the store in batches, so a busy xDS server does not become a busy database.
// ACKs only move counters and wait longer than connects, disconnects and NACKs: a config pushed to
// thousands of proxies brings thousands of ACKs, which should become one write per proxy, later.
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
    /** The CP could not generate the proxy's config (it keeps its last one); gone once it can again. */
    lastGenerationError?: { reason: string; time: string };
  };
  version?: { kumaDp?: { version: string } };
  ackedVersions: Record<string, string>;
}

interface InsightState {
  subscriptions: Subscription[];
  /** What we last stored (saves a read per write); unset until written or after a conflict. */
  stored?: { version: number; labels: Record<string, string> };
}

const MAX_SUBSCRIPTIONS = 5;
const FLUSH_INTERVAL_MS = 250;
const ACK_FLUSH_INTERVAL_MS = 2_000;
/** A long flush lets the event loop serve streams every this many writes. */
const WRITES_PER_TURN = 500;

export class DataplaneInsights {
  private readonly states = new Map<string, InsightState>();
  /** Connected, disconnected or NACKed: written within FLUSH_INTERVAL_MS. */
  private readonly dirty = new Set<string>();
  /** Only ACK counters moved: written within ACK_FLUSH_INTERVAL_MS. */
  private readonly acked = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private ackTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private counter = 0;

  constructor(
    private readonly store: ResourceStore,
    private readonly instanceId: string,
    private readonly logger: Logger,
    /** `ZoneIngressInsight` / `ZoneEgressInsight` for legacy zone proxies (global-scoped: mesh ''). */
    private readonly insightType = 'DataplaneInsight',
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
    const key = JSON.stringify([mesh, name]);
    if (this.dirty.has(key)) return; // written soon anyway
    this.acked.add(key);
    this.ackTimer ??= setTimeout(() => void this.writeBatch(this.acked), ACK_FLUSH_INTERVAL_MS);
  }

  nack(mesh: string, name: string, typeUrl: string, version: string, reason: string): void {
    const sub = this.current(mesh, name);
    if (!sub) return;
    sub.status.total.responsesRejected++;
    sub.status.lastNack = { typeUrl, version, reason, time: new Date().toISOString() };
    this.markDirty(mesh, name);
  }

  /** Generation of the proxy's config failed (e.g. a MeshProxyPatch the CP cannot apply). */
  generationFailed(mesh: string, name: string, reason: string): void {
    const sub = this.current(mesh, name);
    if (!sub || sub.status.lastGenerationError?.reason === reason) return;
    sub.status.lastGenerationError = { reason, time: new Date().toISOString() };
    this.markDirty(mesh, name);
  }

  /** The proxy's config was generated: a recorded failure is over. */
  generated(mesh: string, name: string): void {
    const sub = this.current(mesh, name);
    if (!sub?.status.lastGenerationError) return;
    delete sub.status.lastGenerationError;
    this.markDirty(mesh, name);
  }

  /** Writes every pending change now. */
  async flush(): Promise<void> {
    await Promise.all([this.writeBatch(this.dirty), this.writeBatch(this.acked)]);
  }

  /** Writes (after any write in progress) the insights of `keys`, this.dirty or this.acked, and empties it. */
  private writeBatch(keys: Set<string>): Promise<void> {
    if (keys === this.dirty) {
      clearTimeout(this.timer);
      this.timer = undefined;
    } else {
      clearTimeout(this.ackTimer);
      this.ackTimer = undefined;
    }
    const batch = [...keys];
    keys.clear();
    this.flushing = this.flushing.then(async () => {
      for (const [i, key] of batch.entries()) {
        if (i > 0 && i % WRITES_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve));
        const [mesh, name] = JSON.parse(key) as [string, string];
        await this.writeOne(mesh, name).catch((err: Error) => this.logger.warn({ err, mesh, name }, `could not store ${this.insightType}`));
      }
    });
    return this.flushing;
  }

  private async writeOne(mesh: string, name: string): Promise<void> {
    const state = this.states.get(JSON.stringify([mesh, name]));
    if (!state) return;
    const spec = { subscriptions: state.subscriptions };
    const key = { type: this.insightType, mesh, name };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        if (!state.stored) {
          const existing = await this.store.get(key);
          if (existing) state.stored = { version: existing.version, labels: existing.labels };
        }
        const written = state.stored
          ? await this.store.update({ ...key, labels: state.stored.labels, spec, version: state.stored.version })
          : await this.store.create({ ...key, labels: mesh ? { 'kuma.io/mesh': mesh } : {}, spec });
        state.stored = { version: written.version, labels: written.labels };
        return;
      } catch (err) {
        // Written or deleted by someone else meanwhile: read it again.
        state.stored = undefined;
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
    const key = JSON.stringify([mesh, name]);
    this.dirty.add(key);
    this.acked.delete(key); // the sooner write covers its ACKs
    this.timer ??= setTimeout(() => void this.writeBatch(this.dirty), FLUSH_INTERVAL_MS);
  }
}
