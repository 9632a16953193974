// The SQL store shared by the embedded (PGlite) and PostgreSQL backends. Both speak the same SQL;
// each backend only supplies a SqlDriver and, for PostgreSQL, cross-replica change events.
import { nowRfc3339, type Resource, type ResourceKey } from '../api/resource.js';
import type { ChangeFeed } from './change-feed.js';
import {
  AlreadyExistsError,
  ConflictError,
  NotFoundError,
  type ChangeKind,
  type ChangeListener,
  type CreateRequest,
  type ListOptions,
  type ResourceStore,
  type UpdateRequest,
} from './store.js';
import { normalizeTime } from './times.js';

/** A statement with a stable name so drivers that can prepare it once per connection do so. */
export interface SqlQuery {
  name: string;
  text: string;
  values: unknown[];
}

export interface SqlSession {
  query<R>(q: SqlQuery): Promise<R[]>;
}

export interface SqlDriver extends SqlSession {
  transaction<T>(fn: (tx: SqlSession) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Channel of the NOTIFY sent (by a trigger) for every committed change of `resources`. */
export const CHANGE_CHANNEL = 'skein_resource_changes';

/** Arbitrary constant that serializes migrations of CPs starting at once against one database. */
const MIGRATION_LOCK_ID = 727_014_746;

export type SqlBackend = 'embedded' | 'postgres';

interface Migration {
  version: number;
  statements: string[];
  /** Applied only by this backend (the embedded store has no other replica to notify). */
  only?: SqlBackend;
}

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    statements: [
      `CREATE TABLE resources (
         type text NOT NULL,
         mesh text COLLATE "C" NOT NULL,
         name text COLLATE "C" NOT NULL,
         version integer NOT NULL,
         labels jsonb NOT NULL,
         spec jsonb NOT NULL,
         status jsonb,
         creation_time timestamptz NOT NULL,
         modification_time timestamptz NOT NULL,
         PRIMARY KEY (type, mesh, name)
       )`,
      `CREATE INDEX resources_type_mesh ON resources (type, mesh)`,
    ],
  },
  {
    version: 2,
    only: 'postgres',
    statements: [
      // The origin (application_name of the writer's connection) lets a replica skip its own events,
      // which it already delivered locally.
      `CREATE FUNCTION skein_notify_resource_change() RETURNS trigger LANGUAGE plpgsql AS $$
       DECLARE
         r resources%ROWTYPE;
       BEGIN
         IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
         PERFORM pg_notify('${CHANGE_CHANNEL}', json_build_object(
           'kind', CASE TG_OP WHEN 'INSERT' THEN 'create' WHEN 'UPDATE' THEN 'update' ELSE 'delete' END,
           'type', r.type, 'mesh', r.mesh, 'name', r.name,
           'origin', current_setting('application_name'))::text);
         RETURN NULL;
       END $$`,
      `CREATE TRIGGER resources_notify AFTER INSERT OR UPDATE OR DELETE ON resources
       FOR EACH ROW EXECUTE FUNCTION skein_notify_resource_change()`,
    ],
  },
];

/** Applies pending migrations in one transaction; concurrent callers wait on an advisory lock. */
export async function migrate(driver: SqlDriver, backend: SqlBackend): Promise<number[]> {
  return driver.transaction(async (tx) => {
    await tx.query({ name: '', text: `SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_ID})`, values: [] });
    await tx.query({
      name: '',
      text: `CREATE TABLE IF NOT EXISTS schema_migrations (
               version integer PRIMARY KEY,
               applied_at timestamptz NOT NULL DEFAULT now())`,
      values: [],
    });
    const rows = await tx.query<{ version: number }>({
      name: '',
      text: 'SELECT version FROM schema_migrations',
      values: [],
    });
    const applied = new Set(rows.map((r) => r.version));
    const ran: number[] = [];
    for (const m of MIGRATIONS) {
      if (applied.has(m.version) || (m.only && m.only !== backend)) continue;
      for (const text of m.statements) await tx.query({ name: '', text, values: [] });
      await tx.query({ name: '', text: 'INSERT INTO schema_migrations (version) VALUES ($1)', values: [m.version] });
      ran.push(m.version);
    }
    return ran;
  });
}

interface ResourceRow {
  type: string;
  mesh: string;
  name: string;
  version: number;
  labels: Record<string, string>;
  spec: Record<string, unknown>;
  status: Record<string, unknown> | null;
  creation_time: Date | string;
  modification_time: Date | string;
}

const COLUMNS = 'type, mesh, name, version, labels, spec, status, creation_time, modification_time';
const KEY_MATCH = 'type = $1 AND mesh = $2 AND name = $3';

const INSERT: Omit<SqlQuery, 'values'> = {
  name: 'skein_resource_insert',
  text: `INSERT INTO resources (${COLUMNS})
         VALUES ($1, $2, $3, 1, $4::jsonb, $5::jsonb, $6::jsonb, $7::timestamptz, $8::timestamptz)
         ON CONFLICT (type, mesh, name) DO NOTHING
         RETURNING ${COLUMNS}`,
};

const UPDATE: Omit<SqlQuery, 'values'> = {
  name: 'skein_resource_update',
  text: `UPDATE resources
         SET version = version + 1, labels = $5::jsonb, spec = $6::jsonb, status = $7::jsonb,
             creation_time = COALESCE($8::timestamptz, creation_time), modification_time = $9::timestamptz
         WHERE ${KEY_MATCH} AND version = $4::integer
         RETURNING ${COLUMNS}`,
};

const DELETE: Omit<SqlQuery, 'values'> = {
  name: 'skein_resource_delete',
  text: `DELETE FROM resources WHERE ${KEY_MATCH} AND ($4::integer IS NULL OR version = $4::integer)
         RETURNING version`,
};

const GET: Omit<SqlQuery, 'values'> = {
  name: 'skein_resource_get',
  text: `SELECT ${COLUMNS} FROM resources WHERE ${KEY_MATCH}`,
};

const GET_VERSION: Omit<SqlQuery, 'values'> = {
  name: 'skein_resource_get_version',
  text: `SELECT version FROM resources WHERE ${KEY_MATCH}`,
};

export interface SqlStoreHooks {
  /** Called after each successful write. */
  afterWrite?(): void;
  /** Called on close before the driver closes. */
  beforeClose?(): Promise<void>;
  /** Releases, after the driver closed, what else the backend holds (lock files). */
  afterClose?(): Promise<void>;
}

export class SqlResourceStore implements ResourceStore {
  /**
   * @param driver executes statements (already migrated).
   * @param feed local watchers; writes through this store are published to it after they commit.
   */
  constructor(
    private readonly driver: SqlDriver,
    private readonly feed: ChangeFeed,
    private readonly hooks: SqlStoreHooks = {},
  ) {}

  async create(req: CreateRequest): Promise<Resource> {
    const now = nowRfc3339();
    const rows = await this.driver.query<ResourceRow>({
      ...INSERT,
      values: [
        req.type,
        req.mesh,
        req.name,
        JSON.stringify(req.labels),
        JSON.stringify(req.spec),
        jsonOrNull(req.status),
        req.creationTime ? normalizeTime(req.creationTime) : now,
        now,
      ],
    });
    if (rows.length === 0) throw new AlreadyExistsError(keyOf(req));
    this.published('create', req);
    return toResource(rows[0]);
  }

  async update(req: UpdateRequest): Promise<Resource> {
    const rows = await this.driver.query<ResourceRow>({
      ...UPDATE,
      values: [
        req.type,
        req.mesh,
        req.name,
        req.version,
        JSON.stringify(req.labels),
        JSON.stringify(req.spec),
        jsonOrNull(req.status),
        req.creationTime ? normalizeTime(req.creationTime) : null,
        nowRfc3339(),
      ],
    });
    if (rows.length === 0) throw await this.missingOrConflict(req);
    this.published('update', req);
    return toResource(rows[0]);
  }

  async delete(key: ResourceKey, opts: { version?: number } = {}): Promise<void> {
    const rows = await this.driver.query({
      ...DELETE,
      values: [key.type, key.mesh, key.name, opts.version ?? null],
    });
    if (rows.length === 0) throw await this.missingOrConflict(key);
    this.published('delete', key);
  }

  async get(key: ResourceKey): Promise<Resource | undefined> {
    const rows = await this.driver.query<ResourceRow>({ ...GET, values: [key.type, key.mesh, key.name] });
    return rows.length > 0 ? toResource(rows[0]) : undefined;
  }

  async list(type: string, opts?: ListOptions): Promise<Resource[]> {
    // mesh and name use the "C" collation: code point order, as the memory store's string
    // comparison, and the primary key index already returns rows in that order.
    const rows = await this.driver.query<ResourceRow>(
      filteredQuery(`SELECT ${COLUMNS} FROM resources`, 'ORDER BY mesh, name', 'list', type, opts),
    );
    return rows.map(toResource);
  }

  async count(type: string, opts?: ListOptions): Promise<number> {
    const rows = await this.driver.query<{ n: number }>(
      filteredQuery('SELECT count(*)::integer AS n FROM resources', '', 'count', type, opts),
    );
    return rows[0].n;
  }

  watch(listener: ChangeListener): () => void {
    return this.feed.subscribe(listener);
  }

  async close(): Promise<void> {
    this.feed.clear();
    await this.hooks.beforeClose?.();
    await this.driver.close();
    await this.hooks.afterClose?.();
  }

  private published(kind: ChangeKind, key: ResourceKey): void {
    this.hooks.afterWrite?.();
    this.feed.publish({ kind, ...keyOf(key) });
  }

  /** After a guarded write touched no row: was the row missing, or at another version? */
  private async missingOrConflict(key: ResourceKey): Promise<Error> {
    const rows = await this.driver.query({ ...GET_VERSION, values: [key.type, key.mesh, key.name] });
    return rows.length === 0 ? new NotFoundError(keyOf(key)) : new ConflictError(keyOf(key));
  }
}

/** Builds a list/count query; the statement name encodes which filters are present. */
function filteredQuery(
  head: string,
  tail: string,
  purpose: string,
  type: string,
  opts: ListOptions | undefined,
): SqlQuery {
  const values: unknown[] = [type];
  const where = ['type = $1'];
  let shape = '';
  if (opts?.mesh !== undefined) {
    values.push(opts.mesh);
    where.push(`mesh = $${values.length}`);
    shape += 'm';
  }
  if (opts?.labels && Object.keys(opts.labels).length > 0) {
    values.push(JSON.stringify(opts.labels));
    where.push(`labels @> $${values.length}::jsonb`);
    shape += 'l';
  }
  if (opts?.nameContains) {
    values.push(opts.nameContains);
    where.push(`strpos(name, $${values.length}) > 0`);
    shape += 'n';
  }
  return {
    name: `skein_resource_${purpose}_${shape || 'all'}`,
    text: `${head} WHERE ${where.join(' AND ')} ${tail}`,
    values,
  };
}

function toResource(row: ResourceRow): Resource {
  return {
    type: row.type,
    mesh: row.mesh,
    name: row.name,
    labels: row.labels,
    creationTime: normalizeTime(row.creation_time),
    modificationTime: normalizeTime(row.modification_time),
    version: row.version,
    spec: row.spec,
    ...(row.status !== null && { status: row.status }),
  };
}

function jsonOrNull(value: Record<string, unknown> | undefined): string | null {
  return value === undefined ? null : JSON.stringify(value);
}

function keyOf(k: ResourceKey): ResourceKey {
  return { type: k.type, mesh: k.mesh, name: k.name };
}
