// MeshTrafficPermission: who may call an inbound. Two spellings are accepted, as in Kuma:
//   from[]:  {targetRef: Mesh|MeshSubset|MeshService|MeshServiceSubset, default: {action}}
//            the most specific matching entry decides (Mesh < MeshSubset < MeshService < ...);
//   rules[]: {default: {allow|deny|allowWithShadowDeny: [{spiffeID: {type: Exact|Prefix, value}}]}}
//            deny wins over allow across all matched policies. A match may name the SNI the caller
//            asked for (`sni: {type: Exact, value}`), alone or with a spiffeID (both must then hold):
//            only meaningful on a zone egress, where the SNI names the external service.
// Without mTLS there is no peer identity and the policy has nothing to act on.
import type { ResourceDescriptor } from '../../api/descriptor.js';
import { Violations, type Resource, type Violation } from '../../api/resource.js';
import { arrayOf, object, oneOfValues, string } from '../../api/schema.js';
import { targetRefSchema, validateTargetRef, type TargetRef } from '../../policy-engine/target-ref.js';
import type { PolicyKindInfo } from '../../policy-engine/kinds.js';
import { commonWarnings } from '../common/validate.js';

export type Action = 'Allow' | 'Deny' | 'AllowWithShadowDeny';

export interface IdentityMatch {
  spiffeID?: { type?: 'Exact' | 'Prefix'; value?: string };
  sni?: { type?: 'Exact'; value?: string };
}

export interface MeshTrafficPermissionSpec {
  targetRef?: TargetRef;
  from?: { targetRef?: TargetRef; default?: { action?: Action } }[];
  rules?: { default?: { allow?: IdentityMatch[]; deny?: IdentityMatch[]; allowWithShadowDeny?: IdentityMatch[] } }[];
}

const matchSchema = object({ spiffeID: object({ type: string, value: string }), sni: object({ type: string, value: string }) });

export const meshTrafficPermissionSchema = object({
  targetRef: targetRefSchema,
  from: arrayOf(object({ targetRef: targetRefSchema, default: object({ action: oneOfValues(['Allow', 'Deny', 'AllowWithShadowDeny']) }) })),
  rules: arrayOf(object({ default: object({ allow: arrayOf(matchSchema), deny: arrayOf(matchSchema), allowWithShadowDeny: arrayOf(matchSchema) }) })),
});

const RULE_LISTS = ['allow', 'deny', 'allowWithShadowDeny'] as const;

export function validateMeshTrafficPermission(res: Resource): Violation[] {
  const spec = res.spec as MeshTrafficPermissionSpec;
  const v = new Violations();
  const from = spec.from ?? [];
  const rules = spec.rules ?? [];
  if (spec.targetRef) {
    const allowed = ['Mesh', 'MeshSubset', 'MeshService', 'MeshServiceSubset', 'Dataplane', 'MeshExternalService'] as const;
    v.addAll('', validateTargetRef(spec.targetRef, 'spec.targetRef', { allowed, inboundPolicy: from.length + rules.length > 0 }));
  }
  if (from.length === 0 && rules.length === 0) v.add('spec', "at least one of 'from' or 'rules' has to be defined");
  if (from.length > 0 && rules.length > 0) v.add('spec', "field 'from' must be empty when 'rules' is defined");
  from.forEach((entry, i) => {
    const at = `spec.from[${i}]`;
    v.addAll('', validateTargetRef(entry.targetRef, `${at}.targetRef`, { allowed: ['Mesh', 'MeshSubset', 'MeshService', 'MeshServiceSubset'] }));
    if (!entry.default) v.add(`${at}.default`, 'must be defined');
    else if (!entry.default.action) v.add(`${at}.default.action`, 'must be defined');
  });
  rules.forEach((rule, i) => {
    const at = `spec.rules[${i}]`;
    const conf = rule.default ?? {};
    if (RULE_LISTS.every((list) => (conf[list] ?? []).length === 0)) {
      v.add(at, "at least one of 'allow', 'allowWithShadowDeny', 'deny' has to be defined");
    }
    for (const list of RULE_LISTS) {
      (conf[list] ?? []).forEach((match, j) => {
        const mat = `${at}.default.${list}[${j}]`;
        if (!match.spiffeID && !match.sni) return v.add(mat, "must specify at least one of 'spiffeID', 'sni'");
        if (match.spiffeID) {
          const { type, value } = match.spiffeID;
          if (!type) v.add(`${mat}.spiffeID.type`, 'must be set');
          else if (type !== 'Exact' && type !== 'Prefix') v.add(`${mat}.spiffeID.type`, `unrecognized type "${type}", supported values are: Exact, Prefix`);
          if (!value) v.add(`${mat}.spiffeID.value`, 'must be set');
          else if (!value.startsWith('spiffe://')) v.add(`${mat}.spiffeID.value`, 'must start with "spiffe://"');
        }
        if (match.sni) {
          const { type, value } = match.sni;
          if (!type) v.add(`${mat}.sni.type`, 'must be set');
          else if (type !== 'Exact') v.add(`${mat}.sni.type`, `unrecognized type "${type}", supported values are: Exact`);
          if (!value) v.add(`${mat}.sni.value`, 'must be set');
        }
      });
    }
  });
  return v.list;
}

export const meshTrafficPermissionDescriptor: ResourceDescriptor = {
  name: 'MeshTrafficPermission',
  scope: 'Mesh',
  path: 'meshtrafficpermissions',
  cliArg: 'meshtrafficpermission',
  cliListArg: 'meshtrafficpermissions',
  cliAliases: ['mtp', 'mtps'],
  singularDisplayName: 'Mesh Traffic Permission',
  pluralDisplayName: 'Mesh Traffic Permissions',
  shortName: 'mtp',
  isPolicy: true,
  flat: false,
  providedByGlobal: true,
  providedByZone: true,
  schema: meshTrafficPermissionSchema,
  applyDefaults(spec) {
    // An absent top-level targetRef means the whole mesh.
    return spec.targetRef ? spec : { targetRef: { kind: 'Mesh' }, ...spec };
  },
  validate: validateMeshTrafficPermission,
  warnings(res) {
    const spec = res.spec as MeshTrafficPermissionSpec;
    const out = commonWarnings(res, "'from' field is deprecated and will be removed in 3.0, use 'rules' with MeshIdentity (spiffeId) instead");
    for (const f of spec.from ?? []) {
      if (f.targetRef?.kind === 'MeshService') out.push("MeshService value for 'from[].targetRef.kind' is deprecated, use MeshSubset with 'kuma.io/service' instead");
    }
    return out;
  },
};

/** The policy created with every mesh unless `skipCreatingInitialPolicies` says otherwise. */
export function allowAllPolicy(mesh: string): { type: string; mesh: string; name: string; labels: Record<string, string>; spec: MeshTrafficPermissionSpec } {
  return {
    type: 'MeshTrafficPermission',
    mesh,
    name: 'allow-all',
    labels: {},
    spec: { targetRef: { kind: 'Mesh' }, from: [{ targetRef: { kind: 'Mesh' }, default: { action: 'Allow' } }] },
  };
}

/** `from` is the legacy per-caller form the plugin reads; `rules` are concatenated, not merged. */
export const meshTrafficPermissionKind: PolicyKindInfo = { name: 'MeshTrafficPermission' };
