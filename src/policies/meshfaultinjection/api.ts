// MeshFaultInjection (Kuma 2.14): HTTP aborts, delays and bandwidth limits on inbounds and
// zone-proxy HTTP chains (`rules[]`; legacy `from[]` by caller); `to[]` only for gateways.
import { Violations, type Resource } from '../../api/resource.js';
import { arrayOf, duration, integer, object, string } from '../../api/schema.js';
import type { PolicyKindInfo } from '../../policy-engine/kinds.js';
import { includesGateways, targetRefSchema } from '../../policy-engine/target-ref.js';
import { checkSectionDefaults, commonWarnings, checkNonNegativeDuration, checkPercentage, checkTargetRefs, intOrString, policyDescriptor, policySchema, type PolicySections } from '../common/validate.js';

type Percentage = number | string;

export interface Fault {
  abort?: { httpStatus?: number; percentage?: Percentage };
  delay?: { value?: string; percentage?: Percentage };
  responseBandwidth?: { limit?: string; percentage?: Percentage };
}

export interface MeshFaultInjectionConf {
  http?: Fault[];
}

export type MeshFaultInjectionSpec = PolicySections<MeshFaultInjectionConf>;

const confSchema = object({
  http: arrayOf(
    object({
      abort: object({ httpStatus: integer, percentage: intOrString }),
      delay: object({ value: duration, percentage: intOrString }),
      responseBandwidth: object({ limit: string, percentage: intOrString }),
    }),
  ),
});

export const meshFaultInjectionSchema = policySchema(targetRefSchema, { from: confSchema, to: confSchema, rules: confSchema });

const BANDWIDTH = /^(\d*)\s?([GMk]+bps)$/;

// Reported at the real field path (`http[0].abort.httpStatus`; Kuma writes `http.abort[0].httpStatus`).
function checkConf(v: Violations, at: string, conf: MeshFaultInjectionConf | undefined): void {
  (conf?.http ?? []).forEach((fault, j) => {
    if (fault.abort) {
      const a = `${at}.http[${j}].abort`;
      const status = fault.abort.httpStatus;
      if (status === undefined || status < 100 || status > 599) v.add(`${a}.httpStatus`, 'must be in inclusive range [100, 599]');
      checkPercentage(v, `${a}.percentage`, fault.abort.percentage ?? 0);
    }
    if (fault.delay) {
      const d = `${at}.http[${j}].delay`;
      checkNonNegativeDuration(v, `${d}.value`, fault.delay.value);
      checkPercentage(v, `${d}.percentage`, fault.delay.percentage ?? 0);
    }
    if (fault.responseBandwidth) {
      const b = `${at}.http[${j}].responseBandwidth`;
      const limit = fault.responseBandwidth.limit;
      if (!limit) v.add(`${b}.limit`, 'must be defined');
      else if (!BANDWIDTH.test(limit)) v.add(`${b}.limit`, 'must be in kbps/Mbps/Gbps units');
      checkPercentage(v, `${b}.percentage`, fault.responseBandwidth.percentage ?? 0);
    }
  });
}

export function validateMeshFaultInjection(res: Resource): Violations {
  const spec = res.spec as MeshFaultInjectionSpec;
  const v = new Violations();
  const top = spec.targetRef ?? { kind: 'Mesh' };
  const gatewayScope = includesGateways(top);
  checkTargetRefs(v, spec, {
    topLevel: ['Mesh', 'MeshSubset', 'MeshGateway', 'MeshService', 'MeshServiceSubset', 'Dataplane'],
    from: ['Mesh', 'MeshSubset', 'MeshServiceSubset', 'MeshService'],
    to: ['Mesh'],
  });
  const from = spec.from ?? [];
  const to = spec.to ?? [];
  const rules = spec.rules ?? [];
  if (rules.length > 0 && from.length > 0) v.add('spec', "field 'from' must be empty when 'rules' is defined");
  if (to.length > 0 && !gatewayScope) v.add('spec.to', 'must not be defined');
  if (from.length > 0 && gatewayScope) {
    v.add('spec.from', 'must not be defined when the scope includes a Gateway, select only proxyType Sidecar or select only gateways and use spec.to');
  }
  checkSectionDefaults(v, spec, checkConf);
  return v;
}

export const meshFaultInjectionKind: PolicyKindInfo = { name: 'MeshFaultInjection' };

export const meshFaultInjectionDescriptor = policyDescriptor('MeshFaultInjection', 'mfi', 'Mesh Fault Injection', meshFaultInjectionSchema, validateMeshFaultInjection, {
  warnings: (res) => commonWarnings(res, "'from' field is deprecated, use 'rules' with SPIFFE-based 'matches' instead"),
});
