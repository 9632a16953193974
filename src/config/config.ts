// One typed configuration object for `skein cp run`: defaults < config file < environment < flags.
// Every port, address and directory has a key, a Kuma-compatible env var (KUMA_*), a SKEIN_* alias
// and a flag, so several control planes can run side by side on one machine.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';

export type CpMode = 'standalone' | 'global' | 'zone';
export type StoreType = 'memory' | 'embedded' | 'postgres';

export interface CpConfig {
  mode: CpMode;
  environment: 'universal' | 'kubernetes';
  logLevel: string;
  apiServer: {
    http: { port: number; interface: string };
    corsAllowedDomains: string[];
    readOnly: boolean;
    /** Largest accepted request body in bytes. */
    bodyLimit: number;
    /** User tokens: offline-signing public keys (`<kid>=<file>`); publicKeysOnly = ignore stored signing keys. */
    userTokenValidator: TokenValidatorConfig;
    /** Serve the web GUI at /gui (Kuma's apiServer.gui.enabled). */
    gui: { enabled: boolean };
  };
  dpServer: {
    port: number;
    interface: string;
    /** How data planes authenticate: dataplane tokens, or `none` for local demos. */
    auth: 'dpToken' | 'none';
    /** PEM certificate (chain) and key the DP server presents; both empty = generated in workDir. */
    tlsCertFile: string;
    tlsKeyFile: string;
    /** Also accept plaintext (HTTP bootstrap, h2c xDS) next to TLS: local demos and benchmarks only. */
    plaintext: boolean;
    /** Dataplane tokens: offline-signing public keys (`<kid>=<file>`); publicKeysOnly = ignore stored signing keys. */
    dpTokenValidator: TokenValidatorConfig;
  };
  diagnostics: { serverPort: number; interface: string };
  /** Push the /metrics registry over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set (observability/otel.ts). */
  metrics: { openTelemetry: { enabled: boolean } };
  multizone: {
    /** authType `zoneToken`: zone CPs must present a zone token with scope `cp` for their zone. */
    global: { kds: { grpcPort: number; authType: 'none' | 'zoneToken' } };
    zone: {
      name: string;
      globalAddress: string;
      /** Multi-zone sync client: CA (PEM) that signed global's KDS certificate, skip verification, zone token. */
      kds: { rootCaFile: string; tlsSkipVerify: boolean; authToken: string; authTokenFile: string };
    };
    /** Zone tokens: offline-signing public keys (`<kid>=<file>`); publicKeysOnly = ignore stored signing keys. */
    zoneTokenValidator: TokenValidatorConfig;
  };
  store: {
    type: StoreType;
    dataDir: string;
    postgresUrl: string;
    unsafeDelete: boolean;
  };
  defaults: { skipMeshCreation: boolean };
  /** Where the CP keeps generated files (certificates, keys). */
  workDir: string;
  /** Kubernetes: the sidecar injector webhook (src/injector, docs/kubernetes.md). */
  runtime: { kubernetes: KubernetesRuntimeConfig };
}

export interface KubernetesRuntimeConfig {
  /** Cluster version (`1.30`) deciding native vs classic sidecars; empty = ask the API server when in a cluster. */
  serverVersion: string;
  /** Refuse pods that would put a second mesh into a namespace. */
  disallowMultipleMeshesPerNamespace: boolean;
  injector: {
    enabled: boolean;
    port: number;
    interface: string;
    /** Webhook server certificate and key (PEM); both empty = a CA and certificate generated in workDir. */
    certFile: string;
    keyFile: string;
    /** CA the injected sidecars verify the DP server with; empty = the DP server certificate itself (self-signed). */
    caCertFile: string;
    sidecarImage: string;
    /** DP server URL given to sidecars; empty = https://<host name>:<DP server port>. */
    controlPlaneUrl: string;
  };
}

/** Kuma's `validator.{publicKeys, useSecrets}`, with `useSecrets: false` spelled `publicKeysOnly: true`. */
export interface TokenValidatorConfig {
  publicKeys: string[];
  publicKeysOnly: boolean;
}

export function defaultConfig(): CpConfig {
  const home = os.homedir();
  return {
    mode: 'standalone',
    environment: 'universal',
    logLevel: 'info',
    apiServer: {
      http: { port: 5681, interface: '0.0.0.0' },
      corsAllowedDomains: [],
      readOnly: false,
      bodyLimit: 1024 * 1024,
      userTokenValidator: { publicKeys: [], publicKeysOnly: false },
      gui: { enabled: true },
    },
    dpServer: { port: 5678, interface: '0.0.0.0', auth: 'dpToken', tlsCertFile: '', tlsKeyFile: '', plaintext: false, dpTokenValidator: { publicKeys: [], publicKeysOnly: false } },
    diagnostics: { serverPort: 5680, interface: '0.0.0.0' },
    metrics: { openTelemetry: { enabled: true } },
    multizone: {
      global: { kds: { grpcPort: 5685, authType: 'none' } },
      zone: { name: '', globalAddress: '', kds: { rootCaFile: '', tlsSkipVerify: false, authToken: '', authTokenFile: '' } },
      zoneTokenValidator: { publicKeys: [], publicKeysOnly: false },
    },
    store: {
      type: 'embedded',
      dataDir: path.join(home, '.skein', 'data'),
      postgresUrl: 'postgres://postgres@127.0.0.1:5432/skein',
      unsafeDelete: false,
    },
    defaults: { skipMeshCreation: false },
    workDir: path.join(home, '.skein', 'cp'),
    runtime: {
      kubernetes: {
        serverVersion: '',
        disallowMultipleMeshesPerNamespace: false,
        injector: { enabled: false, port: 5443, interface: '0.0.0.0', certFile: '', keyFile: '', caCertFile: '', sidecarImage: 'docker.io/skeinmesh/skein:latest', controlPlaneUrl: '' },
      },
    },
  };
}

type Kind = 'string' | 'number' | 'boolean' | 'list';

/** A setting: its dotted key in the config object, env vars (first wins) and CLI flag. */
interface Setting {
  key: string;
  kind: Kind;
  env: string[];
  flag?: string;
  description: string;
}

export const SETTINGS: Setting[] = [
  { key: 'mode', kind: 'string', env: ['SKEIN_MODE', 'KUMA_MODE'], flag: 'mode', description: 'standalone | global | zone' },
  { key: 'environment', kind: 'string', env: ['SKEIN_ENVIRONMENT', 'KUMA_ENVIRONMENT'], description: 'universal | kubernetes' },
  { key: 'logLevel', kind: 'string', env: ['SKEIN_LOG_LEVEL', 'KUMA_LOG_LEVEL'], flag: 'log-level', description: 'pino log level' },
  { key: 'apiServer.http.port', kind: 'number', env: ['SKEIN_API_SERVER_HTTP_PORT', 'KUMA_API_SERVER_HTTP_PORT'], flag: 'api-port', description: 'REST API and GUI port' },
  { key: 'apiServer.http.interface', kind: 'string', env: ['SKEIN_API_SERVER_HTTP_INTERFACE', 'KUMA_API_SERVER_HTTP_INTERFACE'], flag: 'api-address', description: 'REST API bind address' },
  { key: 'apiServer.corsAllowedDomains', kind: 'list', env: ['SKEIN_API_SERVER_CORS_ALLOWED_DOMAINS', 'KUMA_API_SERVER_CORS_ALLOWED_DOMAINS'], flag: 'cors-allowed-domains', description: 'comma-separated origins (domain or /regexp/)' },
  { key: 'apiServer.readOnly', kind: 'boolean', env: ['SKEIN_API_SERVER_READ_ONLY', 'KUMA_API_SERVER_READ_ONLY'], description: 'reject writes over the API' },
  { key: 'apiServer.gui.enabled', kind: 'boolean', env: ['SKEIN_API_SERVER_GUI_ENABLED', 'KUMA_API_SERVER_GUI_ENABLED'], description: 'serve the web GUI at /gui on the API port' },
  { key: 'apiServer.bodyLimit', kind: 'number', env: ['SKEIN_API_SERVER_BODY_LIMIT'], description: 'max request body bytes' },
  { key: 'dpServer.port', kind: 'number', env: ['SKEIN_DP_SERVER_PORT', 'KUMA_DP_SERVER_PORT'], flag: 'dp-port', description: 'data plane server port (bootstrap + xDS)' },
  { key: 'dpServer.interface', kind: 'string', env: ['SKEIN_DP_SERVER_INTERFACE'], flag: 'dp-address', description: 'data plane server bind address' },
  { key: 'dpServer.auth', kind: 'string', env: ['SKEIN_DP_SERVER_AUTH', 'KUMA_DP_SERVER_AUTHN_DP_PROXY_TYPE'], flag: 'auth', description: 'dpToken | none (no data plane authentication: local demos only)' },
  { key: 'dpServer.tlsCertFile', kind: 'string', env: ['SKEIN_DP_SERVER_TLS_CERT_FILE', 'KUMA_DP_SERVER_TLS_CERT_FILE'], flag: 'dp-server-tls-cert-file', description: 'PEM certificate of the data plane server (default: generated in the work dir)' },
  { key: 'dpServer.tlsKeyFile', kind: 'string', env: ['SKEIN_DP_SERVER_TLS_KEY_FILE', 'KUMA_DP_SERVER_TLS_KEY_FILE'], flag: 'dp-server-tls-key-file', description: 'PEM private key of the data plane server certificate' },
  { key: 'dpServer.plaintext', kind: 'boolean', env: ['SKEIN_DP_SERVER_PLAINTEXT'], flag: 'dp-server-plaintext', description: 'also accept plaintext data plane connections (local demos, benchmarks)' },
  { key: 'diagnostics.serverPort', kind: 'number', env: ['SKEIN_DIAGNOSTICS_SERVER_PORT', 'KUMA_DIAGNOSTICS_SERVER_PORT'], flag: 'diagnostics-port', description: '/ready and /metrics port' },
  { key: 'diagnostics.interface', kind: 'string', env: ['SKEIN_DIAGNOSTICS_INTERFACE'], flag: 'diagnostics-address', description: 'diagnostics bind address' },
  { key: 'metrics.openTelemetry.enabled', kind: 'boolean', env: ['SKEIN_METRICS_OPEN_TELEMETRY_ENABLED'], description: 'push control plane metrics over OTLP/gRPC to OTEL_EXPORTER_OTLP_ENDPOINT when that is set' },
  { key: 'multizone.global.kds.grpcPort', kind: 'number', env: ['SKEIN_MULTIZONE_GLOBAL_KDS_GRPC_PORT', 'KUMA_MULTIZONE_GLOBAL_KDS_GRPC_PORT'], flag: 'kds-port', description: 'multi-zone sync port (global)' },
  { key: 'multizone.zone.name', kind: 'string', env: ['SKEIN_MULTIZONE_ZONE_NAME', 'KUMA_MULTIZONE_ZONE_NAME'], flag: 'zone', description: 'zone name (zone mode)' },
  { key: 'multizone.zone.globalAddress', kind: 'string', env: ['SKEIN_MULTIZONE_ZONE_GLOBAL_ADDRESS', 'KUMA_MULTIZONE_ZONE_GLOBAL_ADDRESS'], flag: 'global-address', description: 'global CP sync address, grpcs://host:5685' },
  { key: 'multizone.zone.kds.rootCaFile', kind: 'string', env: ['SKEIN_MULTIZONE_ZONE_KDS_ROOT_CA_FILE', 'KUMA_MULTIZONE_ZONE_KDS_ROOT_CA_FILE'], flag: 'kds-root-ca-file', description: 'PEM CA that signed the global KDS certificate (zone mode; default: system roots)' },
  { key: 'multizone.zone.kds.tlsSkipVerify', kind: 'boolean', env: ['SKEIN_MULTIZONE_ZONE_KDS_TLS_SKIP_VERIFY', 'KUMA_MULTIZONE_ZONE_KDS_TLS_SKIP_VERIFY'], description: 'do not verify the global KDS certificate (zone mode; insecure)' },
  { key: 'multizone.global.kds.authType', kind: 'string', env: ['SKEIN_MULTIZONE_GLOBAL_KDS_AUTH_TYPE', 'KMESH_MULTIZONE_GLOBAL_KDS_AUTH_TYPE'], flag: 'kds-auth', description: 'none | zoneToken (zone CPs must present a zone token; global mode)' },
  { key: 'multizone.zone.kds.authTokenFile', kind: 'string', env: ['SKEIN_MULTIZONE_ZONE_KDS_AUTH_CP_TOKEN_PATH', 'KMESH_MULTIZONE_ZONE_KDS_AUTH_CP_TOKEN_PATH'], flag: 'kds-token-file', description: 'file with the zone token sent to global (zone mode)' },
  { key: 'multizone.zone.kds.authToken', kind: 'string', env: ['SKEIN_MULTIZONE_ZONE_KDS_AUTH_CP_TOKEN_INLINE', 'KMESH_MULTIZONE_ZONE_KDS_AUTH_CP_TOKEN_INLINE'], description: 'zone token sent to global on the sync streams (zone mode)' },
  { key: 'dpServer.dpTokenValidator.publicKeys', kind: 'list', env: ['SKEIN_DP_SERVER_DP_TOKEN_PUBLIC_KEYS'], flag: 'dataplane-token-public-key', description: '<kid>=<PEM public key file> accepted for dataplane tokens signed offline (repeatable or comma-separated)' },
  { key: 'dpServer.dpTokenValidator.publicKeysOnly', kind: 'boolean', env: ['SKEIN_DP_SERVER_DP_TOKEN_PUBLIC_KEYS_ONLY'], flag: 'dataplane-token-public-keys-only', description: 'verify dataplane tokens only with the configured public keys, not the stored signing keys' },
  { key: 'multizone.zoneTokenValidator.publicKeys', kind: 'list', env: ['SKEIN_MULTIZONE_ZONE_TOKEN_PUBLIC_KEYS'], flag: 'zone-token-public-key', description: '<kid>=<PEM public key file> accepted for zone tokens signed offline (repeatable or comma-separated)' },
  { key: 'multizone.zoneTokenValidator.publicKeysOnly', kind: 'boolean', env: ['SKEIN_MULTIZONE_ZONE_TOKEN_PUBLIC_KEYS_ONLY'], flag: 'zone-token-public-keys-only', description: 'verify zone tokens only with the configured public keys, not the stored signing keys' },
  { key: 'apiServer.userTokenValidator.publicKeys', kind: 'list', env: ['SKEIN_API_SERVER_USER_TOKEN_PUBLIC_KEYS'], flag: 'user-token-public-key', description: '<kid>=<PEM public key file> accepted for user tokens signed offline (repeatable or comma-separated)' },
  { key: 'apiServer.userTokenValidator.publicKeysOnly', kind: 'boolean', env: ['SKEIN_API_SERVER_USER_TOKEN_PUBLIC_KEYS_ONLY'], flag: 'user-token-public-keys-only', description: 'verify user tokens only with the configured public keys, not the stored signing keys' },
  { key: 'store.type', kind: 'string', env: ['SKEIN_STORE_TYPE', 'KUMA_STORE_TYPE'], flag: 'store', description: 'embedded | memory | postgres' },
  { key: 'store.dataDir', kind: 'string', env: ['SKEIN_STORE_DATA_DIR'], flag: 'data-dir', description: 'embedded store directory' },
  { key: 'store.postgresUrl', kind: 'string', env: ['SKEIN_STORE_POSTGRES_URL'], flag: 'postgres-url', description: 'PostgreSQL connection URL' },
  { key: 'store.unsafeDelete', kind: 'boolean', env: ['SKEIN_STORE_UNSAFE_DELETE', 'KUMA_STORE_UNSAFE_DELETE'], description: 'allow deleting meshes with dataplanes' },
  { key: 'defaults.skipMeshCreation', kind: 'boolean', env: ['SKEIN_DEFAULTS_SKIP_MESH_CREATION', 'KUMA_DEFAULTS_SKIP_MESH_CREATION'], description: 'do not create mesh "default" on start' },
  { key: 'runtime.kubernetes.injector.enabled', kind: 'boolean', env: ['SKEIN_RUNTIME_KUBERNETES_INJECTOR_ENABLED'], flag: 'injector', description: 'serve the sidecar injector webhook (Kubernetes)' },
  { key: 'runtime.kubernetes.injector.port', kind: 'number', env: ['SKEIN_RUNTIME_KUBERNETES_ADMISSION_SERVER_PORT', 'KUMA_RUNTIME_KUBERNETES_ADMISSION_SERVER_PORT'], flag: 'injector-port', description: 'injector webhook HTTPS port' },
  { key: 'runtime.kubernetes.injector.interface', kind: 'string', env: ['SKEIN_RUNTIME_KUBERNETES_ADMISSION_SERVER_ADDRESS', 'KUMA_RUNTIME_KUBERNETES_ADMISSION_SERVER_ADDRESS'], flag: 'injector-address', description: 'injector webhook bind address' },
  { key: 'runtime.kubernetes.injector.certFile', kind: 'string', env: ['SKEIN_RUNTIME_KUBERNETES_ADMISSION_SERVER_CERT_FILE'], flag: 'injector-tls-cert-file', description: 'PEM certificate of the injector webhook (default: generated with a CA in the work dir)' },
  { key: 'runtime.kubernetes.injector.keyFile', kind: 'string', env: ['SKEIN_RUNTIME_KUBERNETES_ADMISSION_SERVER_KEY_FILE'], flag: 'injector-tls-key-file', description: 'PEM private key of the injector webhook certificate' },
  { key: 'runtime.kubernetes.injector.caCertFile', kind: 'string', env: ['SKEIN_RUNTIME_KUBERNETES_INJECTOR_CA_CERT_FILE'], flag: 'injector-ca-cert-file', description: 'CA (PEM) injected sidecars verify the DP server with (default: the DP server certificate)' },
  { key: 'runtime.kubernetes.injector.sidecarImage', kind: 'string', env: ['SKEIN_INJECTOR_SIDECAR_CONTAINER_IMAGE', 'KUMA_INJECTOR_SIDECAR_CONTAINER_IMAGE'], flag: 'injector-sidecar-image', description: 'image of the injected kuma-sidecar and kuma-init containers' },
  { key: 'runtime.kubernetes.injector.controlPlaneUrl', kind: 'string', env: ['SKEIN_RUNTIME_KUBERNETES_INJECTOR_CONTROL_PLANE_URL'], flag: 'injector-cp-url', description: 'DP server URL given to injected sidecars (default: https://<host name>:<DP port>)' },
  { key: 'runtime.kubernetes.serverVersion', kind: 'string', env: ['SKEIN_RUNTIME_KUBERNETES_SERVER_VERSION'], flag: 'k8s-version', description: 'Kubernetes version for the injector (>= 1.29: native sidecars); default: asked from the API server in a cluster' },
  { key: 'runtime.kubernetes.disallowMultipleMeshesPerNamespace', kind: 'boolean', env: ['SKEIN_RUNTIME_KUBERNETES_DISALLOW_MULTIPLE_MESHES_PER_NAMESPACE', 'KUMA_RUNTIME_KUBERNETES_DISALLOW_MULTIPLE_MESHES_PER_NAMESPACE'], flag: 'disallow-multiple-meshes-per-namespace', description: 'injector refuses pods that would put two meshes in one namespace' },
  { key: 'workDir', kind: 'string', env: ['SKEIN_WORK_DIR', 'KUMA_GENERAL_WORK_DIR'], flag: 'work-dir', description: 'directory for generated files' },
];

export class ConfigError extends Error {}

function parseValue(setting: Setting, raw: unknown, source: string): unknown {
  switch (setting.kind) {
    case 'number': {
      const n = typeof raw === 'number' ? raw : Number(String(raw).trim());
      if (!Number.isInteger(n) || n < 0) throw new ConfigError(`${source}: ${setting.key} must be a non-negative integer, got "${String(raw)}"`);
      return n;
    }
    case 'boolean': {
      if (typeof raw === 'boolean') return raw;
      const s = String(raw).trim().toLowerCase();
      if (s === 'true' || s === '1') return true;
      if (s === 'false' || s === '0' || s === '') return false;
      throw new ConfigError(`${source}: ${setting.key} must be true or false, got "${String(raw)}"`);
    }
    case 'list':
      if (Array.isArray(raw)) return raw.map(String);
      return String(raw).split(',').map((s) => s.trim()).filter(Boolean);
    default:
      return String(raw);
  }
}

function getPath(obj: Record<string, unknown>, key: string): unknown {
  let cur: unknown = obj;
  for (const part of key.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function setPath(obj: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let cur = obj;
  for (const part of parts.slice(0, -1)) {
    if (typeof cur[part] !== 'object' || cur[part] === null) cur[part] = {};
    cur = cur[part] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}

export interface LoadOptions {
  configFile?: string;
  env?: NodeJS.ProcessEnv;
  /** Flag values by flag name (without dashes), as given on the command line. */
  flags?: Record<string, unknown>;
}

export function loadConfig(opts: LoadOptions = {}): CpConfig {
  const cfg = defaultConfig() as unknown as Record<string, unknown>;
  const env = opts.env ?? process.env;
  if (opts.configFile) {
    let doc: unknown;
    try {
      doc = YAML.parse(fs.readFileSync(opts.configFile, 'utf8'));
    } catch (err) {
      throw new ConfigError(`config file ${opts.configFile}: ${(err as Error).message}`);
    }
    for (const s of SETTINGS) {
      const v = doc && typeof doc === 'object' ? getPath(doc as Record<string, unknown>, s.key) : undefined;
      if (v !== undefined) setPath(cfg, s.key, parseValue(s, v, `config file ${opts.configFile}`));
    }
  }
  for (const s of SETTINGS) {
    const name = s.env.find((e) => env[e] !== undefined);
    if (name) setPath(cfg, s.key, parseValue(s, env[name], `env ${name}`));
    const flagValue = s.flag ? opts.flags?.[camel(s.flag)] : undefined;
    if (flagValue !== undefined) setPath(cfg, s.key, parseValue(s, flagValue, `flag --${s.flag}`));
  }
  const result = cfg as unknown as CpConfig;
  validateConfig(result);
  return result;
}

export function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function validateConfig(cfg: CpConfig): void {
  if (!['standalone', 'global', 'zone'].includes(cfg.mode)) throw new ConfigError(`mode must be one of standalone, global, zone; got "${cfg.mode}"`);
  if (!['memory', 'embedded', 'postgres'].includes(cfg.store.type)) throw new ConfigError(`store.type must be one of embedded, memory, postgres; got "${cfg.store.type}"`);
  if (!['none', 'zoneToken'].includes(cfg.multizone.global.kds.authType)) {
    throw new ConfigError(`multizone.global.kds.authType must be none or zoneToken; got "${cfg.multizone.global.kds.authType}"`);
  }
  if (!['dpToken', 'none'].includes(cfg.dpServer.auth)) throw new ConfigError(`dpServer.auth must be dpToken or none; got "${cfg.dpServer.auth}"`);
  if (!['universal', 'kubernetes'].includes(cfg.environment)) throw new ConfigError(`environment must be universal or kubernetes; got "${cfg.environment}"`);
  const { tlsCertFile, tlsKeyFile } = cfg.dpServer;
  if (Boolean(tlsCertFile) !== Boolean(tlsKeyFile)) {
    throw new ConfigError('dpServer.tlsCertFile (--dp-server-tls-cert-file) and dpServer.tlsKeyFile (--dp-server-tls-key-file) must be set together');
  }
  for (const [key, file] of [['dpServer.tlsCertFile', tlsCertFile], ['dpServer.tlsKeyFile', tlsKeyFile]] as const) {
    if (!file) continue;
    try {
      fs.accessSync(file, fs.constants.R_OK);
    } catch (err) {
      throw new ConfigError(`${key}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  const inj = cfg.runtime.kubernetes.injector;
  if (Boolean(inj.certFile) !== Boolean(inj.keyFile)) {
    throw new ConfigError('runtime.kubernetes.injector.certFile (--injector-tls-cert-file) and runtime.kubernetes.injector.keyFile (--injector-tls-key-file) must be set together');
  }
  const k8sVersion = cfg.runtime.kubernetes.serverVersion;
  if (k8sVersion && !/^v?\d+\.\d+/.test(k8sVersion)) throw new ConfigError(`runtime.kubernetes.serverVersion (--k8s-version): "${k8sVersion}" is not a version like 1.30`);
  if (cfg.mode === 'zone' && !cfg.multizone.zone.name) {
    throw new ConfigError('multizone.zone.name (--zone, KUMA_MULTIZONE_ZONE_NAME) is required in zone mode');
  }
  const globalAddress = cfg.multizone.zone.globalAddress;
  if (globalAddress) {
    if (cfg.mode !== 'zone') throw new ConfigError(`multizone.zone.globalAddress (--global-address) is only valid in zone mode; mode is "${cfg.mode}"`);
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(globalAddress)?.[1]?.toLowerCase();
    if (scheme !== 'grpc' && scheme !== 'grpcs') {
      throw new ConfigError(`multizone.zone.globalAddress: unsupported scheme "${scheme ?? ''}" in "${globalAddress}". Use one of [grpc grpcs]`);
    }
  }
}

/** A zone CP connected to a global CP. */
export function isFederatedZone(cfg: CpConfig): boolean {
  return cfg.mode === 'zone' && cfg.multizone.zone.globalAddress !== '' && cfg.multizone.zone.name !== '';
}
