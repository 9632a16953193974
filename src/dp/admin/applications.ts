// MeshMetric `applications`: the metrics an application serves itself, appended to the proxy's own
// in a Prometheus scrape (kuma-dp's merge). The list is the control plane's: the filter metadata
// `io.skein.meshmetric.applications` of an applied cluster (the admin cluster of the Prometheus
// listener), never anything from the request.
import http from 'node:http';
import type { Engine } from '../engine/engine.js';
import { structToJson } from '../engine/proto-values.js';
import { OTEL_METADATA_KEY } from './otel-push.js';

export interface Application {
  name?: string;
  address: string;
  port: number;
  path: string;
}

const SCRAPE_TIMEOUT_MS = 5_000;

/** The applications of the applied config. */
export function applicationsOf(engine: Engine): Application[] {
  for (const c of engine.currentResources().clusters) {
    const md = (c.metadata as { filter_metadata?: Record<string, unknown> } | undefined)?.filter_metadata?.[OTEL_METADATA_KEY];
    const apps = md ? (structToJson(md) as { applications?: Application[] }).applications : undefined;
    if (apps?.length) return apps.filter((a) => a.address && a.port > 0);
  }
  return [];
}

/** What the applications serve, concatenated; one that fails or times out is left out with a comment. */
export async function scrapeApplications(apps: readonly Application[]): Promise<string> {
  const texts = await Promise.all(apps.map((a) => get(a).catch((err: Error) => `# application ${a.name ?? `${a.address}:${a.port}`}: ${err.message}\n`)));
  return texts.map((t) => (t.endsWith('\n') || t === '' ? t : `${t}\n`)).join('');
}

function get(app: Application): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: app.address, port: app.port, path: app.path, timeout: SCRAPE_TIMEOUT_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode ?? 0}`))));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}
