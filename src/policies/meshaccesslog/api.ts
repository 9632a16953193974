// MeshAccessLog (Kuma 2.14): access logs of inbounds (`rules[]`, `from[]` as catch-all rules),
// outbounds (`to[]`) and zone-proxy listeners, to a file, a TCP collector or OpenTelemetry
// (inline `endpoint`, deprecated, or `backendRef` to a MeshOpenTelemetryBackend). `backends` is
// replaced on merge; on inbounds every backend of every matching rule logs.
import { Violations, type Resource } from '../../api/resource.js';
import { arrayOf, boolean, object, string } from '../../api/schema.js';
import type { PolicyKindInfo } from '../../policy-engine/kinds.js';
import { targetRefSchema } from '../../policy-engine/target-ref.js';
import { OTEL_ENDPOINT_DEPRECATED, anyValue, checkSectionDefaults, checkOtelBackend, commonWarnings, checkTargetRefs, otelBackendRefSchema, policyDescriptor, policySchema, type PolicySections, type OtelBackend } from '../common/validate.js';

export interface Format {
  type?: 'Plain' | 'Json';
  plain?: string;
  json?: { key?: string; value?: string }[];
  omitEmptyValues?: boolean;
}

export interface MeshAccessLogBackend {
  type?: 'Tcp' | 'File' | 'OpenTelemetry';
  tcp?: { format?: Format; address?: string };
  file?: { format?: Format; path?: string };
  openTelemetry?: OtelBackend & { attributes?: { key?: string; value?: string }[]; body?: unknown };
}

export interface MeshAccessLogConf {
  backends?: MeshAccessLogBackend[];
}

export type MeshAccessLogSpec = PolicySections<MeshAccessLogConf>;

const format = object({ type: string, plain: string, json: arrayOf(object({ key: string, value: string })), omitEmptyValues: boolean });
const confSchema = object({
  backends: arrayOf(
    object({
      type: string,
      tcp: object({ format, address: string }),
      file: object({ format, path: string }),
      openTelemetry: object({ endpoint: string, backendRef: otelBackendRefSchema, attributes: arrayOf(object({ key: string, value: string })), body: anyValue }),
    }),
  ),
});

export const meshAccessLogSchema = policySchema(targetRefSchema, { from: confSchema, to: confSchema, rules: confSchema });

const ATTRIBUTE_KEY = /^[a-z](?:[a-z0-9]|[._][a-z0-9])*$/;

function checkFormat(v: Violations, at: string, f: Format | undefined): void {
  if (!f) return;
  if (f.type === 'Plain' || (!f.type && f.plain !== undefined)) {
    if (f.plain === undefined) v.add(`${at}.plain`, 'must be defined');
    else if (f.plain === '') v.add(`${at}.plain`, 'must not be empty');
  } else if (f.type === 'Json' || (!f.type && f.json !== undefined)) {
    if (f.json === undefined) v.add(`${at}.json`, 'must be defined');
    else if (f.json.length === 0) v.add(`${at}.json`, 'must not be empty');
    f.json?.forEach((kv, k) => {
      if (!kv.key) v.add(`${at}.json[${k}].key`, 'key cannot be empty');
      if (!kv.value) v.add(`${at}.json[${k}].value`, 'value cannot be empty');
    });
  } else v.add(`${at}.type`, '"type" must be one of ["Plain", "Json"]');
}

function checkConf(v: Violations, at: string, conf: MeshAccessLogConf | undefined): void {
  if (!conf?.backends) {
    v.add(`${at}.backends`, 'must be defined');
    return;
  }
  conf.backends.forEach((b, i) => {
    const bat = `${at}.backends[${i}]`;
    const type = b.type ?? (b.file ? 'File' : b.tcp ? 'Tcp' : b.openTelemetry ? 'OpenTelemetry' : undefined);
    if (type === 'File') {
      if (!b.file) return v.add(`${bat}.file`, 'must be defined');
      if (!b.file.path || /\0/.test(b.file.path) || b.file.path.endsWith('/')) v.add(`${bat}.file.path`, 'file backend requires a valid path');
      checkFormat(v, `${bat}.file.format`, b.file.format);
    } else if (type === 'Tcp') {
      if (!b.tcp) return v.add(`${bat}.tcp`, 'must be defined');
      const address = b.tcp.address ?? '';
      if (!/^[^\s/:]+:\d+$/.test(address) && !URL.canParse(address)) v.add(`${bat}.tcp.address`, 'tcp backend requires valid address');
      checkFormat(v, `${bat}.tcp.format`, b.tcp.format);
    } else if (type === 'OpenTelemetry') {
      if (!b.openTelemetry) return v.add(`${bat}.openTelemetry`, 'must be defined');
      checkOtelBackend(v, `${bat}.openTelemetry`, b.openTelemetry);
      (b.openTelemetry.attributes ?? []).forEach((a, k) => {
        const kat = `${bat}.openTelemetry.attributes[${k}].key`;
        const key = a.key ?? '';
        if (key === '') v.add(kat, 'must be defined');
        else if (key.includes('%')) v.add(kat, 'must be a static OpenTelemetry attribute name; placeholders are only supported in values');
        else if (key.startsWith('otel.')) v.add(kat, "must not use the reserved OpenTelemetry prefix 'otel.'");
        else if (!ATTRIBUTE_KEY.test(key)) {
          v.add(kat, "must start with a lowercase letter, use only lowercase letters, digits, '.' or '_', avoid consecutive delimiters, and end with a letter or digit");
        }
      });
    } else v.add(`${bat}.type`, '"type" must be one of ["Tcp", "File", "OpenTelemetry"]');
  });
}

export function validateMeshAccessLog(res: Resource): Violations {
  const spec = res.spec as MeshAccessLogSpec;
  const v = new Violations();
  const top = spec.targetRef ?? { kind: 'Mesh' };
  checkTargetRefs(v, { ...spec, targetRef: top }, {
    topLevel: ['Mesh', 'MeshSubset', 'MeshGateway', 'MeshService', 'MeshServiceSubset', 'Dataplane'],
    from: ['Mesh'],
    to: top.kind === 'MeshGateway' ? ['Mesh'] : ['Mesh', 'MeshService', 'MeshExternalService', 'MeshMultiZoneService', 'MeshHTTPRoute'],
  });
  const from = spec.from ?? [];
  const to = spec.to ?? [];
  const rules = spec.rules ?? [];
  if (rules.length > 0 && (to.length > 0 || from.length > 0)) v.add('spec', "fields 'to' and 'from' must be empty when 'rules' is defined");
  if (rules.length === 0 && to.length === 0 && from.length === 0) v.add('spec', "at least one of 'from', 'to' or 'rules' has to be defined");
  checkSectionDefaults(v, spec, checkConf);
  return v;
}

export const meshAccessLogKind: PolicyKindInfo = { name: 'MeshAccessLog', fromAsRules: true };

function warnings(res: Resource): string[] {
  const spec = res.spec as MeshAccessLogSpec;
  const confs = [...(spec.from ?? []), ...(spec.to ?? []), ...(spec.rules ?? [])].map((i) => i.default);
  const inline = confs.flatMap((c) => c?.backends ?? []).some((b) => b.openTelemetry?.endpoint !== undefined);
  return [...commonWarnings(res), ...(inline ? [OTEL_ENDPOINT_DEPRECATED] : [])];
}

export const meshAccessLogDescriptor = policyDescriptor('MeshAccessLog', 'mal', 'Mesh Access Log', meshAccessLogSchema, validateMeshAccessLog, { warnings });
