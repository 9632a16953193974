// The data plane admin API, served only on a Unix domain socket (mode 0600) in the work dir: no TCP,
// so only the proxy's own user can reach it.
import fs from 'node:fs';
import http from 'node:http';
import type { Engine } from '../engine/engine.js';
import { applicationsOf, scrapeApplications } from './applications.js';
import { configDump } from './config-dump.js';
import { clustersText, statsPrometheus, statsQuery, statsText, type StatsQuery } from './stats-format.js';

export const ADMIN_SOCKET_NAME = 'skein-dp-admin.sock';

export interface AdminServer {
  readonly socketPath: string;
  close(): Promise<void>;
}

/** `isReady` decides /ready; by default, whether the engine has applied a config. */
export async function startAdminServer(socketPath: string, engine: Engine, isReady: () => boolean = () => engine.ready): Promise<AdminServer> {
  const server = http.createServer((req, res) => handle(engine, isReady, req, res));
  removeStaleSocket(socketPath);
  // Bind under a temporary name and rename once restricted, so the socket is never reachable with looser permissions.
  const tmpPath = `${socketPath}.${process.pid}.tmp`;
  removeStaleSocket(tmpPath);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(tmpPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  fs.chmodSync(tmpPath, 0o600);
  fs.renameSync(tmpPath, socketPath);
  return {
    socketPath,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          removeStaleSocket(socketPath);
          resolve();
        });
      }),
  };
}

function removeStaleSocket(path: string): void {
  try {
    if (fs.lstatSync(path).isSocket()) fs.unlinkSync(path);
  } catch {
    // Not there: nothing to remove.
  }
}

function handle(engine: Engine, isReady: () => boolean, req: http.IncomingMessage, res: http.ServerResponse): void {
  // Split by hand: URL parsing would resolve `..` segments, and a MeshMetric listener forwards a
  // scraper's path suffix here (`/metrics/../../config_dump` → `/stats/prometheus/../../config_dump`).
  const raw = req.url ?? '/';
  const q = raw.indexOf('?');
  const url = { pathname: q < 0 ? raw : raw.slice(0, q), searchParams: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)) };
  const send = (status: number, type: string, body: string): void => {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  let query: StatsQuery;
  try {
    query = statsQuery(url.searchParams);
  } catch (err) {
    send(400, 'text/plain', `invalid filter: ${(err as Error).message}\n`);
    return;
  }
  switch (url.pathname) {
    case '/ready':
      if (isReady()) send(200, 'text/plain', 'LIVE\n');
      else send(503, 'text/plain', 'PRE_INITIALIZING\n');
      return;
    case '/config_dump':
      send(200, 'application/json', JSON.stringify(configDump(engine), null, 2));
      return;
    case '/stats':
      if (url.searchParams.get('format') === 'prometheus') send(200, 'text/plain; version=0.0.4', statsPrometheus(engine.stats.all(), query));
      else send(200, 'text/plain', statsText(engine.stats.all(), query));
      return;
    case '/stats/prometheus': {
      const own = statsPrometheus(engine.stats.all(), query);
      // `applications` (MeshMetric's Prometheus route): the applications' own metrics follow.
      const apps = url.searchParams.has('applications') ? applicationsOf(engine) : [];
      if (apps.length === 0) send(200, 'text/plain; version=0.0.4', own);
      else void scrapeApplications(apps).then((text) => send(200, 'text/plain; version=0.0.4', own + text));
      return;
    }
    case '/clusters':
      send(200, 'text/plain', clustersText(engine));
      return;
    default:
      send(404, 'text/plain', 'not found: try /ready, /config_dump, /stats, /stats/prometheus, /clusters\n');
  }
}
