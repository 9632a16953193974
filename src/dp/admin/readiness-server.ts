// Readiness over TCP for kubelet probes (the admin API stays on its Unix socket): GET /ready is 200
// once the first configuration is applied, 503 before. Off unless a port is given; the injector
// sets Kuma's 9902 (`KUMA_READINESS_PORT`).
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReadinessServer {
  port: number;
  close(): Promise<void>;
}

export async function startReadinessServer(port: number, host: string, isReady: () => boolean): Promise<ReadinessServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/ready' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /ready\n');
      return;
    }
    const ok = isReady();
    res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'READY\n' : 'NOT READY\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
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
