// Fans change events out to watchers. Delivery is always asynchronous (after the write's promise
// settles for the writer) so a listener can never run inside the store's critical section.
import type { ChangeEvent, ChangeListener } from './store.js';

export interface StoreLogger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export class ChangeFeed {
  private readonly listeners = new Set<ChangeListener>();

  constructor(private readonly logger?: StoreLogger) {}

  subscribe(listener: ChangeListener): () => void {
    // Wrap so the same function subscribed twice gets two independent subscriptions.
    const entry: ChangeListener = (event) => listener(event);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  publish(event: ChangeEvent): void {
    if (this.listeners.size === 0) return;
    const targets = [...this.listeners];
    queueMicrotask(() => {
      for (const listener of targets) {
        if (!this.listeners.has(listener)) continue; // unsubscribed meanwhile
        try {
          listener({ ...event });
        } catch (err) {
          this.logger?.error(`store watch listener failed: ${String(err)}`);
        }
      }
    });
  }

  clear(): void {
    this.listeners.clear();
  }
}
