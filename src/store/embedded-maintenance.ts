// PGlite runs PostgreSQL as a single backend, so autovacuum never runs: without this, the planner
// has no statistics (and picks poor plans, e.g. scanning a whole mesh to update one row) and dead
// row versions left by updates are never cleaned. This does autovacuum's job after enough writes.
import type { StoreLogger } from './change-feed.js';
import type { SqlDriver } from './sql.js';

/** Like autovacuum's defaults: maintain after 50 writes plus 10% of the table. */
const BASE_THRESHOLD = 50;
const SCALE_FACTOR = 0.1;

export class EmbeddedMaintenance {
  private writesSince = 0;
  private rowsAtLast = 0;
  private running: Promise<void> | undefined;

  constructor(
    private readonly driver: SqlDriver,
    private readonly logger?: StoreLogger,
  ) {}

  /** Brings statistics up to date now (on open: the table may have changed a lot last run). */
  async run(): Promise<void> {
    this.writesSince = 0;
    await this.driver.query({ name: '', text: 'VACUUM (ANALYZE) resources', values: [] });
    const rows = await this.driver.query<{ n: number }>({
      name: '',
      text: `SELECT greatest(reltuples, 0)::integer AS n FROM pg_class WHERE relname = 'resources'`,
      values: [],
    });
    this.rowsAtLast = rows[0]?.n ?? 0;
  }

  /** Counts a write; past the threshold, maintenance runs in the background. */
  wrote(): void {
    this.writesSince += 1;
    if (this.running || this.writesSince < BASE_THRESHOLD + SCALE_FACTOR * this.rowsAtLast) return;
    this.running = this.run()
      .catch((err: Error) => this.logger?.warn(`embedded store maintenance failed: ${err.message}`))
      .finally(() => {
        this.running = undefined;
      });
  }

  /** Waits for a background run, so the database is not closed under it. */
  async idle(): Promise<void> {
    await this.running;
  }
}
