// Opens the store the configuration names. The one place that knows all backends.
import type { StoreLogger } from './change-feed.js';
import { openEmbeddedStore } from './embedded.js';
import { MemoryStore } from './memory.js';
import { openPostgresStore } from './postgres.js';
import type { ResourceStore } from './store.js';

export type { StoreLogger } from './change-feed.js';

export type StoreType = 'memory' | 'embedded' | 'postgres';

export interface StoreConfig {
  type: StoreType;
  /** Embedded: directory of the database, created if missing. */
  dataDir?: string;
  /** PostgreSQL: postgres://user:password@host:port/database */
  postgresUrl?: string;
  logger?: StoreLogger;
}

export async function openStore(cfg: StoreConfig): Promise<ResourceStore> {
  switch (cfg.type) {
    case 'memory':
      return new MemoryStore({ logger: cfg.logger });
    case 'embedded':
      if (!cfg.dataDir) throw new Error('embedded store needs a data directory (dataDir)');
      return openEmbeddedStore({ dataDir: cfg.dataDir, logger: cfg.logger });
    case 'postgres':
      if (!cfg.postgresUrl) throw new Error('postgres store needs a connection URL (postgresUrl)');
      return openPostgresStore({ url: cfg.postgresUrl, logger: cfg.logger });
    default:
      throw new Error(`unknown store type: ${String((cfg as { type: unknown }).type)}`);
  }
}
