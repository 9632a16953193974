// The receiving side of a sync stream: maps incoming resources to local names and labels, writes
// what changed, and on a full message removes synced resources the peer no longer has.
import type { Labels, Resource } from '../api/resource.js';
import { AlreadyExistsError, ConflictError, NotFoundError, type ResourceStore } from '../store/store.js';
import type { Logger } from '../observability/logger.js';
import { contentVersion } from './diff.js';
import { toWire, wireKey, type WireKey, type WireResource } from './naming.js';
import type { SyncMessage } from './protocol.js';

export interface ReceiverOptions {
  store: ResourceStore;
  /** Types accepted from the peer; others are ignored. */
  types: string[];
  /** Labels every resource synced from this peer carries (the sync scope). */
  scope: Labels;
  /**
   * Whether a stored resource is one this receiver manages (default: it carries every `scope` label).
   * When set, it replaces the label check for conflicts, removals and the full-resync sweep.
   */
  owns?(r: Pick<Resource, 'labels'>): boolean;
  mapResource(w: WireResource): WireResource;
  mapKey(k: WireKey): WireKey;
  logger: Logger;
  /**
   * Stored resources the full-resync sweep removes only after `graceMs`, and only if the peer has
   * not sent them again meanwhile. For what the peer itself relays from elsewhere (a zone's copy of
   * other zones' Dataplanes): a peer that just restarted on an empty store sends them again once the
   * other zones have reconnected to it, and dropping them meanwhile would cut cross-zone traffic.
   */
  deferredRemoval?: { applies(r: Resource): boolean; graceMs: number };
}

export interface ApplyResult {
  upserted: number;
  removed: number;
  skipped: number;
}

export class SyncReceiver {
  private readonly types: Set<string>;
  /** Keys the peer sent since its last full message (deferred removals keep these). */
  private seenSinceFull = new Set<string>();
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: ReceiverOptions) {
    this.types = new Set(opts.types);
  }

  private inScope(r: Pick<Resource, 'labels'>): boolean {
    if (this.opts.owns) return this.opts.owns(r);
    return Object.entries(this.opts.scope).every(([k, v]) => r.labels[k] === v);
  }

  async apply(msg: SyncMessage): Promise<ApplyResult> {
    const result: ApplyResult = { upserted: 0, removed: 0, skipped: 0 };
    const incoming = (msg.upserts ?? []).filter((w) => this.types.has(w.type)).map((w) => this.opts.mapResource(w));
    // Meshes first: everything else lives in one.
    incoming.sort((a, b) => Number(b.type === 'Mesh') - Number(a.type === 'Mesh'));
    if (msg.full) {
      this.seenSinceFull = new Set();
      clearTimeout(this.sweepTimer);
      this.sweepTimer = undefined;
    }
    for (const w of incoming) {
      this.seenSinceFull.add(wireKey(w));
      if (await this.upsert(w)) result.upserted++;
    }
    const removals = (msg.removals ?? []).filter((k) => this.types.has(k.type)).map((k) => this.opts.mapKey(k));
    if (msg.full) {
      const keep = new Set(incoming.map(wireKey));
      const deferred: WireKey[] = [];
      for (const type of this.opts.types) {
        const stored = this.opts.owns ? (await this.opts.store.list(type)).filter((r) => this.inScope(r)) : await this.opts.store.list(type, { labels: this.opts.scope });
        for (const r of stored) {
          if (keep.has(wireKey(r))) continue;
          const key = { type: r.type, mesh: r.mesh, name: r.name };
          if (this.opts.deferredRemoval?.applies(r)) deferred.push(key);
          else removals.push(key);
        }
      }
      if (deferred.length) this.sweepLater(deferred);
    }
    // Meshes last.
    removals.sort((a, b) => Number(a.type === 'Mesh') - Number(b.type === 'Mesh'));
    for (const k of removals) {
      if (await this.remove(k)) result.removed++;
      else result.skipped++;
    }
    return result;
  }

  /** Stops a pending deferred sweep (the stream is gone for good). */
  close(): void {
    clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  private sweepLater(keys: WireKey[]): void {
    const { graceMs } = this.opts.deferredRemoval!;
    this.opts.logger.info({ count: keys.length, graceMs }, 'keeping relayed resources the peer did not send yet; removing those it has not sent again after the grace period');
    this.sweepTimer = setTimeout(() => {
      this.sweepTimer = undefined;
      void (async () => {
        let removed = 0;
        for (const k of keys) {
          if (this.seenSinceFull.has(wireKey(k))) continue;
          if (await this.remove(k)) removed++;
        }
        if (removed) this.opts.logger.info({ removed }, 'removed relayed resources the peer no longer has');
      })().catch((err: Error) => this.opts.logger.warn({ err: err.message }, 'deferred removal failed'));
    }, graceMs);
    this.sweepTimer.unref?.();
  }

  /** True when something was written. */
  private async upsert(w: WireResource): Promise<boolean> {
    const { store, logger } = this.opts;
    const key = { type: w.type, mesh: w.mesh, name: w.name };
    for (let attempt = 0; attempt < 3; attempt++) {
      const existing = await store.get(key);
      if (existing && !this.inScope(existing)) {
        logger.warn({ type: w.type, mesh: w.mesh, name: w.name }, 'synced resource conflicts with a local one; keeping the local one');
        return false;
      }
      const req = { type: w.type, mesh: w.mesh, name: w.name, labels: w.labels, spec: w.spec, status: w.status };
      try {
        if (!existing) {
          await store.create({ ...req, creationTime: w.creationTime });
        } else {
          if (contentVersion(toWire(existing)) === contentVersion(w)) return false;
          await store.update({ ...req, version: existing.version });
        }
        return true;
      } catch (err) {
        if (err instanceof AlreadyExistsError || err instanceof ConflictError || err instanceof NotFoundError) continue;
        throw err;
      }
    }
    logger.warn({ type: w.type, mesh: w.mesh, name: w.name }, 'could not store synced resource after retries');
    return false;
  }

  private async remove(k: WireKey): Promise<boolean> {
    const existing = await this.opts.store.get(k);
    if (!existing || !this.inScope(existing)) return false;
    try {
      await this.opts.store.delete(k);
      return true;
    } catch (err) {
      if (err instanceof NotFoundError) return false;
      throw err;
    }
  }
}
