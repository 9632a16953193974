// The injector webhook: an HTTPS server answering AdmissionReview v1 requests for pods.
//   POST /inject-sidecar            the pod asked for injection (label/annotation)
//   POST /inject-sidecar/namespace  the pod's namespace is labelled kuma.io/sidecar-injection=enabled
// Anything but a Pod is admitted unchanged. Refusals carry an HTTP-like code and a message, which
// kubectl shows to the user.
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { mutatePod, type InjectorOptions, type KubernetesVersion } from './mutate.js';

export interface InjectorServerOptions {
  port: number;
  host: string;
  certPem: string;
  keyPem: string;
  /** Fixed per server (the CP's config or what the API server reported). */
  injector: Omit<InjectorOptions, 'namespace' | 'namespaceInjection' | 'meshesInNamespace' | 'kubernetesVersion'>;
  kubernetesVersion: () => KubernetesVersion | undefined;
  /** Meshes already used by pods of a namespace (store Dataplanes + pods admitted earlier). */
  meshesInNamespace?: (namespace: string) => Promise<string[]>;
  /** Told about every pod injected (not dry-run), so later checks see it. */
  onInjected?: (namespace: string, mesh: string) => void;
  logger: Logger;
}

export interface InjectorServer {
  port: number;
  close(): Promise<void>;
}

interface AdmissionRequest {
  uid?: string;
  kind?: { group?: string; version?: string; kind?: string };
  namespace?: string;
  operation?: string;
  dryRun?: boolean;
  object?: Record<string, unknown>;
}

class BadRequest extends Error {}

const MAX_BODY = 4 * 1024 * 1024;

export async function startInjectorServer(opts: InjectorServerOptions): Promise<InjectorServer> {
  const server = https.createServer({ cert: opts.certPem, key: opts.keyPem, minVersion: 'TLSv1.2' }, (req, res) => {
    const send = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/inject-sidecar' && path !== '/inject-sidecar/namespace') return send(404, { error: `not found: POST /inject-sidecar or /inject-sidecar/namespace` });
    if (req.method !== 'POST') return send(405, { error: 'use POST with an AdmissionReview' });
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      review(Buffer.concat(chunks).toString('utf8'), path === '/inject-sidecar/namespace').then(
        (body) => send(200, body),
        (err: Error) => {
          if (err instanceof BadRequest) return send(400, { error: err.message });
          opts.logger.error({ err }, 'injector failed');
          send(500, { error: err.message });
        },
      );
    });
  });

  async function review(text: string, namespaceInjection: boolean): Promise<unknown> {
    let doc: { apiVersion?: string; kind?: string; request?: AdmissionRequest };
    try {
      doc = JSON.parse(text) as typeof doc;
    } catch (err) {
      throw new BadRequest(`body is not JSON: ${(err as Error).message}`);
    }
    if (doc.apiVersion !== 'admission.k8s.io/v1' || doc.kind !== 'AdmissionReview') throw new BadRequest('expected an admission.k8s.io/v1 AdmissionReview');
    const request = doc.request;
    if (!request?.uid) throw new BadRequest('request.uid is required');
    const reply = (response: Record<string, unknown>) => ({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: request.uid, ...response } });
    const isPod = request.kind?.kind === 'Pod' && (request.kind.group ?? '') === '';
    if (!isPod || request.operation !== 'CREATE' || !request.object) return reply({ allowed: true });

    const namespace = request.namespace || String((request.object['metadata'] as Record<string, unknown> | undefined)?.['namespace'] ?? 'default');
    const result = mutatePod(request.object, {
      ...opts.injector,
      namespace,
      namespaceInjection,
      kubernetesVersion: opts.kubernetesVersion(),
      meshesInNamespace: opts.injector.disallowMultipleMeshesPerNamespace && opts.meshesInNamespace ? await opts.meshesInNamespace(namespace) : [],
    });
    if (!result.allowed) {
      opts.logger.info({ namespace, code: result.code, message: result.message }, 'pod refused');
      return reply({ allowed: false, status: { code: result.code, message: result.message } });
    }
    if (!result.injected) return reply({ allowed: true });
    if (!request.dryRun && !result.zoneProxy) opts.onInjected?.(namespace, result.mesh);
    opts.logger.debug({ namespace, mesh: result.mesh, native: result.native }, 'sidecar injected');
    return reply({ allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(result.patch)).toString('base64') });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
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
