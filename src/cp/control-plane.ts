// Wires every control plane component into one process:
//   store → resource manager → REST API (5681)
//                            → DataplaneSync → xDS (gRPC) + /bootstrap on the DP server port (5678)
//   diagnostics (5680)
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import type { CpConfig } from '../config/config.js';
import { isFederatedZone } from '../config/config.js';
import { openStore } from '../store/factory.js';
import type { ResourceStore } from '../store/store.js';
import { ResourceManager } from '../core/resource-manager.js';
import { buildApiServer, newInstanceId } from '../api-server/server.js';
import { registerTokenRoutes } from '../api-server/tokens.js';
import { ApiError } from '../api-server/errors.js';
import { allDescriptors } from '../api/descriptor.js';
import { dataplaneKeyFamily, ensureSigningKey } from '../auth/signing-keys.js';
import { configureTokenValidation, tokenValidationFromConfig } from '../auth/validator.js';
import { registerBootstrapRoute } from '../bootstrap/bootstrap.js';
import { DataplaneSync } from '../xds/dataplane-sync.js';
import { startXdsServer } from '../xds/server/ads-server.js';
import type { Logger } from '../observability/logger.js';
import { CpMetrics } from '../observability/metrics.js';
import { startOtlpMetricsPush } from '../observability/otel.js';
import { startDiagnostics } from './diagnostics.js';
import { MeshServiceGenerator } from '../core/mesh-service-generator.js';
import { startDpServer } from './dp-server.js';
import { startKdsClient, startKdsServer, type ZoneAuthenticator } from '../multizone/index.js';
import { authorizeZoneEntity, verifyZoneToken } from '../auth/zone-tokens.js';
import fs from 'node:fs';
import { loadDpServerCert, logDpServerTls } from './dp-server-cert.js';
import { SKEIN_VERSION } from '../version.js';
import { createInitialPolicies } from './initial-policies.js';
import { MeshCaManager, enabledCaBackend } from '../pki/index.js';
import type { MeshSpec } from '../api/kinds/mesh.js';
import { startInjector } from './injector.js';

export interface ControlPlane {
  config: CpConfig;
  store: ResourceStore;
  manager: ResourceManager;
  apiPort: number;
  dpPort: number;
  diagnosticsPort: number;
  stop(): Promise<void>;
}

export async function startControlPlane(config: CpConfig, logger: Logger): Promise<ControlPlane> {
  let ready = false;
  const metrics = new CpMetrics();
  const instanceId = newInstanceId();
  const tokenValidation = tokenValidationFromConfig(config);
  const store = await openStore({
    type: config.store.type,
    dataDir: config.store.dataDir,
    postgresUrl: config.store.postgresUrl,
    logger: logger.child({ component: 'store' }),
  });
  const closers: (() => Promise<void>)[] = [() => store.close()];
  const stop = async () => {
    ready = false;
    for (const close of closers.reverse()) {
      await close().catch((err: Error) => logger.warn({ err }, 'error during shutdown'));
    }
  };

  try {
    const manager = new ResourceManager(
      store,
      {
        mode: config.mode,
        zone: config.multizone.zone.name,
        environment: config.environment,
        unsafeDelete: config.store.unsafeDelete,
        federated: isFederatedZone(config),
        apiReadOnly: config.apiServer.readOnly,
      },
      logger.child({ component: 'resource-manager' }),
      metrics,
    );
    configureTokenValidation(store, tokenValidation);
    manager.meshHooks.push((mesh) => ensureSigningKey(store, dataplaneKeyFamily(mesh.name)));
    manager.meshHooks.push((mesh, created) => (created ? createInitialPolicies(manager, mesh, logger) : Promise.resolve()));
    const caManager = new MeshCaManager(manager, logger.child({ component: 'ca' }));
    manager.meshValidators.push(async (mesh) => {
      const spec = mesh.spec as MeshSpec;
      if (spec.mtls?.skipValidation) return [];
      const checks = (spec.mtls?.backends ?? []).map((b, i) => caManager.validateBackend(mesh.name, b, `mtls.backends[${i}]`));
      return (await Promise.all(checks)).flat();
    });
    // The builtin CA exists before any proxy asks for a certificate.
    manager.meshHooks.push((mesh) => (enabledCaBackend(mesh.spec as MeshSpec) ? caManager.ensureCa(mesh) : Promise.resolve()));
    const federated = isFederatedZone(config);
    // Standalone, global and unfederated zone CPs create mesh `default`; a federated zone gets it from global.
    if (!federated && !config.defaults.skipMeshCreation) await manager.ensureDefaultMesh();
    if (config.dpServer.auth === 'none') logger.warn('data plane authentication is off (--auth none): any process can join any mesh; use only for local demos');

    const refreshResourceCounts = async () => {
      for (const d of allDescriptors()) metrics.resources.set({ resource_type: d.name }, await store.count(d.name));
    };
    const diagnostics = await startDiagnostics({
      port: config.diagnostics.serverPort,
      host: config.diagnostics.interface,
      metrics,
      isReady: () => ready,
      beforeScrape: refreshResourceCounts,
    });
    closers.push(() => diagnostics.close());
    if (config.metrics.openTelemetry.enabled) {
      const otlp = startOtlpMetricsPush({ registry: metrics.registry, serviceInstanceId: instanceId, beforeCollect: refreshResourceCounts });
      if (otlp) {
        logger.info({ endpoint: process.env['OTEL_EXPORTER_OTLP_METRICS_ENDPOINT'] || process.env['OTEL_EXPORTER_OTLP_ENDPOINT'] }, 'pushing control plane metrics over OTLP');
        closers.push(() => otlp.shutdown());
      }
    }

    // Data plane server: xDS (gRPC on an internal loopback port) and /bootstrap behind one port.
    const sync = new DataplaneSync({ manager, logger: logger.child({ component: 'xds' }), auth: config.dpServer.auth, instanceId, caManager, zone: config.multizone.zone.name, metrics });
    sync.start();
    closers.push(() => sync.stop());
    // Zones (and standalone CPs) generate MeshServices from their own Dataplanes; global gets them by sync.
    if (config.mode !== 'global') {
      const generator = new MeshServiceGenerator(manager, logger.child({ component: 'meshservice-generator' }), config.multizone.zone.name ?? '');
      await generator.start();
      closers.push(() => generator.stop());
    }
    const xds = await startXdsServer({ port: 0, host: '127.0.0.1', cache: sync.cache, hooks: sync.hooks, logger: logger.child({ component: 'xds-server' }) });
    closers.push(() => xds.close());
    let dpPort = 0;
    const bootstrapApp = Fastify({ bodyLimit: config.apiServer.bodyLimit });
    registerBootstrapRoute(bootstrapApp, { manager, logger: logger.child({ component: 'bootstrap' }), auth: config.dpServer.auth, port: () => dpPort, zone: config.multizone.zone.name });
    await bootstrapApp.ready();
    const dpCert = await loadDpServerCert({ certFile: config.dpServer.tlsCertFile, keyFile: config.dpServer.tlsKeyFile, workDir: config.workDir, bindAddress: config.dpServer.interface, logger });
    const dpServer = await startDpServer({
      port: config.dpServer.port,
      host: config.dpServer.interface,
      bootstrapServer: bootstrapApp.server,
      grpcPort: xds.port,
      secureContext: dpCert.secureContext,
      allowPlaintext: config.dpServer.plaintext,
      logger: logger.child({ component: 'dp-server' }),
    });
    dpPort = dpServer.port;
    logDpServerTls(logger, dpCert, dpPort, config.dpServer.plaintext);
    closers.push(() => dpServer.close());
    closers.push(() => bootstrapApp.close());

    // Multi-zone sync (src/multizone): global serves KDS with the DP server's certificate; a
    // federated zone dials global. Zone-token checks plug into `authenticator` (ZoneAuthenticator).
    let kdsPort = 0;
    if (config.mode === 'global') {
      const kds = await startKdsServer({
        store,
        port: config.multizone.global.kds.grpcPort,
        host: '0.0.0.0',
        certPem: dpCert.certPem,
        keyPem: dpCert.keyPem,
        instanceId,
        logger: logger.child({ component: 'kds-server' }),
        authenticator: config.multizone.global.kds.authType === 'zoneToken' ? zoneTokenAuthenticator(store) : undefined,
        metrics,
      });
      kdsPort = kds.port;
      closers.push(() => kds.close());
    } else if (federated) {
      const kdsClient = startKdsClient({
        store,
        zone: config.multizone.zone.name,
        globalAddress: config.multizone.zone.globalAddress,
        rootCaFile: config.multizone.zone.kds.rootCaFile || undefined,
        tlsSkipVerify: config.multizone.zone.kds.tlsSkipVerify,
        authToken: zoneAuthToken(config),
        logger: logger.child({ component: 'kds-client' }),
        metrics,
      });
      closers.push(() => kdsClient.stop());
    }

    const api = await buildApiServer({
      manager,
      logger: logger.child({ component: 'api-server' }),
      metrics,
      mode: config.mode,
      federatedZone: federated,
      readOnly: config.apiServer.readOnly,
      corsAllowedDomains: config.apiServer.corsAllowedDomains,
      bodyLimit: config.apiServer.bodyLimit,
      gui: config.apiServer.gui.enabled,
      version: SKEIN_VERSION,
      instanceId,
      extensions: [
        (app) => registerTokenRoutes(app, manager),
        (app) =>
          app.get<{ Params: { mesh: string; name: string } }>('/meshes/:mesh/dataplanes/:name/xds', async (req) => {
            const dump = sync.configDump(req.params.mesh, req.params.name);
            if (!dump) throw new ApiError(404, 'Could not retrieve a resource', `no xDS configuration for ${req.params.mesh}/${req.params.name}: the proxy is not connected`);
            return dump;
          }),
      ],
    });
    await api.listen({ port: config.apiServer.http.port, host: config.apiServer.http.interface });
    closers.push(() => api.close());
    const apiPort = (api.server.address() as AddressInfo).port;

    // Kubernetes sidecar injector webhook (off unless enabled).
    let injectorPort: number | undefined;
    if (config.runtime.kubernetes.injector.enabled) {
      const injector = await startInjector(config, store, dpPort, dpCert.certPem, logger);
      injectorPort = injector.port;
      closers.push(() => injector.close());
    }

    ready = true;
    logger.info({ apiPort, dpPort, kdsPort, injectorPort, diagnosticsPort: diagnostics.port, store: config.store.type, mode: config.mode }, 'control plane ready');
    return { config, store, manager, apiPort, dpPort, diagnosticsPort: diagnostics.port, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Global side of zone authentication: a valid, unrevoked zone token with scope `cp` for that zone. */
function zoneTokenAuthenticator(store: ResourceStore): ZoneAuthenticator {
  return async (id) => {
    const claims = await verifyZoneToken(store, id.token ?? '');
    authorizeZoneEntity(claims, { zone: id.zone, scope: 'cp' });
  };
}

/** The zone token a zone CP presents to global: inline, or read from a file. */
function zoneAuthToken(config: CpConfig): string | undefined {
  const { authToken, authTokenFile } = config.multizone.zone.kds;
  if (authToken) return authToken.trim();
  if (authTokenFile) return fs.readFileSync(authTokenFile, 'utf8').trim();
  return undefined;
}
