// The behaviour every ResourceStore backend must show. store.test.ts runs it against each backend.
// Each test works on its own resource type, so backends sharing one database need no cleanup.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Resource } from '../api/resource.js';
import {
  AlreadyExistsError,
  ConflictError,
  NotFoundError,
  type ChangeEvent,
  type CreateRequest,
  type ResourceStore,
} from './store.js';

let typeCounter = 0;

/** A resource type no other test (or earlier run against the same database) has used. */
export function uniqueType(): string {
  typeCounter += 1;
  return `Test${typeCounter}x${Math.random().toString(36).slice(2, 8)}`;
}

/** Polls until `check` passes (it throws while not yet true) or the time runs out. */
export async function eventually(check: () => void | Promise<void>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** Records the events of one resource type. */
export function recordEvents(store: ResourceStore, type: string): { events: ChangeEvent[]; stop: () => void } {
  const events: ChangeEvent[] = [];
  const stop = store.watch((e) => {
    if (e.type === type) events.push(e);
  });
  return { events, stop };
}

export function describeStoreContract(name: string, factory: () => Promise<ResourceStore>): void {
  describe(`ResourceStore contract: ${name}`, () => {
    let store: ResourceStore;
    let type: string;

    beforeAll(async () => {
      store = await factory();
    });
    afterAll(async () => {
      await store?.close();
    });
    beforeEach(() => {
      type = uniqueType();
    });

    function req(mesh: string, name: string, extra: Partial<CreateRequest> = {}): CreateRequest {
      return { type, mesh, name, labels: {}, spec: { value: name }, ...extra };
    }

    it('creates at version 1 and reads back what it stored', async () => {
      const before = Date.now();
      const created = await store.create(req('default', 'web', { labels: { app: 'web' }, spec: { port: 80 } }));
      expect(created).toMatchObject({ type, mesh: 'default', name: 'web', version: 1, labels: { app: 'web' } });
      expect(created.spec).toEqual({ port: 80 });
      expect(created.status).toBeUndefined();
      expect(created.creationTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(Date.parse(created.creationTime)).toBeGreaterThanOrEqual(before - 1000);
      expect(created.modificationTime).toBe(created.creationTime);
      expect(await store.get({ type, mesh: 'default', name: 'web' })).toEqual(created);
      expect(await store.get({ type, mesh: 'default', name: 'other' })).toBeUndefined();
      expect(await store.get({ type, mesh: 'other', name: 'web' })).toBeUndefined();
    });

    it('keeps a given creation time', async () => {
      const created = await store.create(req('default', 'synced', { creationTime: '2021-02-03T04:05:06.789Z' }));
      expect(created.creationTime).toBe('2021-02-03T04:05:06.789Z');
      expect(created.modificationTime).not.toBe(created.creationTime);
    });

    it('updates: replaces content, bumps version and modification time, keeps creation time', async () => {
      const created = await store.create(req('default', 'web', { labels: { a: '1' }, status: { ok: true } }));
      await new Promise((resolve) => setTimeout(resolve, 5));
      const updated = await store.update({ ...req('default', 'web', { labels: { b: '2' }, spec: { port: 81 } }), version: 1 });
      expect(updated.version).toBe(2);
      expect(updated.labels).toEqual({ b: '2' });
      expect(updated.spec).toEqual({ port: 81 });
      expect(updated.status).toBeUndefined();
      expect(updated.creationTime).toBe(created.creationTime);
      expect(Date.parse(updated.modificationTime)).toBeGreaterThan(Date.parse(created.modificationTime));
      expect(await store.get({ type, mesh: 'default', name: 'web' })).toEqual(updated);
      const again = await store.update({ ...req('default', 'web', { status: { phase: 'ready' } }), version: 2 });
      expect(again.version).toBe(3);
      expect(again.status).toEqual({ phase: 'ready' });
    });

    it('rejects an update with a stale version and keeps the stored resource', async () => {
      await store.create(req('default', 'web'));
      const current = await store.update({ ...req('default', 'web', { spec: { v: 2 } }), version: 1 });
      await expect(store.update({ ...req('default', 'web', { spec: { v: 3 } }), version: 1 })).rejects.toBeInstanceOf(
        ConflictError,
      );
      await expect(store.update({ ...req('default', 'web'), version: 7 })).rejects.toBeInstanceOf(ConflictError);
      expect(await store.get({ type, mesh: 'default', name: 'web' })).toEqual(current);
    });

    it('rejects an update of a missing resource with NotFoundError', async () => {
      await expect(store.update({ ...req('default', 'ghost'), version: 1 })).rejects.toBeInstanceOf(NotFoundError);
    });

    it('rejects a duplicate create with AlreadyExistsError', async () => {
      const first = await store.create(req('default', 'web', { spec: { first: true } }));
      const err = await store.create(req('default', 'web', { spec: { second: true } })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AlreadyExistsError);
      expect((err as AlreadyExistsError).key).toEqual({ type, mesh: 'default', name: 'web' });
      expect(await store.get({ type, mesh: 'default', name: 'web' })).toEqual(first);
      // The same name in another mesh is another resource.
      await expect(store.create(req('other', 'web'))).resolves.toMatchObject({ mesh: 'other', version: 1 });
    });

    it('deletes; a missing resource → NotFoundError, a stale version → ConflictError', async () => {
      await store.create(req('default', 'a'));
      await store.create(req('default', 'b'));
      await store.delete({ type, mesh: 'default', name: 'a' });
      expect(await store.get({ type, mesh: 'default', name: 'a' })).toBeUndefined();
      await expect(store.delete({ type, mesh: 'default', name: 'a' })).rejects.toBeInstanceOf(NotFoundError);
      await expect(store.delete({ type, mesh: 'default', name: 'b' }, { version: 2 })).rejects.toBeInstanceOf(
        ConflictError,
      );
      expect(await store.get({ type, mesh: 'default', name: 'b' })).toBeDefined();
      await store.delete({ type, mesh: 'default', name: 'b' }, { version: 1 });
      expect(await store.count(type)).toBe(0);
      // Deleted names can be created again, from version 1.
      await expect(store.create(req('default', 'a'))).resolves.toMatchObject({ version: 1 });
    });

    it('lists sorted by (mesh, name) and filters by mesh, labels and name substring', async () => {
      const entries: [string, string, Record<string, string>][] = [
        ['m2', 'b', { env: 'prod', team: 'x' }],
        ['m1', 'c', { env: 'prod' }],
        ['', 'global-one', {}],
        ['m1', 'a_1', { env: 'dev', team: 'x' }],
        ['m2', 'a%1', { env: 'prod', team: 'y' }],
        ['m1', 'B', { env: 'prod', team: 'x' }],
        ['m10', 'a', {}],
      ];
      for (const [mesh, name, labels] of entries) await store.create(req(mesh, name, { labels }));
      await store.create({ ...req('m1', 'other-type'), type: uniqueType() });

      const keys = (rs: Resource[]) => rs.map((r) => `${r.mesh}/${r.name}`);
      expect(keys(await store.list(type))).toEqual(['/global-one', 'm1/B', 'm1/a_1', 'm1/c', 'm10/a', 'm2/a%1', 'm2/b']);
      expect(keys(await store.list(type, { mesh: 'm1' }))).toEqual(['m1/B', 'm1/a_1', 'm1/c']);
      expect(keys(await store.list(type, { mesh: '' }))).toEqual(['/global-one']);
      expect(keys(await store.list(type, { labels: { env: 'prod' } }))).toEqual(['m1/B', 'm1/c', 'm2/a%1', 'm2/b']);
      expect(keys(await store.list(type, { labels: { env: 'prod', team: 'x' } }))).toEqual(['m1/B', 'm2/b']);
      expect(keys(await store.list(type, { mesh: 'm2', labels: { team: 'x' } }))).toEqual(['m2/b']);
      expect(keys(await store.list(type, { labels: { env: 'staging' } }))).toEqual([]);
      expect(keys(await store.list(type, { nameContains: 'a' }))).toEqual(['/global-one', 'm1/a_1', 'm10/a', 'm2/a%1']);
      // Substring match is literal: no LIKE wildcards.
      expect(keys(await store.list(type, { nameContains: '%' }))).toEqual(['m2/a%1']);
      expect(keys(await store.list(type, { nameContains: '_' }))).toEqual(['m1/a_1']);
      expect(keys(await store.list(type, { mesh: 'm1', labels: { team: 'x' }, nameContains: 'a' }))).toEqual(['m1/a_1']);
      expect(keys(await store.list(type, { labels: {} }))).toHaveLength(7);

      expect(await store.count(type)).toBe(7);
      expect(await store.count(type, { mesh: 'm1' })).toBe(3);
      expect(await store.count(type, { labels: { env: 'prod' }, nameContains: 'b' })).toBe(1);
      expect(await store.count(type, { mesh: 'nope' })).toBe(0);
      expect(await store.list(uniqueType())).toEqual([]);
    });

    it('delivers watch events for create, update and delete after the change', async () => {
      const events: ChangeEvent[] = [];
      const lookups: Promise<Resource | undefined>[] = [];
      const stop = store.watch((event) => {
        if (event.type !== type) return;
        events.push(event);
        // Look the resource up at delivery time: the change must already be visible.
        lookups.push(store.get(event));
      });
      const pending = store.create(req('default', 'web'));
      expect(events).toHaveLength(0); // never synchronously, inside the write
      await pending;
      await eventually(() => expect(events).toHaveLength(1));
      expect((await lookups[0])?.version).toBe(1);
      await store.update({ ...req('default', 'web', { spec: { v: 2 } }), version: 1 });
      await eventually(() => expect(events).toHaveLength(2));
      expect((await lookups[1])?.version).toBe(2);
      await store.delete({ type, mesh: 'default', name: 'web' });
      await eventually(() => expect(events).toHaveLength(3));
      expect(await lookups[2]).toBeUndefined();
      stop();
      expect(events).toEqual([
        { kind: 'create', type, mesh: 'default', name: 'web' },
        { kind: 'update', type, mesh: 'default', name: 'web' },
        { kind: 'delete', type, mesh: 'default', name: 'web' },
      ]);
    });

    it('stops delivering after unsubscribe, and a throwing listener does not starve others', async () => {
      const a = recordEvents(store, type);
      const b = recordEvents(store, type);
      const stopThrowing = store.watch(() => {
        throw new Error('listener bug');
      });
      await store.create(req('default', 'one'));
      await eventually(() => expect(b.events).toHaveLength(1));
      a.stop();
      await store.create(req('default', 'two'));
      await eventually(() => expect(b.events).toHaveLength(2));
      expect(a.events).toHaveLength(1);
      // Failed writes produce no events.
      await expect(store.create(req('default', 'two'))).rejects.toBeInstanceOf(AlreadyExistsError);
      await expect(store.update({ ...req('default', 'two'), version: 9 })).rejects.toBeInstanceOf(ConflictError);
      await store.create(req('default', 'three'));
      await eventually(() => expect(b.events).toHaveLength(3));
      expect(b.events.map((e) => e.name)).toEqual(['one', 'two', 'three']);
      b.stop();
      stopThrowing();
    });

    it('lets exactly one of concurrent updates of the same version win', async () => {
      await store.create(req('default', 'contended'));
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) =>
          store.update({ ...req('default', 'contended', { spec: { writer: i } }), version: 1 }),
        ),
      );
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(7);
      for (const l of lost) expect(l.reason).toBeInstanceOf(ConflictError);
      const stored = await store.get({ type, mesh: 'default', name: 'contended' });
      expect(stored?.version).toBe(2);
      expect(stored?.spec).toEqual((won[0] as PromiseFulfilledResult<Resource>).value.spec);
    });

    it('lets exactly one of concurrent creates of the same key win', async () => {
      const results = await Promise.allSettled(
        Array.from({ length: 5 }, () => store.create(req('default', 'racy'))),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results) {
        if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(AlreadyExistsError);
      }
    });

    it('round-trips nested JSON spec and status', async () => {
      const spec = {
        networking: {
          address: '10.0.0.1',
          inbound: [{ port: 8080, tags: { 'kuma.io/service': 'web', version: 'v1' } }, { port: 9090, tags: {} }],
          outbound: [],
        },
        weights: [0.5, 1e-7, -3, 12345678901234],
        flags: { on: true, off: false, missing: null },
        empty: {},
        text: 'line\nbreak "quoted" \\ back',
      };
      const status = { addresses: [{ hostname: 'web.mesh', origin: 'x' }], tls: { state: 'Ready' } };
      const created = await store.create(req('default', 'nested', { spec, status }));
      expect(created.spec).toEqual(spec);
      expect(created.status).toEqual(status);
      const read = await store.get({ type, mesh: 'default', name: 'nested' });
      expect(read?.spec).toEqual(spec);
      expect(read?.status).toEqual(status);
      expect((await store.list(type))[0].spec).toEqual(spec);
    });

    it('stores unicode in names, meshes, labels and spec', async () => {
      const mesh = 'mesh-ünïcødé';
      const name = 'サービス-🚀-名前';
      const labels = { 'team.example.com/owner': 'Zoë 🦊', emoji: '😀👍🏽' };
      const spec = { greeting: 'Привет, мир', math: '∑ ≠ ∞', cjk: '漢字', astral: '𝄞 𓀀' };
      await store.create(req(mesh, name, { labels, spec }));
      const read = await store.get({ type, mesh, name });
      expect(read).toMatchObject({ mesh, name, labels, spec });
      expect(await store.list(type, { labels: { emoji: '😀👍🏽' }, nameContains: '🚀' })).toHaveLength(1);
    });

    it('hands out copies: callers cannot change stored state', async () => {
      const input = req('default', 'copy', { labels: { a: '1' }, spec: { nested: { n: 1 } } });
      const created = await store.create(input);
      (input.spec.nested as { n: number }).n = 2;
      input.labels.a = 'changed';
      (created.spec.nested as { n: number }).n = 3;
      created.labels.b = 'added';
      const read = await store.get({ type, mesh: 'default', name: 'copy' });
      expect(read?.spec).toEqual({ nested: { n: 1 } });
      expect(read?.labels).toEqual({ a: '1' });
      (read!.spec.nested as { n: number }).n = 4;
      const listed = await store.list(type);
      listed[0].labels.c = 'x';
      expect(await store.get({ type, mesh: 'default', name: 'copy' })).toMatchObject({
        spec: { nested: { n: 1 } },
        labels: { a: '1' },
      });
    });
  });
}
