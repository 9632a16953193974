// PostgreSQL store for production: several CP replicas may share one database. Writes of every
// replica fire a trigger that NOTIFYs CHANGE_CHANNEL; each replica LISTENs on a dedicated connection
// (re-established when it drops) and republishes other replicas' changes to its local watchers.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { ChangeFeed, type StoreLogger } from './change-feed.js';
import { CHANGE_CHANNEL, SqlResourceStore, migrate, type SqlDriver, type SqlQuery, type SqlSession } from './sql.js';
import type { ChangeEvent } from './store.js';

export interface PostgresStoreOptions {
  /** postgres://user:password@host:port/database */
  url: string;
  logger?: StoreLogger;
  /** Pool size; default 10. */
  maxConnections?: number;
}

export async function openPostgresStore(opts: PostgresStoreOptions): Promise<SqlResourceStore> {
  // Our connections carry this name; the NOTIFY trigger copies it so we can skip our own events.
  const origin = `skein-${randomUUID()}`;
  const pool = new pg.Pool({
    connectionString: opts.url,
    application_name: origin,
    max: opts.maxConnections ?? 10,
  });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', (err) => opts.logger?.warn(`postgres store: idle connection error: ${err.message}`));
  const driver = new PgPoolDriver(pool);
  const feed = new ChangeFeed(opts.logger);
  let listener: ChangeListenerConnection | undefined;
  try {
    const ran = await migrate(driver, 'postgres');
    if (ran.length > 0) opts.logger?.info(`postgres store: migrations applied: ${ran.join(', ')}`);
    listener = new ChangeListenerConnection(opts.url, origin, feed, opts.logger);
    await listener.start();
  } catch (err) {
    await listener?.stop();
    await pool.end();
    throw err;
  }
  const started = listener;
  return new SqlResourceStore(driver, feed, { beforeClose: () => started.stop() });
}

class PgPoolDriver implements SqlDriver {
  constructor(private readonly pool: pg.Pool) {}

  async query<R>(q: SqlQuery): Promise<R[]> {
    return (await this.pool.query(toConfig(q))).rows as R[];
  }

  async transaction<T>(fn: (tx: SqlSession) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn({ query: async <R>(q: SqlQuery) => (await client.query(toConfig(q))).rows as R[] });
      await client.query('COMMIT');
      client.release();
      return result;
    } catch (err) {
      // A failed ROLLBACK means the connection is broken: drop it instead of returning it to the pool.
      await client.query('ROLLBACK').then(
        () => client.release(),
        (rollbackErr: Error) => client.release(rollbackErr),
      );
      throw err;
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

/** Unnamed statements are not prepared; named ones are prepared once per connection by `pg`. */
function toConfig(q: SqlQuery): pg.QueryConfig {
  return q.name ? { name: q.name, text: q.text, values: q.values } : { text: q.text, values: q.values };
}

const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5_000;

/** One connection LISTENing on CHANGE_CHANNEL, reconnecting with backoff until stopped. */
class ChangeListenerConnection {
  private client: pg.Client | undefined;
  private stopped = false;
  private retryDelay = RECONNECT_MIN_MS;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly url: string,
    private readonly origin: string,
    private readonly feed: ChangeFeed,
    private readonly logger?: StoreLogger,
  ) {}

  /** Resolves once listening; a failure of the first attempt is thrown (bad URL, DB down). */
  async start(): Promise<void> {
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, application_name: `${this.origin}-listen` });
    client.on('notification', (msg) => {
      if (msg.channel === CHANGE_CHANNEL && msg.payload) this.deliver(msg.payload);
    });
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGE_CHANNEL}`);
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
    if (this.stopped) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    this.retryDelay = RECONNECT_MIN_MS;
  }

  private lost(client: pg.Client, err: Error): void {
    if (this.stopped || this.client !== client) return;
    this.client = undefined;
    client.end().catch(() => {});
    // Changes made by other replicas while we are disconnected are not replayed.
    this.logger?.warn(`postgres store: change listener lost its connection (${err.message}); reconnecting`);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    this.retryTimer = setTimeout(() => {
      this.connect().then(
        () => this.logger?.info('postgres store: change listener reconnected'),
        (err: Error) => {
          this.logger?.warn(`postgres store: change listener reconnect failed: ${err.message}`);
          this.retryDelay = Math.min(this.retryDelay * 2, RECONNECT_MAX_MS);
          this.scheduleReconnect();
        },
      );
    }, this.retryDelay);
  }

  private deliver(payload: string): void {
    let parsed: ChangeEvent & { origin?: string };
    try {
      parsed = JSON.parse(payload) as ChangeEvent & { origin?: string };
    } catch {
      this.logger?.warn(`postgres store: ignoring malformed change notification: ${payload}`);
      return;
    }
    if (parsed.origin === this.origin) return; // already published locally when it was written
    this.feed.publish({ kind: parsed.kind, type: parsed.type, mesh: parsed.mesh, name: parsed.name });
  }
}
