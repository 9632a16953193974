// Diagnostics server (:5680): /ready, /healthy and Prometheus /metrics.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CpMetrics } from '../observability/metrics.js';

export interface DiagnosticsServer {
  port: number;
  close(): Promise<void>;
}

export async function startDiagnostics(opts: {
  port: number;
  host: string;
  metrics: CpMetrics;
  isReady: () => boolean;
  beforeScrape?: () => Promise<void>;
}): Promise<DiagnosticsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/ready' || path === '/healthy') {
      const ok = path === '/healthy' || opts.isReady();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'OK' : 'not ready');
      return;
    }
    if (path === '/metrics') {
      (opts.beforeScrape ? opts.beforeScrape() : Promise.resolve())
        .then(() => opts.metrics.registry.metrics())
        .then((body) => res.writeHead(200, { 'content-type': opts.metrics.registry.contentType }).end(body))
        .catch((err: Error) => res.writeHead(500).end(err.message));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
