// Validation pieces shared by the policy kinds, with Kuma's messages (`pkg/core/validators`).
import { Violations, type Resource } from '../../api/resource.js';
import { parseDuration } from '../../api/rules.js';
import { arrayOf, object, string, stringMap, type Schema } from '../../api/schema.js';
import { validateTargetRef, type TargetRef, type TargetRefKind, type TargetRefRules } from '../../policy-engine/target-ref.js';
import type { Match } from '../../policy-engine/rules.js';
import type { ResourceDescriptor } from '../../api/descriptor.js';

export const matchSchema: Schema = object({
  spiffeID: object({ type: string, value: string }),
  sni: object({ type: string, value: string }),
});

/** Int or decimal string (`50`, `"0.5"`), as Kuma's IntOrString percentages. */
export const intOrString: Schema = { type: ['integer', 'number', 'string'] };

/** A targetRef policy's sections, each carrying a `Conf` as its `default`. */
export interface PolicySections<Conf> {
  targetRef?: TargetRef;
  from?: { targetRef?: TargetRef; default?: Conf }[];
  to?: { targetRef?: TargetRef; default?: Conf }[];
  rules?: { matches?: Match[]; default?: Conf }[];
}

/** A default policy, as the CP creates it with each mesh. */
export interface DefaultPolicy<Spec> {
  type: string;
  mesh: string;
  name: string;
  labels: Record<string, string>;
  spec: Spec;
}

/** A default policy from the whole mesh to the whole mesh with one `conf`. */
export function meshToMeshDefault<Conf>(type: string, mesh: string, name: string, conf: Conf): DefaultPolicy<PolicySections<Conf>> {
  return { type, mesh, name, labels: {}, spec: { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: conf }] } };
}

/** The parts of a policy spec the shared rules look at. */
export interface SectionsSpec extends PolicySections<unknown> {
  default?: unknown;
}

export interface KindRules {
  topLevel: readonly TargetRefKind[];
  from?: readonly TargetRefKind[];
  to?: readonly TargetRefKind[];
  gatewayListenerTags?: boolean;
  /**
   * Dataplane `sectionName` allowed with `to[]` too: SKEIN-SPEC §3 picks one zone-proxy listener
   * that way for MeshCircuitBreaker / MeshHealthCheck (Kuma 2.14 rejects it, against its MADR 103).
   */
  sectionNameWithTo?: boolean;
}

/** targetRef checks of the top level (when present) and of every `from`/`to` item. */
export function checkTargetRefs(v: Violations, spec: SectionsSpec, kinds: KindRules): void {
  const inboundPolicy = (spec.rules?.length ?? 0) > 0 || (spec.from?.length ?? 0) > 0 || (!!kinds.sectionNameWithTo && (spec.to?.length ?? 0) > 0);
  if (spec.targetRef) {
    const rules: TargetRefRules = { allowed: kinds.topLevel, inboundPolicy, gatewayListenerTags: kinds.gatewayListenerTags };
    v.addAll('', validateTargetRef(spec.targetRef, 'spec.targetRef', rules));
  }
  spec.from?.forEach((f, i) => {
    if (kinds.from) v.addAll('', validateTargetRef(f.targetRef, `spec.from[${i}].targetRef`, { allowed: kinds.from }));
  });
  spec.to?.forEach((t, i) => {
    if (kinds.to) v.addAll('', validateTargetRef(t.targetRef, `spec.to[${i}].targetRef`, { allowed: kinds.to }));
  });
}

const SPIFFE = /^spiffe:\/\/([^/]+)(\/.*)?$/;

/** One `matches[]` entry (or MTP allow/deny entry). */
export function checkMatch(v: Violations, at: string, m: Match, requireOne = true): void {
  if (!m.spiffeID && !m.sni) {
    if (requireOne) v.add(at, "must specify at least one of 'spiffeID' or 'sni'");
    return;
  }
  if (m.spiffeID) {
    const { type, value } = m.spiffeID;
    if (!type) v.add(`${at}.spiffeID.type`, 'must be set');
    else if (type !== 'Exact' && type !== 'Prefix') v.add(`${at}.spiffeID.type`, `unrecognized type "${type}", supported values are: Exact, Prefix`);
    if (!value) v.add(`${at}.spiffeID.value`, 'must be set');
    else if (!value.startsWith('spiffe://')) v.add(`${at}.spiffeID`, 'must be a valid Spiffe ID: scheme is missing or invalid');
    else if (type === 'Exact' && !SPIFFE.test(value)) v.add(`${at}.spiffeID`, 'must be a valid Spiffe ID: trust domain is missing');
  }
  if (m.sni) {
    const { type, value } = m.sni;
    if (!type) v.add(`${at}.sni.type`, 'must be set');
    else if (type !== 'Exact') v.add(`${at}.sni.type`, `unrecognized type "${type}", supported values are: Exact`);
    if (!value) v.add(`${at}.sni.value`, 'must be set');
  }
}

/** Checks every section's `default` with `checkConf` (from, to, then rules with their matches). */
export function checkSectionDefaults<Conf>(v: Violations, spec: PolicySections<Conf>, checkConf: (v: Violations, at: string, conf: Conf | undefined) => void): void {
  (spec.from ?? []).forEach((f, i) => checkConf(v, `spec.from[${i}].default`, f.default));
  (spec.to ?? []).forEach((t, i) => checkConf(v, `spec.to[${i}].default`, t.default));
  (spec.rules ?? []).forEach((r, i) => {
    (r.matches ?? []).forEach((m, j) => checkMatch(v, `spec.rules[${i}].matches[${j}]`, m));
    checkConf(v, `spec.rules[${i}].default`, r.default);
  });
}

export function hasSpiffeMatch(rule: { matches?: Match[] }): boolean {
  return (rule.matches ?? []).some((m) => m.spiffeID);
}

/** Milliseconds of a duration field, or undefined after reporting a malformed one. */
export function durationMs(v: Violations, at: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (ms === undefined) v.add(at, `invalid duration "${value}"`);
  return ms;
}

export function checkPositiveDuration(v: Violations, at: string, value: string | undefined): void {
  const ms = durationMs(v, at, value);
  if (ms !== undefined && ms <= 0) v.add(at, 'must be greater than zero when defined');
}

export function checkNonNegativeDuration(v: Violations, at: string, value: string | undefined): void {
  const ms = durationMs(v, at, value);
  if (ms !== undefined && ms < 0) v.add(at, 'must not be negative when defined');
}

export function checkGreaterThanZero(v: Violations, at: string, value: number | undefined): void {
  if (value !== undefined && value <= 0) v.add(at, 'must be greater than 0');
}

/** A percentage as int or decimal string, in [0, 100]. */
export function checkPercentage(v: Violations, at: string, value: number | string | undefined): void {
  if (value === undefined) return;
  const n = typeof value === 'number' ? value : Number(value);
  if (typeof value === 'string' && (value.trim() === '' || Number.isNaN(n))) v.add(at, 'string must be a valid number');
  else if (n < 0 || n > 100) v.add(at, 'must be in inclusive range [0.0, 100.0]');
}

export function checkUintPercent(v: Violations, at: string, value: number | undefined): void {
  if (value !== undefined && (value < 0 || value > 100)) v.add(at, 'must be in inclusive range [0, 100]');
}

/** OpenTelemetry backend of MeshTrace / MeshMetric / MeshAccessLog: inline `endpoint` XOR `backendRef`. */
export interface OtelBackend {
  endpoint?: string;
  backendRef?: { kind?: string; labels?: Record<string, string> };
}

export function checkOtelBackend(v: Violations, at: string, otel: OtelBackend, requirePort = false): void {
  if (otel.endpoint !== undefined && otel.backendRef !== undefined) {
    v.add(at, 'openTelemetry must have only one type defined: endpoint, backendRef');
    return;
  }
  if (!otel.endpoint && !otel.backendRef) {
    v.add(at, 'openTelemetry must have exactly one defined: endpoint, backendRef');
    return;
  }
  if (otel.endpoint !== undefined) {
    if (/[/?#]/.test(otel.endpoint)) v.add(`${at}.endpoint`, 'must be in host:port format, not a URL');
    else if (requirePort && !/:\d+$/.test(otel.endpoint)) v.add(`${at}.endpoint`, 'must be in host:port format');
  }
  if (otel.backendRef) checkBackendRef(v, `${at}.backendRef`, otel.backendRef);
}

export function checkBackendRef(v: Violations, at: string, ref: { kind?: string; labels?: Record<string, string> }): void {
  if (ref.kind !== 'MeshOpenTelemetryBackend') v.add(`${at}.kind`, '"kind" must be one of ["MeshOpenTelemetryBackend"]');
  if (!ref.labels || Object.keys(ref.labels).length === 0) v.add(at, 'backendRef must have exactly one defined: labels');
}

/** `backendRef: {kind: MeshOpenTelemetryBackend, labels}`. */
export const otelBackendRefSchema: Schema = object({ kind: string, labels: stringMap });

/** Schema of a policy spec with the given sections (targetRef always). */
export function policySchema(targetRef: Schema, sections: { from?: Schema; to?: Schema; rules?: Schema; default?: Schema }): Schema {
  const props: Record<string, Schema> = { targetRef };
  if (sections.from) props['from'] = arrayOf(object({ targetRef, default: sections.from }));
  if (sections.to) props['to'] = arrayOf(object({ targetRef, default: sections.to }));
  if (sections.rules) props['rules'] = arrayOf(object({ matches: arrayOf(matchSchema), default: sections.rules }));
  if (sections.default) props['default'] = sections.default;
  return object(props);
}

/** A free-form JSON value (JSON patch values, OTLP bodies). */
export const anyValue: Schema = {};

/** English plural, as Kuma's paths: meshretries, meshproxypatches, meshtimeouts. */
function plural(word: string): string {
  if (/[^aeiou]y$/.test(word)) return `${word.slice(0, -1)}ies`;
  if (/(ch|sh|x|s)$/.test(word)) return `${word}es`;
  return `${word}s`;
}

/** Descriptor fields every targetRef policy shares (Kuma paths are the lowercase plural kind). */
export function policyDescriptor(
  name: string,
  shortName: string,
  displayName: string,
  schema: Schema,
  validate: (res: Resource) => Violations,
  extra: Partial<ResourceDescriptor> = {},
): ResourceDescriptor {
  const lower = name.toLowerCase();
  return {
    name,
    scope: 'Mesh',
    path: plural(lower),
    cliArg: lower,
    cliListArg: plural(lower),
    cliAliases: [shortName, `${shortName}s`],
    singularDisplayName: displayName,
    pluralDisplayName: plural(displayName),
    shortName,
    isPolicy: true,
    flat: false,
    providedByGlobal: true,
    providedByZone: true,
    schema,
    applyDefaults(spec) {
      // An absent top-level targetRef means the whole mesh.
      return spec['targetRef'] ? spec : { targetRef: { kind: 'Mesh' }, ...spec };
    },
    validate: (res) => validate(res).list,
    ...extra,
  };
}

const FROM_DEPRECATED = "'from' field is deprecated, use 'rules' instead";

/**
 * Kuma 2.14's deprecation warnings shared by the kinds (returned with a successful PUT): top-level
 * MeshService / MeshServiceSubset / MeshSubset / MeshHTTPRoute, `from[]` (message per kind).
 */
export function commonWarnings(res: Resource, fromMessage: string | undefined = FROM_DEPRECATED): string[] {
  const spec = res.spec as SectionsSpec;
  const out: string[] = [];
  const kind = spec.targetRef?.kind;
  if (kind === 'MeshService' || kind === 'MeshServiceSubset' || kind === 'MeshSubset') {
    out.push(`${kind} value for 'targetRef.kind' is deprecated, use Dataplane with labels instead`);
  }
  if (kind === 'MeshHTTPRoute') out.push("MeshHTTPRoute value for 'targetRef.kind' is deprecated, use MeshHTTPRoute in spec.to[].targetRef");
  if (fromMessage && (spec.from?.length ?? 0) > 0) out.push(fromMessage);
  return out;
}

export const OTEL_ENDPOINT_DEPRECATED = 'openTelemetry.endpoint is deprecated, use openTelemetry.backendRef with a MeshOpenTelemetryBackend resource instead';
