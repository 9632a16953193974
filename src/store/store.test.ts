// Runs the store contract against every backend, plus what only some backends promise: durability
// of the embedded store, its data directory lock, and change events between PostgreSQL replicas.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DataDirLockedError } from './dir-lock.js';
import { openEmbeddedStore } from './embedded.js';
import { openStore } from './factory.js';
import { MemoryStore } from './memory.js';
import { openPostgresStore } from './postgres.js';
import { createScratchDatabase, postgresReachable, type ScratchDatabase } from './scratch-database.js';
import { describeStoreContract, eventually, recordEvents, uniqueType } from './store.contract.js';
import type { ResourceStore } from './store.js';

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skein-store-'));
  tempDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

describeStoreContract('memory', async () => new MemoryStore());

describeStoreContract('embedded', () => openEmbeddedStore({ dataDir: tempDir() }));

describe('embedded store', () => {
  const open: ResourceStore[] = [];
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
  });

  it('creates a missing (nested) data directory and keeps data across reopen', async () => {
    const dataDir = path.join(tempDir(), 'nested', 'data');
    const type = uniqueType();
    const first = await openStore({ type: 'embedded', dataDir });
    await first.create({ type, mesh: 'default', name: 'kept', labels: { a: 'b' }, spec: { n: 1 } });
    await first.update({ type, mesh: 'default', name: 'kept', labels: {}, spec: { n: 2 }, version: 1 });
    await first.close();

    const second = await openStore({ type: 'embedded', dataDir });
    open.push(second);
    expect(await second.get({ type, mesh: 'default', name: 'kept' })).toMatchObject({ version: 2, spec: { n: 2 } });
  });

  it('refuses a second open of the same data directory while the first is open', async () => {
    const dataDir = tempDir();
    const first = await openEmbeddedStore({ dataDir });
    open.push(first);
    await expect(openEmbeddedStore({ dataDir })).rejects.toBeInstanceOf(DataDirLockedError);
    await first.close();
    open.length = 0;
    open.push(await openEmbeddedStore({ dataDir })); // released on close
  });

  it('stays usable after a statement fails inside PostgreSQL', async () => {
    const store = await openEmbeddedStore({ dataDir: tempDir() });
    open.push(store);
    const type = uniqueType();
    // jsonb cannot hold NUL characters: the prepared insert fails during execution.
    await expect(store.create({ type, mesh: 'm', name: 'nul', labels: {}, spec: { s: 'a\u0000b' } })).rejects.toThrow();
    await expect(store.create({ type, mesh: 'm', name: 'ok', labels: {}, spec: {} })).resolves.toMatchObject({ version: 1 });
    expect(await store.count(type)).toBe(1);
  });

  it('survives SIGKILL of the writing process, whose lock keeps others out while it lives', async () => {
    const compiled = fileURLToPath(new URL('../../dist/store/embedded.js', import.meta.url));
    expect(fs.existsSync(compiled), `${compiled} is missing: run "npm run build" first`).toBe(true);
    const dataDir = tempDir();
    const type = uniqueType();
    // The child writes, confirms each write has returned, then idles until killed.
    const childCode = `
      const [moduleUrl, dataDir, type] = process.argv.slice(1);
      const { openEmbeddedStore } = await import(moduleUrl);
      const store = await openEmbeddedStore({ dataDir });
      for (let i = 0; i < 50; i++) {
        await store.create({ type, mesh: 'default', name: 'dp-' + i, labels: {}, spec: { i } });
      }
      await store.update({ type, mesh: 'default', name: 'dp-7', labels: { updated: 'yes' }, spec: { i: 700 }, version: 1 });
      await store.delete({ type, mesh: 'default', name: 'dp-9' });
      process.stdout.write('WRITTEN\\n');
      setInterval(() => {}, 1000);
    `;
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', childCode, pathToFileURL(compiled).href, dataDir, type],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    try {
      await eventually(() => expect(output).toContain('WRITTEN'), 45_000);
      await expect(openEmbeddedStore({ dataDir })).rejects.toBeInstanceOf(DataDirLockedError);
    } finally {
      child.kill('SIGKILL');
    }
    expect(await exited).toBe('SIGKILL');

    const reopened = await openEmbeddedStore({ dataDir });
    open.push(reopened);
    expect(await reopened.count(type)).toBe(49);
    expect(await reopened.get({ type, mesh: 'default', name: 'dp-7' })).toMatchObject({
      version: 2,
      labels: { updated: 'yes' },
      spec: { i: 700 },
    });
    expect(await reopened.get({ type, mesh: 'default', name: 'dp-9' })).toBeUndefined();
  });
});

const postgresAdminUrl = process.env.SKEIN_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const postgresUp = await postgresReachable(postgresAdminUrl);

if (!postgresUp && process.env.SKEIN_REQUIRE_POSTGRES === '1') {
  describe('postgres store', () => {
    it('needs a reachable PostgreSQL (SKEIN_REQUIRE_POSTGRES=1)', () => {
      expect.fail(`PostgreSQL is not reachable at ${postgresAdminUrl}`);
    });
  });
} else {
  describe.skipIf(!postgresUp)('postgres store', () => {
    const scratch: ScratchDatabase[] = [];
    async function scratchDatabase(): Promise<ScratchDatabase> {
      const db = await createScratchDatabase(postgresAdminUrl, 'skein_test');
      scratch.push(db);
      return db;
    }
    afterAll(async () => {
      for (const db of scratch) await db.drop();
    });

    let contractDb: ScratchDatabase;
    beforeAll(async () => {
      contractDb = await scratchDatabase();
    });
    describeStoreContract('postgres', () => openPostgresStore({ url: contractDb.url }));

    describe('replicas sharing one database', () => {
      let url: string;
      let a: ResourceStore;
      let b: ResourceStore;
      beforeAll(async () => {
        url = (await scratchDatabase()).url;
        // Both open (and migrate) at once, as two CPs starting together would.
        [a, b] = await Promise.all([openPostgresStore({ url }), openPostgresStore({ url })]);
      });
      afterAll(async () => {
        await a?.close();
        await b?.close();
      });

      it('migrated exactly once', async () => {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          const { rows } = await client.query('SELECT version FROM schema_migrations ORDER BY version');
          expect(rows.map((r: { version: number }) => r.version)).toEqual([1, 2]);
        } finally {
          await client.end();
        }
      });

      it("sees the other replica's writes as watch events, and its own once", async () => {
        const type = uniqueType();
        const onA = recordEvents(a, type);
        const onB = recordEvents(b, type);
        await a.create({ type, mesh: 'default', name: 'web', labels: {}, spec: {} });
        await a.update({ type, mesh: 'default', name: 'web', labels: {}, spec: { v: 2 }, version: 1 });
        await a.delete({ type, mesh: 'default', name: 'web' });
        const expected = ['create', 'update', 'delete'].map((kind) => ({ kind, type, mesh: 'default', name: 'web' }));
        await eventually(() => expect(onB.events).toEqual(expected));
        await b.create({ type, mesh: 'm', name: 'from-b', labels: {}, spec: {} });
        await eventually(() => expect(onA.events).toHaveLength(4));
        expect(onA.events).toEqual([...expected, { kind: 'create', type, mesh: 'm', name: 'from-b' }]);
        // Give a duplicate (own event echoed back through NOTIFY) the chance to show up.
        await b.create({ type, mesh: 'm', name: 'marker', labels: {}, spec: {} });
        await eventually(() => expect(onA.events).toHaveLength(5));
        expect(onB.events).toHaveLength(5);
        onA.stop();
        onB.stop();
      });

      it('re-establishes the LISTEN connection when it is dropped', async () => {
        const type = uniqueType();
        const onB = recordEvents(b, type);
        const admin = new pg.Client({ connectionString: url });
        await admin.connect();
        try {
          const { rowCount } = await admin.query(
            `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND application_name LIKE 'skein-%-listen'`,
          );
          expect(rowCount).toBe(2);
        } finally {
          await admin.end();
        }
        // Changes made while disconnected are not replayed, so keep writing until one gets through.
        let i = 0;
        await eventually(async () => {
          await a.create({ type, mesh: 'default', name: `after-drop-${i++}`, labels: {}, spec: {} });
          expect(onB.events.length).toBeGreaterThan(0);
        }, 15_000);
        onB.stop();
      });
    });
  });
}
