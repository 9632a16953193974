// One snapshot per proxy (node id). Protocol servers (SotW and Delta) subscribe to a node and
// compute what each stream still needs; the cache itself knows nothing about streams.
import type { Snapshot } from './snapshot.js';

export type SnapshotListener = (snapshot: Snapshot) => void;

export class SnapshotCache {
  private readonly snapshots = new Map<string, Snapshot>();
  private readonly listeners = new Map<string, Set<SnapshotListener>>();

  /**
   * Stores the node's snapshot and notifies its open streams.
   * Returns false (and notifies nobody) when the content equals the current snapshot.
   */
  setSnapshot(nodeId: string, snapshot: Snapshot): boolean {
    if (this.snapshots.get(nodeId)?.version === snapshot.version) return false;
    this.snapshots.set(nodeId, snapshot);
    for (const listener of [...(this.listeners.get(nodeId) ?? [])]) listener(snapshot);
    return true;
  }

  getSnapshot(nodeId: string): Snapshot | undefined {
    return this.snapshots.get(nodeId);
  }

  /** Forgets a node (e.g. its Dataplane was deleted). Open streams keep what they were sent. */
  clearSnapshot(nodeId: string): void {
    this.snapshots.delete(nodeId);
  }

  nodeIds(): string[] {
    return [...this.snapshots.keys()];
  }

  /** Calls `listener` on every future change of the node's snapshot. Returns the unsubscribe function. */
  watch(nodeId: string, listener: SnapshotListener): () => void {
    let set = this.listeners.get(nodeId);
    if (!set) this.listeners.set(nodeId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(nodeId) === set) this.listeners.delete(nodeId);
    };
  }
}
