// The sending side of a sync stream: on (re)connect the full set, then deltas on store changes.
// After the full set, deltas are incremental: only the resources named in store change events are
// re-read and compared (by store version) with what this peer was last sent, so a batch of changes
// costs O(changes), not O(all resources).
import type { ResourceKey } from '../api/resource.js';
import type { Logger } from '../observability/logger.js';
import { wireKey, type WireKey, type WireResource } from './naming.js';
import type { SyncMessage } from './protocol.js';

export interface OutboundStats {
  responsesSent: number;
  responsesAcknowledged: number;
  responsesRejected: number;
  lastUpdateTime?: string;
  /** Sync lag: how long the peer took to acknowledge the last acknowledged message (ms). */
  lastAckLatencyMs?: number;
}

/** One outbound resource: its store key, what is sent, and a change key (store version). */
export interface OutboundEntry {
  /** Store key id (see `storeKeyId`). */
  id: string;
  wire: WireResource;
  /** Changes whenever the stored resource changes (version + times). */
  version: string;
}

export interface OutboundSource {
  /** Everything to send to this peer (full resync). Ordered as it must be applied. */
  all(): Promise<OutboundEntry[]>;
  /** Re-reads the given store keys; returns entries for those that exist and are sent to this peer. */
  some(keys: ResourceKey[]): Promise<OutboundEntry[]>;
}

export function storeKeyId(k: ResourceKey): string {
  return JSON.stringify([k.type, k.mesh, k.name]);
}

/** Store version as a change key: no re-serialisation of the content needed. */
export function storeVersion(r: { version: number; modificationTime: string; creationTime: string }): string {
  return `${r.version}|${r.modificationTime}|${r.creationTime}`;
}

interface SentEntry {
  wireKey: WireKey;
  version: string;
}

export class OutboundSession {
  /** What this peer was last sent, by store key id. */
  private sent = new Map<string, SentEntry>();
  private pending = new Map<string, ResourceKey>();
  private first = true;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private dirty = false;
  private closed = false;
  private seq = 0;
  /** Send time of each message not acknowledged yet, by nonce. */
  private unacked = new Map<string, number>();
  readonly stats: OutboundStats = { responsesSent: 0, responsesAcknowledged: 0, responsesRejected: 0 };
  /** When the oldest change not yet sent happened (performance.now()). */
  private dirtySince: number | undefined;
  /** Sent, not yet answered: nonce → when its oldest change happened. */
  private readonly inflight = new Map<string, number>();
  /** Called when the peer answers a message: seconds from the oldest change it carries to the answer. */
  onAnswered?: (lagSeconds: number, ok: boolean) => void;

  constructor(
    private readonly write: (m: SyncMessage) => void,
    private readonly source: OutboundSource,
    private readonly logger: Logger,
    private readonly debounceMs = 50,
    /** Apply order of types (e.g. Mesh first); types not listed go last. */
    private readonly typeOrder: string[] = [],
  ) {}

  /** Sends the full set now. */
  start(): void {
    this.dirtySince ??= performance.now();
    this.dirty = true;
    void this.kick();
  }

  /** A store change of `key`: send a delta soon (changes within the debounce window are batched). */
  schedule(key?: ResourceKey): void {
    if (this.closed) return;
    if (key) this.pending.set(storeKeyId(key), { type: key.type, mesh: key.mesh, name: key.name });
    this.dirtySince ??= performance.now();
    this.dirty = true;
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.kick();
    }, this.debounceMs);
  }

  /** Forces a full recompute on the next flush (the peer still gets a delta against what it has). */
  resync(): void {
    this.needFull = true;
    this.schedule();
  }

  private needFull = false;

  /**
   * How far the peer is behind: the age of the oldest message it has not acknowledged yet (0 when it
   * has acknowledged everything).
   */
  lagMs(now = Date.now()): number {
    let oldest = now;
    for (const sentAt of this.unacked.values()) oldest = Math.min(oldest, sentAt);
    return now - oldest;
  }

  onAck(m: SyncMessage): void {
    const sentAt = m.ack !== undefined ? this.unacked.get(m.ack) : undefined;
    if (sentAt !== undefined) {
      this.unacked.delete(m.ack!);
      this.stats.lastAckLatencyMs = Date.now() - sentAt;
    }
    const since = this.inflight.get(m.ack ?? '');
    if (since !== undefined) {
      this.inflight.delete(m.ack!);
      this.onAnswered?.((performance.now() - since) / 1000, !m.error);
    }
    if (m.error) {
      this.stats.responsesRejected++;
      this.logger.warn({ nonce: m.ack, error: m.error }, 'peer rejected sync message');
    } else {
      this.stats.responsesAcknowledged++;
    }
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async kick(): Promise<void> {
    if (this.running) return; // the running flush loops while dirty
    this.running = this.loop().finally(() => (this.running = undefined));
    await this.running;
  }

  private async loop(): Promise<void> {
    while (this.dirty && !this.closed) {
      this.dirty = false;
      const since = this.dirtySince ?? performance.now();
      this.dirtySince = undefined;
      const full = this.first || this.needFull;
      const keys = this.pending;
      this.pending = new Map();
      this.needFull = false;
      try {
        const delta = full ? await this.fullDelta() : await this.incrementalDelta([...keys.values()]);
        if (this.closed) return;
        if (!this.first && delta.upserts.length === 0 && delta.removals.length === 0) {
          this.sent = delta.next;
          continue;
        }
        const msg: SyncMessage = { nonce: String(++this.seq), full: this.first, upserts: delta.upserts, removals: delta.removals };
        this.unacked.set(msg.nonce!, Date.now());
        this.inflight.set(msg.nonce!, since);
        this.write(msg);
        this.first = false;
        this.sent = delta.next;
        this.stats.responsesSent++;
        this.stats.lastUpdateTime = new Date().toISOString();
      } catch (err) {
        this.logger.warn({ err }, 'could not compute sync delta; retrying');
        if (full) this.needFull = true;
        for (const [id, k] of keys) if (!this.pending.has(id)) this.pending.set(id, k);
        this.dirtySince = Math.min(since, this.dirtySince ?? since);
        this.dirty = true;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  /** Everything against what was sent (all of it on the first message). */
  private async fullDelta(): Promise<{ upserts: WireResource[]; removals: WireKey[]; next: Map<string, SentEntry> }> {
    const current = await this.source.all();
    const prev = this.first ? new Map<string, SentEntry>() : this.sent;
    const next = new Map<string, SentEntry>();
    const upserts: WireResource[] = [];
    const nextWireKeys = new Set<string>();
    for (const e of current) {
      const wk = wireKeyOf(e.wire);
      next.set(e.id, { wireKey: wk, version: e.version });
      nextWireKeys.add(wireKey(wk));
      const old = prev.get(e.id);
      if (!old || old.version !== e.version || wireKey(old.wireKey) !== wireKey(wk)) upserts.push(e.wire);
    }
    const removals: WireKey[] = [];
    for (const old of prev.values()) if (!nextWireKeys.has(wireKey(old.wireKey))) removals.push(old.wireKey);
    return { upserts, removals, next };
  }

  /** Only the named keys: re-read them and compare their store versions with what was sent. */
  private async incrementalDelta(keys: ResourceKey[]): Promise<{ upserts: WireResource[]; removals: WireKey[]; next: Map<string, SentEntry> }> {
    const next = this.sent; // updated in place: only the named keys change
    if (keys.length === 0) return { upserts: [], removals: [], next };
    const found = await this.source.some(keys);
    const byId = new Map(found.map((e) => [e.id, e]));
    const upserts: OutboundEntry[] = [];
    const removals: WireKey[] = [];
    const updates: Array<[string, SentEntry | undefined]> = [];
    for (const k of keys) {
      const id = storeKeyId(k);
      const e = byId.get(id);
      const old = next.get(id);
      if (!e) {
        if (old) {
          removals.push(old.wireKey);
          updates.push([id, undefined]);
        }
        continue;
      }
      const wk = wireKeyOf(e.wire);
      if (old && old.version === e.version && wireKey(old.wireKey) === wireKey(wk)) continue;
      if (old && wireKey(old.wireKey) !== wireKey(wk)) removals.push(old.wireKey);
      upserts.push(e);
      updates.push([id, { wireKey: wk, version: e.version }]);
    }
    // Apply the new state only once the delta is built (a failure above leaves `sent` untouched).
    for (const [id, s] of updates) {
      if (s) next.set(id, s);
      else next.delete(id);
    }
    const order = (t: string) => {
      const i = this.typeOrder.indexOf(t);
      return i < 0 ? this.typeOrder.length : i;
    };
    upserts.sort((a, b) => order(a.wire.type) - order(b.wire.type));
    return { upserts: upserts.map((e) => e.wire), removals, next };
  }
}

function wireKeyOf(w: WireResource): WireKey {
  return { type: w.type, mesh: w.mesh, name: w.name };
}
