// Embedded store: PostgreSQL compiled to WebAssembly (PGlite) in this process, files in a data
// directory. Writes reach the OS before each statement returns, so data survives the process being
// killed (kill -9); PGlite's Node file system does not fsync, so an OS crash may lose recent writes.
import fs from 'node:fs';
import path from 'node:path';
import { PGlite, parse, protocol, type Transaction } from '@electric-sql/pglite';
import { ChangeFeed, type StoreLogger } from './change-feed.js';
import { lockDataDir } from './dir-lock.js';
import { EmbeddedMaintenance } from './embedded-maintenance.js';
import { SqlResourceStore, migrate, type SqlDriver, type SqlQuery, type SqlSession } from './sql.js';

export interface EmbeddedStoreOptions {
  /** Created if missing. The database lives in its `pglite/` subdirectory. */
  dataDir: string;
  logger?: StoreLogger;
}

export async function openEmbeddedStore(opts: EmbeddedStoreOptions): Promise<SqlResourceStore> {
  const dataDir = path.resolve(opts.dataDir);
  fs.mkdirSync(dataDir, { recursive: true });
  const lock = lockDataDir(dataDir);
  let db: PGlite | undefined;
  try {
    const pgDir = path.join(dataDir, 'pglite');
    const fresh = !fs.existsSync(path.join(pgDir, 'PG_VERSION'));
    db = await PGlite.create({ dataDir: pgDir });
    const driver = new PgliteDriver(db);
    const ran = await migrate(driver, 'embedded');
    opts.logger?.info(
      `embedded store ${fresh ? 'created' : 'opened'} at ${dataDir}` +
        (ran.length > 0 ? ` (migrations applied: ${ran.join(', ')})` : ''),
    );
    const maintenance = new EmbeddedMaintenance(driver, opts.logger);
    await maintenance.run();
    return new SqlResourceStore(driver, new ChangeFeed(opts.logger), {
      afterWrite: () => maintenance.wrote(),
      beforeClose: () => maintenance.idle(),
      afterClose: async () => lock.release(),
    });
  } catch (err) {
    await db?.close();
    lock.release();
    throw err;
  }
}

/**
 * PGlite's query() parses, plans and describes the statement on every call (six protocol
 * messages). Named statements are instead prepared once and then run as Bind/Execute/Sync in a
 * single protocol exchange, which more than doubles write throughput.
 */
class PgliteDriver implements SqlDriver {
  private readonly prepared = new Set<string>();

  constructor(private readonly db: PGlite) {}

  async query<R>(q: SqlQuery): Promise<R[]> {
    if (!q.name) return (await this.db.query<R>(q.text, q.values)).rows;
    // The same locks query() takes, so a statement never interleaves with a transaction.
    return this.db._runExclusiveTransaction(() => this.db._runExclusiveQuery(() => this.runPrepared<R>(q)));
  }

  transaction<T>(fn: (tx: SqlSession) => Promise<T>): Promise<T> {
    return this.db.transaction((tx: Transaction) =>
      fn({ query: async <R>(q: SqlQuery) => (await tx.query<R>(q.text, q.values)).rows }),
    );
  }

  close(): Promise<void> {
    return this.db.close();
  }

  private async runPrepared<R>(q: SqlQuery): Promise<R[]> {
    const { serialize } = protocol;
    if (!this.prepared.has(q.name)) {
      await this.db.execProtocol(concat([serialize.parse({ name: q.name, text: q.text }), serialize.sync()]));
      this.prepared.add(q.name);
    }
    // Parameters go as text; the statements cast where PostgreSQL cannot infer the type.
    const values = q.values.map((v) => (v === null || v === undefined ? null : String(v)));
    const { messages } = await this.db.execProtocol(
      concat([
        serialize.bind({ statement: q.name, values }),
        serialize.describe({ type: 'P' }),
        serialize.execute({}),
        serialize.sync(),
      ]),
    );
    return parse.parseResults(messages, this.db.parsers)[0].rows as R[];
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
