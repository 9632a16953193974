// Helm-style values for `skein install control-plane`: the defaults (documented in
// deploy/values.yaml, which a test keeps equal to defaultValues()), `--values` files merged over
// them in order, then `--set key=value` assignments, then validation with errors that name the field.
import fs from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import YAML from 'yaml';
import { SKEIN_VERSION } from '../version.js';

export interface Image {
  registry: string;
  repository: string;
  tag: string;
}

export type ZoneProxyRole = 'all' | 'ingress' | 'egress' | 'separate';
export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer';

export interface ServiceValues {
  /** Overrides the generated Service name (must be ≤ 63 characters). */
  name?: string;
  type?: ServiceType;
  port?: number;
  targetPort?: number;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
}

export interface HpaValues {
  enabled?: boolean;
  minReplicas?: number;
  maxReplicas?: number;
  targetCPUUtilizationPercentage?: number;
  /** autoscaling/v2 metrics; replaces the CPU metric when set. */
  metrics?: Record<string, unknown>[];
}

export interface PdbValues {
  enabled?: boolean;
  maxUnavailable?: number | string;
}

/** What a mesh entry, a role block and the defaults may all set. */
export interface ZoneProxySettings {
  replicas?: number;
  namespace?: string;
  /** Pod-level `spec.resources` (as Kuma 2.14; needs the PodLevelResources feature, k8s ≥ 1.32). */
  resources?: Record<string, unknown>;
  nodeSelector?: Record<string, string>;
  tolerations?: Record<string, unknown>[];
  hpa?: HpaValues;
  pdb?: PdbValues;
  service?: ServiceValues;
}

/** `meshes[].ingress` / `meshes[].egress`: per-role overrides, also Kuma 2.14's value shape. */
export interface RoleBlock extends ZoneProxySettings {
  enabled?: boolean;
  /** Image of the zone proxy pod's placeholder container, per field over `zoneProxyImage` (Kuma's shape). */
  image?: Partial<Image>;
  deployment?: {
    replicas?: number;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
    podSpec?: { nodeSelector?: Record<string, string>; tolerations?: Record<string, unknown>[]; resources?: Record<string, unknown> };
  };
}

export interface MeshEntry extends ZoneProxySettings {
  name: string;
  role?: ZoneProxyRole;
  ingress?: RoleBlock;
  egress?: RoleBlock;
}

export interface ZoneProxyDefaults extends ZoneProxySettings {
  role: ZoneProxyRole;
  replicas: number;
  namespace: string;
  terminationGracePeriodSeconds: number;
  ingress: { service: Required<Pick<ServiceValues, 'type' | 'port' | 'targetPort'>> };
  egress: { service: Required<Pick<ServiceValues, 'type' | 'port' | 'targetPort'>> };
}

export interface Values {
  controlPlane: {
    /** zone (default; unfederated without kdsGlobalAddress), global or standalone. */
    mode: 'zone' | 'global' | 'standalone';
    zone: string;
    kdsGlobalAddress: string;
    replicas: number;
    image: Image;
    resources: Record<string, unknown>;
    service: { type: ServiceType; annotations: Record<string, string> };
    /** Extra environment variables of the control plane container (any `KUMA_*` / `SKEIN_*` setting). */
    envVars: Record<string, string>;
    defaults: { skipMeshCreation: boolean };
    injector: { enabled: boolean; port: number; failurePolicy: 'Fail' | 'Ignore' };
  };
  runtime: {
    kubernetes: {
      disallowMultipleMeshesPerNamespace: boolean;
      /** Kubernetes version the injector assumes (e.g. `1.30`); empty = ask the API server. */
      serverVersion: string;
    };
  };
  dataPlane: { image: Image };
  zoneProxyImage: Image;
  meshZoneProxyDefaults: ZoneProxyDefaults;
  meshes: MeshEntry[];
}

export function defaultValues(): Values {
  return {
    controlPlane: {
      mode: 'zone',
      zone: 'default',
      kdsGlobalAddress: '',
      replicas: 1,
      image: { registry: 'docker.io', repository: 'skeinmesh/skein', tag: SKEIN_VERSION },
      resources: { requests: { cpu: '500m', memory: '256Mi' }, limits: { memory: '1Gi' } },
      service: { type: 'ClusterIP', annotations: {} },
      envVars: {},
      defaults: { skipMeshCreation: true },
      injector: { enabled: true, port: 5443, failurePolicy: 'Fail' },
    },
    runtime: { kubernetes: { disallowMultipleMeshesPerNamespace: false, serverVersion: '' } },
    dataPlane: { image: { registry: 'docker.io', repository: 'skeinmesh/skein', tag: SKEIN_VERSION } },
    zoneProxyImage: { registry: 'registry.k8s.io', repository: 'pause', tag: '3.10' },
    meshZoneProxyDefaults: {
      role: 'all',
      replicas: 1,
      namespace: '',
      terminationGracePeriodSeconds: 40,
      resources: {},
      nodeSelector: {},
      tolerations: [],
      hpa: { enabled: false, minReplicas: 2, maxReplicas: 5, targetCPUUtilizationPercentage: 80 },
      pdb: { enabled: false, maxUnavailable: 1 },
      ingress: { service: { type: 'LoadBalancer', port: 10001, targetPort: 10001 } },
      egress: { service: { type: 'ClusterIP', port: 10002, targetPort: 10002 } },
    },
    meshes: [{ name: 'default' }],
  };
}

export class ValuesError extends Error {}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Helm's merge: maps merge key by key, anything else (lists included) replaces; `null` deletes. */
export function mergeValues(base: Obj, over: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === null) delete out[k];
    else if (isObj(v) && isObj(out[k])) out[k] = mergeValues(out[k] as Obj, v);
    else out[k] = v;
  }
  return out;
}

/** A scalar as Helm's --set reads it: true/false/null/integers are typed, the rest is a string. */
function scalar(raw: string): unknown {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  if (raw === 'null') return null;
  if (/^-?(0|[1-9][0-9]*)$/.test(raw) && Number.isSafeInteger(Number(raw))) return Number(raw);
  return raw;
}

/** Splits on commas that are not escaped (`\,`) and not inside `{...}`. */
function splitTop(s: string): string[] {
  const parts: string[] = [];
  let cur = '';
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      continue;
    }
    if (c === '{') depth++;
    if (c === '}') depth--;
    if (c === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  return parts;
}

/** Applies one `--set` argument (`a.b=1`, `meshes[0].name=x`, `list={a,b}`, several comma-separated). */
export function applySet(values: Obj, arg: string): void {
  for (const assignment of splitTop(arg)) {
    const eq = assignment.indexOf('=');
    if (eq <= 0) throw new ValuesError(`--set ${arg}: expected key=value`);
    const key = assignment.slice(0, eq);
    const raw = assignment.slice(eq + 1);
    const value = raw.startsWith('{') && raw.endsWith('}') ? (raw.length === 2 ? [] : raw.slice(1, -1).split(',').map(scalar)) : scalar(raw);
    const path: (string | number)[] = [];
    for (const part of key.split('.')) {
      const m = /^([^[\]]+)((\[\d+\])*)$/.exec(part);
      if (!m) throw new ValuesError(`--set ${arg}: invalid key "${key}"`);
      path.push(m[1]!);
      for (const idx of m[2]!.match(/\d+/g) ?? []) path.push(Number(idx));
    }
    let cur: Obj | unknown[] = values;
    for (let i = 0; i < path.length - 1; i++) {
      const seg = path[i]!;
      const nextIsIndex = typeof path[i + 1] === 'number';
      const container = cur as Record<string | number, unknown>;
      if (nextIsIndex ? !Array.isArray(container[seg]) : !isObj(container[seg])) container[seg] = nextIsIndex ? [] : {};
      cur = container[seg] as Obj | unknown[];
    }
    const last = path[path.length - 1]!;
    if (value === null && !Array.isArray(cur)) delete (cur as Obj)[last];
    else (cur as Record<string | number, unknown>)[last] = value;
  }
}

export interface ValuesSources {
  /** `--values` files, merged in order. */
  files?: string[];
  /** `--set` arguments, applied in order after the files. */
  sets?: string[];
}

export function loadValues(src: ValuesSources = {}): Values {
  let values = defaultValues() as unknown as Obj;
  for (const file of src.files ?? []) {
    let text: string;
    try {
      text = file === '-' ? fs.readFileSync(0, 'utf8') : fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new ValuesError(`--values ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    let doc: unknown;
    try {
      doc = YAML.parse(text);
    } catch (err) {
      throw new ValuesError(`--values ${file}: ${(err as Error).message}`);
    }
    if (doc === null || doc === undefined) continue;
    if (!isObj(doc)) throw new ValuesError(`--values ${file}: expected a YAML map at the top level`);
    values = mergeValues(values, doc);
  }
  for (const s of src.sets ?? []) applySet(values, s);
  validateValues(values);
  return values as unknown as Values;
}

// ---- validation -------------------------------------------------------------------------------

const str = { type: 'string' };
const strMap = { type: 'object', additionalProperties: { type: 'string' } };
const anyMap = { type: 'object' };
const port = { type: 'integer', minimum: 1, maximum: 65535 };
const count = { type: 'integer', minimum: 0 };
const image = { type: 'object', additionalProperties: false, properties: { registry: str, repository: str, tag: str } };
const serviceType = { enum: ['ClusterIP', 'NodePort', 'LoadBalancer'] };
const dnsLabel = { type: 'string', pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$', maxLength: 63 };
const service = {
  type: 'object',
  additionalProperties: false,
  properties: { name: str, type: serviceType, port, targetPort: port, annotations: strMap, labels: strMap },
};
// Per mesh the target port is fixed (it is the listener port in the pod), as in Kuma.
const meshService = { ...service, properties: { name: str, type: serviceType, port, annotations: strMap, labels: strMap } };
const hpa = {
  type: 'object',
  additionalProperties: false,
  properties: { enabled: { type: 'boolean' }, minReplicas: { type: 'integer', minimum: 1 }, maxReplicas: { type: 'integer', minimum: 1 }, targetCPUUtilizationPercentage: { type: 'integer', minimum: 1 }, metrics: { type: 'array', items: anyMap } },
};
const pdb = { type: 'object', additionalProperties: false, properties: { enabled: { type: 'boolean' }, maxUnavailable: { type: ['integer', 'string'] } } };
const settings = {
  replicas: count,
  namespace: dnsLabel,
  resources: anyMap,
  nodeSelector: strMap,
  tolerations: { type: 'array', items: anyMap },
  hpa,
  pdb,
  service: meshService,
};
const roleBlock = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...settings,
    enabled: { type: 'boolean' },
    image,
    deployment: {
      type: 'object',
      additionalProperties: false,
      properties: {
        replicas: count,
        annotations: strMap,
        labels: strMap,
        podSpec: { type: 'object', additionalProperties: false, properties: { nodeSelector: strMap, tolerations: { type: 'array', items: anyMap }, resources: anyMap } },
      },
    },
  },
};
const role = { enum: ['all', 'ingress', 'egress', 'separate'] };
const valuesSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['controlPlane', 'meshes'],
  properties: {
    controlPlane: {
      type: 'object',
      additionalProperties: false,
      properties: {
        mode: { enum: ['zone', 'global', 'standalone'] },
        zone: str,
        kdsGlobalAddress: str,
        replicas: { type: 'integer', minimum: 1 },
        image,
        resources: anyMap,
        service: { type: 'object', additionalProperties: false, properties: { type: serviceType, annotations: strMap } },
        envVars: strMap,
        defaults: { type: 'object', additionalProperties: false, properties: { skipMeshCreation: { type: 'boolean' } } },
        injector: { type: 'object', additionalProperties: false, properties: { enabled: { type: 'boolean' }, port, failurePolicy: { enum: ['Fail', 'Ignore'] } } },
      },
    },
    runtime: {
      type: 'object',
      additionalProperties: false,
      properties: {
        kubernetes: {
          type: 'object',
          additionalProperties: false,
          properties: { disallowMultipleMeshesPerNamespace: { type: 'boolean' }, serverVersion: { type: 'string', pattern: '^(v?[0-9]+\\.[0-9]+(\\.[0-9]+)?.*)?$' } },
        },
      },
    },
    dataPlane: { type: 'object', additionalProperties: false, properties: { image } },
    zoneProxyImage: image,
    meshZoneProxyDefaults: {
      type: 'object',
      additionalProperties: false,
      properties: {
        ...settings,
        role,
        terminationGracePeriodSeconds: count,
        ingress: { type: 'object', additionalProperties: false, properties: { service } },
        egress: { type: 'object', additionalProperties: false, properties: { service } },
      },
    },
    meshes: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: { ...settings, name: { type: 'string', minLength: 1, maxLength: 253, pattern: '^[0-9a-z-_.]*$' }, role, ingress: roleBlock, egress: roleBlock },
      },
    },
  },
};

const ajv = new Ajv({ allErrors: true, strict: false });
const check = ajv.compile(valuesSchema);

/** `/meshes/0/role` → `meshes[0].role` */
function fieldOf(e: ErrorObject): string {
  let path = '';
  for (const seg of e.instancePath.split('/').slice(1)) path += /^\d+$/.test(seg) ? `[${seg}]` : path ? `.${seg}` : seg;
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    return path ? `${path}.${extra}` : extra;
  }
  if (e.keyword === 'required') {
    const missing = (e.params as { missingProperty: string }).missingProperty;
    return path ? `${path}.${missing}` : missing;
  }
  return path || '(root)';
}

function reasonOf(e: ErrorObject): string {
  switch (e.keyword) {
    case 'additionalProperties':
      return 'unknown field';
    case 'required':
      return 'is required';
    case 'enum':
      return `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
    case 'pattern':
      return e.instancePath.endsWith('/name') ? "invalid characters: use lowercase latin letters, numbers and '-', '_', '.'" : e.instancePath.endsWith('/namespace') ? 'must be a DNS-1123 label (lowercase alphanumerics and -)' : `must match ${(e.params as { pattern: string }).pattern}`;
    default:
      return e.message ?? 'is invalid';
  }
}

export function validateValues(values: unknown): void {
  if (!check(values)) {
    const seen = new Set<string>();
    const lines: string[] = [];
    for (const e of check.errors ?? []) {
      const line = `${fieldOf(e)}: ${reasonOf(e)}`;
      if (!seen.has(line)) lines.push(line);
      seen.add(line);
    }
    throw new ValuesError(`invalid values:\n  ${lines.join('\n  ')}`);
  }
  const v = values as unknown as Values;
  const names = new Set<string>();
  v.meshes.forEach((m, i) => {
    if (names.has(m.name)) throw new ValuesError(`invalid values:\n  meshes[${i}].name: mesh "${m.name}" is listed twice`);
    names.add(m.name);
    if (m.role !== undefined && (m.ingress?.enabled !== undefined || m.egress?.enabled !== undefined)) {
      throw new ValuesError(`invalid values:\n  meshes[${i}]: set either role or ingress.enabled/egress.enabled (Kuma's shape), not both`);
    }
  });
}
