// The sending side of a sync stream: on (re)connect the full set, then deltas on store changes.
import type { Logger } from '../observability/logger.js';
import { computeDelta } from './diff.js';
import type { WireResource } from './naming.js';
import type { SyncMessage } from './protocol.js';

export interface OutboundStats {
  responsesSent: number;
  responsesAcknowledged: number;
  responsesRejected: number;
  lastUpdateTime?: string;
}

export class OutboundSession {
  private sent = new Map<string, string>();
  private first = true;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private dirty = false;
  private closed = false;
  private seq = 0;
  readonly stats: OutboundStats = { responsesSent: 0, responsesAcknowledged: 0, responsesRejected: 0 };

  constructor(
    private readonly write: (m: SyncMessage) => void,
    private readonly collect: () => Promise<WireResource[]>,
    private readonly logger: Logger,
    private readonly debounceMs = 50,
  ) {}

  /** Sends the full set now. */
  start(): void {
    this.dirty = true;
    void this.kick();
  }

  /** A store change: send a delta soon (changes within the debounce window are batched). */
  schedule(): void {
    if (this.closed) return;
    this.dirty = true;
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.kick();
    }, this.debounceMs);
  }

  onAck(m: SyncMessage): void {
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
      try {
        const current = await this.collect();
        if (this.closed) return;
        const delta = computeDelta(this.first ? new Map() : this.sent, current);
        if (!this.first && delta.upserts.length === 0 && delta.removals.length === 0) continue;
        const msg: SyncMessage = { nonce: String(++this.seq), full: this.first, upserts: delta.upserts, removals: delta.removals };
        this.write(msg);
        this.first = false;
        this.sent = delta.next;
        this.stats.responsesSent++;
        this.stats.lastUpdateTime = new Date().toISOString();
      } catch (err) {
        this.logger.warn({ err }, 'could not compute sync delta; retrying');
        this.dirty = true;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }
}
