import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TypeUrl } from '../envoy/protos.js';
import { createLogger } from '../observability/logger.js';
import { MemoryStore } from '../store/memory.js';
import { DataplaneInsights } from './insights.js';
import type { XdsNode } from './server/node.js';

const node: XdsNode = { id: 'default.web-1', cluster: '', metadata: {}, locality: { region: '', zone: '', sub_zone: '' }, userAgentName: '', userAgentVersion: '1.0' };
const key = { type: 'DataplaneInsight', mesh: 'default', name: 'web-1' };

interface Insight {
  subscriptions: { status: { total: { responsesAcknowledged: number } }; ackedVersions: Record<string, string>; disconnectTime?: string }[];
}

describe('DataplaneInsights', () => {
  let store: MemoryStore;
  let insights: DataplaneInsights;

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    store = new MemoryStore();
    insights = new DataplaneInsights(store, 'cp-1', createLogger('silent'));
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  async function stored(): Promise<Insight | undefined> {
    return (await store.get(key))?.spec as Insight | undefined;
  }

  it('writes connects soon and a burst of ACKs once, later, without reading back what it wrote', async () => {
    insights.connected('default', 'web-1', node);
    await vi.advanceTimersByTimeAsync(300);
    expect((await stored())?.subscriptions).toHaveLength(1);

    const get = vi.spyOn(store, 'get');
    const update = vi.spyOn(store, 'update');
    for (let i = 1; i <= 100; i++) insights.ack('default', 'web-1', TypeUrl.ClusterLoadAssignment, `v${i}`);
    await vi.advanceTimersByTimeAsync(300);
    expect(update).not.toHaveBeenCalled(); // ACKs only: not urgent
    await vi.advanceTimersByTimeAsync(2_000);
    expect(update).toHaveBeenCalledTimes(1);
    expect(get).not.toHaveBeenCalled();
    const sub = (await stored())!.subscriptions[0]!;
    expect(sub.status.total.responsesAcknowledged).toBe(100);
    expect(sub.ackedVersions['ClusterLoadAssignment']).toBe('v100');

    // A disconnect is written soon, with the ACKs counted meanwhile.
    insights.ack('default', 'web-1', TypeUrl.Cluster, 'c1');
    insights.disconnected('default', 'web-1');
    await vi.advanceTimersByTimeAsync(300);
    const after = (await stored())!.subscriptions[0]!;
    expect(after.disconnectTime).toBeDefined();
    expect(after.status.total.responsesAcknowledged).toBe(101);
  });

  it('flush writes pending ACKs at once, and a write conflict makes it read again', async () => {
    insights.connected('default', 'web-1', node);
    await insights.flush();
    // Someone else wrote the insight meanwhile: the version we know is stale.
    const current = (await store.get(key))!;
    await store.update({ ...key, labels: current.labels, spec: { subscriptions: [] }, version: current.version });
    insights.ack('default', 'web-1', TypeUrl.Listener, 'l1');
    await insights.flush();
    expect((await stored())!.subscriptions[0]!.ackedVersions['Listener']).toBe('l1');
  });
});

describe('DataplaneInsights generation errors', () => {
  it('records a generation failure once and clears it when generation works again', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const store = new MemoryStore();
      const insights = new DataplaneInsights(store, 'cp-1', createLogger('silent'));
      const status = async () => ((await store.get(key))?.spec as { subscriptions: { status: { lastGenerationError?: { reason: string } } }[] }).subscriptions[0]!.status;
      insights.connected('default', 'web-1', node);
      insights.generationFailed('default', 'web-1', 'MeshProxyPatch "p": broken');
      await vi.advanceTimersByTimeAsync(300);
      expect((await status()).lastGenerationError?.reason).toBe('MeshProxyPatch "p": broken');
      const update = vi.spyOn(store, 'update');
      insights.generationFailed('default', 'web-1', 'MeshProxyPatch "p": broken');
      insights.generated('default', 'web-1');
      await vi.advanceTimersByTimeAsync(300);
      expect(update).toHaveBeenCalledTimes(1);
      expect((await status()).lastGenerationError).toBeUndefined();
    } finally {
      vi.useRealTimers();
    }
  });
});
