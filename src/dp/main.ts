// `skein dp run`: the data plane process. Flags follow kuma-dp's names.
import './v8-flags.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import pino from 'pino';
import { runDataplane } from './agent/agent.js';
import { PROXY_TYPES, type ProxyType } from './agent/bootstrap-client.js';

interface DpFlags {
  cpAddress: string;
  mesh?: string;
  name?: string;
  dataplaneFile?: string;
  dataplane?: string;
  dataplaneVar: string[];
  proxyType: string;
  dataplaneTokenFile?: string;
  dataplaneToken?: string;
  workDir?: string;
  caCertFile?: string;
  caCert?: string;
  readinessPort?: string;
  metricsCertPath?: string;
  metricsKeyPath?: string;
  readinessAddress: string;
  logLevel: string;
  progress: boolean;
}

/** `{{ key }}` placeholders in the Dataplane template, as kuma-dp's --dataplane-var. */
function renderTemplate(text: string, vars: string[]): string {
  const values = new Map(vars.map((v) => [v.slice(0, v.indexOf('=')), v.slice(v.indexOf('=') + 1)] as const));
  return text.replace(/\{\{\s*([\w.-]+)\s*\}\}/g, (m, key: string) => values.get(key) ?? m);
}

export async function runDp(argv: string[]): Promise<void> {
  const program = new Command('skein dp').description('Skein data plane');
  program.exitOverride();
  program
    .command('run')
    .description('run a data plane proxy configured by the control plane')
    .option(
      '--cp-address <url>',
      'control plane DP server URL, https:// (http:// only for a control plane run with --dp-server-plaintext) (env KUMA_CONTROL_PLANE_URL, SKEIN_CONTROL_PLANE_URL)',
      process.env['KUMA_CONTROL_PLANE_URL'] ?? process.env['SKEIN_CONTROL_PLANE_URL'] ?? 'https://localhost:5678',
    )
    .option('--mesh <mesh>', 'mesh of the proxy (env KUMA_DATAPLANE_MESH)', process.env['KUMA_DATAPLANE_MESH'])
    .option('--name <name>', 'name of the Dataplane (env KUMA_DATAPLANE_NAME)', process.env['KUMA_DATAPLANE_NAME'])
    .option('-d, --dataplane-file <file>', 'Dataplane resource (YAML/JSON) to register (env KUMA_DATAPLANE_RUNTIME_RESOURCE_PATH)', process.env['KUMA_DATAPLANE_RUNTIME_RESOURCE_PATH'])
    .option('--dataplane <yaml>', 'Dataplane resource inline')
    .option('-v, --dataplane-var <k=v>', 'value for a {{ k }} placeholder in the Dataplane (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option(
      '--proxy-type <type>',
      'dataplane (sidecar or mesh-scoped zone proxy), or a legacy global-scoped ingress | egress: -d is then a ZoneIngress | ZoneEgress and the token a zone token (env KUMA_DATAPLANE_PROXY_TYPE)',
      process.env['KUMA_DATAPLANE_PROXY_TYPE'] ?? 'dataplane',
    )
    .option('--dataplane-token-file <file>', 'dataplane token file (env KUMA_DATAPLANE_RUNTIME_TOKEN_PATH)', process.env['KUMA_DATAPLANE_RUNTIME_TOKEN_PATH'])
    .option('--dataplane-token <token>', 'dataplane token inline (env KUMA_DATAPLANE_RUNTIME_TOKEN)', process.env['KUMA_DATAPLANE_RUNTIME_TOKEN'])
    .option('--work-dir <dir>', 'working directory (admin socket) (env SKEIN_DP_WORK_DIR)', process.env['SKEIN_DP_WORK_DIR'])
    .option(
      '--ca-cert-file <file>',
      'CA certificate that signed the control plane certificate; for a generated one, <cp work dir>/dp-server.crt. Without it the certificate is not verified (env KUMA_CONTROL_PLANE_CA_CERT_FILE, SKEIN_CONTROL_PLANE_CA_CERT_FILE)',
      process.env['KUMA_CONTROL_PLANE_CA_CERT_FILE'] ?? process.env['SKEIN_CONTROL_PLANE_CA_CERT_FILE'],
    )
    .option('--ca-cert <pem>', 'the CA certificate itself (PEM), when there is no file (env KUMA_CONTROL_PLANE_CA_CERT, SKEIN_CONTROL_PLANE_CA_CERT)', process.env['KUMA_CONTROL_PLANE_CA_CERT'] ?? process.env['SKEIN_CONTROL_PLANE_CA_CERT'])
    .option('--readiness-port <port>', 'serve GET /ready on this TCP port for Kubernetes probes; 0 = any free port; unset = off (env KUMA_READINESS_PORT, SKEIN_DP_READINESS_PORT; the injector sets 9902)', process.env['KUMA_READINESS_PORT'] ?? process.env['SKEIN_DP_READINESS_PORT'])
    .option('--readiness-address <address>', 'bind address of the readiness endpoint (env SKEIN_DP_READINESS_ADDRESS)', process.env['SKEIN_DP_READINESS_ADDRESS'] ?? '0.0.0.0')
    .option('--metrics-cert-path <file>', 'certificate (PEM) of the MeshMetric Prometheus listener with tls.mode ProvidedTLS (env KUMA_DATAPLANE_RUNTIME_METRICS_CERT_PATH)', process.env['KUMA_DATAPLANE_RUNTIME_METRICS_CERT_PATH'])
    .option('--metrics-key-path <file>', 'its private key (PEM) (env KUMA_DATAPLANE_RUNTIME_METRICS_KEY_PATH)', process.env['KUMA_DATAPLANE_RUNTIME_METRICS_KEY_PATH'])
    .option('--log-level <level>', 'log level', process.env['SKEIN_LOG_LEVEL'] ?? 'info')
    .option('--no-progress', 'do not print progress lines (what the proxy waits for) on stdout; logs go to stderr either way')
    .action(async (flags: DpFlags) => {
      const logger = pino({ level: flags.logLevel, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: true }));
      let dataplaneYaml: string | undefined = flags.dataplane;
      if (flags.dataplaneFile) dataplaneYaml = fs.readFileSync(flags.dataplaneFile, 'utf8');
      if (dataplaneYaml) dataplaneYaml = renderTemplate(dataplaneYaml, flags.dataplaneVar);
      if (dataplaneYaml && (flags.name || flags.mesh)) {
        logger.warn('--name/--mesh are ignored: the Dataplane resource names the proxy');
      }
      if (!(PROXY_TYPES as readonly string[]).includes(flags.proxyType)) {
        throw new Error(`--proxy-type: "${flags.proxyType}" is not supported, expected one of ${PROXY_TYPES.join(', ')}`);
      }
      let readinessPort: number | undefined;
      if (flags.readinessPort !== undefined && flags.readinessPort !== '') {
        readinessPort = Number(flags.readinessPort);
        if (!Number.isInteger(readinessPort) || readinessPort < 0 || readinessPort > 65535) throw new Error(`--readiness-port: "${flags.readinessPort}" is not a port (0-65535)`);
      }
      const workDir = flags.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'skein-dp-'));
      fs.mkdirSync(workDir, { recursive: true, mode: 0o711 });
      const dp = await runDataplane({
        cpAddress: flags.cpAddress,
        mesh: flags.mesh,
        name: flags.name,
        dataplaneYaml,
        proxyType: flags.proxyType as ProxyType,
        token: flags.dataplaneToken,
        tokenFile: flags.dataplaneTokenFile,
        workDir,
        caCertFile: flags.caCertFile,
        caCertPem: flags.caCert,
        readinessPort,
        readinessAddress: flags.readinessAddress,
        ...(flags.metricsCertPath && flags.metricsKeyPath ? { metricsCertPath: path.resolve(flags.metricsCertPath), metricsKeyPath: path.resolve(flags.metricsKeyPath) } : {}),
        logger,
        progress: flags.progress ? (line) => process.stdout.write(`${line}\n`) : undefined,
      });
      let stopping = false;
      const shutdown = (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, 'stopping data plane');
        // Draining is bounded: a stuck upstream must not keep the process from exiting.
        setTimeout(() => process.exit(0), 10_000).unref();
        dp.stop().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      // A refusal that retrying cannot fix (bad token, invalid Dataplane) ends the process.
      dp.ready.catch(() => {
        void dp.stop().finally(() => process.exit(1));
      });
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGINT', () => shutdown('SIGINT'));
    });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code?.startsWith('commander.')) process.exit((err as { exitCode?: number }).exitCode ?? 1);
    process.stderr.write(`Error: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
