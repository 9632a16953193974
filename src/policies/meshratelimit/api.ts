// MeshRateLimit (Kuma 2.14): local HTTP request and TCP connection rate limits on inbounds and
// zone-proxy listeners (`rules[]`, `from[]` as catch-all rules); `to[]` only for gateways.
import { Violations, type Resource } from '../../api/resource.js';
import { boolean, duration, integer, object, string } from '../../api/schema.js';
import type { PolicyKindInfo } from '../../policy-engine/kinds.js';
import { includesGateways, targetRefSchema } from '../../policy-engine/target-ref.js';
import { checkGreaterThanZero, commonWarnings, checkMatch, checkTargetRefs, durationMs, hasSpiffeMatch, policyDescriptor, policySchema, type PolicySections } from '../common/validate.js';

interface Rate {
  num?: number;
  interval?: string;
}

export interface MeshRateLimitConf {
  local?: {
    http?: {
      disabled?: boolean;
      requestRate?: Rate;
      onRateLimit?: { status?: number; headers?: { set?: { name?: string; value?: string }[]; add?: { name?: string; value?: string }[] } };
    };
    tcp?: { disabled?: boolean; connectionRate?: Rate };
  };
}

export type MeshRateLimitSpec = PolicySections<MeshRateLimitConf>;

const rateSchema = object({ num: integer, interval: duration });
const headers = { type: 'array', maxItems: 16, items: object({ name: string, value: string }) };
const confSchema = object({
  local: object({
    http: object({ disabled: boolean, requestRate: rateSchema, onRateLimit: object({ status: integer, headers: object({ set: headers, add: headers }) }) }),
    tcp: object({ disabled: boolean, connectionRate: rateSchema }),
  }),
});

export const meshRateLimitSchema = policySchema(targetRefSchema, { from: confSchema, to: confSchema, rules: confSchema });

function checkRate(v: Violations, at: string, rate: Rate | undefined): void {
  if (!rate) return;
  if (rate.num === undefined || rate.num <= 0) v.add(`${at}.num`, 'must be greater than 0');
  if (rate.interval === undefined) v.add(`${at}.interval`, 'must be greater than: 50ms');
  else {
    const ms = durationMs(v, `${at}.interval`, rate.interval);
    if (ms !== undefined && ms <= 50) v.add(`${at}.interval`, 'must be greater than: 50ms');
  }
}

function checkConf(v: Violations, at: string, conf: MeshRateLimitConf | undefined): void {
  const local = conf?.local;
  if (!local) {
    v.add(`${at}.local`, 'must be defined');
    return;
  }
  if (!local.http && !local.tcp) v.add(`${at}.local`, 'must have at least one defined: tcp, http');
  const http = local.http;
  if (http) {
    if (http.disabled === undefined && !http.requestRate && !http.onRateLimit) {
      v.add(`${at}.local.http`, 'must have at least one defined: disabled, requestRate, onRateLimit');
    }
    checkRate(v, `${at}.local.http.requestRate`, http.requestRate);
    if (http.onRateLimit?.status !== undefined) checkGreaterThanZero(v, `${at}.local.http.onRateLimit.status`, http.onRateLimit.status);
  }
  const tcp = local.tcp;
  if (tcp) {
    if (tcp.disabled === undefined && !tcp.connectionRate) v.add(`${at}.local.tcp`, 'must have at least one defined: disabled, connectionRate');
    checkRate(v, `${at}.local.tcp.connectionRate`, tcp.connectionRate);
  }
}

export function validateMeshRateLimit(res: Resource): Violations {
  const spec = res.spec as MeshRateLimitSpec;
  const v = new Violations();
  const top = spec.targetRef ?? { kind: 'Mesh' };
  const gatewayScope = includesGateways(top);
  checkTargetRefs(v, spec, {
    topLevel: ['Mesh', 'MeshSubset', 'MeshGateway', 'MeshService', 'MeshServiceSubset', 'MeshHTTPRoute', 'Dataplane'],
    from: ['Mesh'],
    to: ['Mesh'],
    gatewayListenerTags: true,
  });
  const from = spec.from ?? [];
  const to = spec.to ?? [];
  const rules = spec.rules ?? [];
  if (rules.length > 0 && (to.length > 0 || from.length > 0)) v.add('spec', "fields 'to' and 'from' must be empty when 'rules' is defined");
  if (to.length > 0 && !gatewayScope) v.add('spec.to', 'must not be defined');
  if (from.length > 0 && gatewayScope) {
    v.add('spec.from', 'must not be defined when the scope includes a Gateway, select only proxyType Sidecar or select only gateways and use spec.to');
  }
  if (rules.length > 0 && (gatewayScope || top.kind === 'MeshHTTPRoute')) v.add('spec.rules', 'must not be defined');
  from.forEach((f, i) => checkConf(v, `spec.from[${i}].default`, f.default));
  to.forEach((t, i) => checkConf(v, `spec.to[${i}].default`, t.default));
  rules.forEach((r, i) => {
    (r.matches ?? []).forEach((m, j) => checkMatch(v, `spec.rules[${i}].matches[${j}]`, m));
    checkConf(v, `spec.rules[${i}].default`, r.default);
    if (hasSpiffeMatch(r) && r.default?.local?.tcp) {
      v.add(`spec.rules[${i}].default.local.tcp`, "can't be specified when matches contain spiffeID because this field cannot be conditioned on source identity");
    }
  });
  return v;
}

export const meshRateLimitKind: PolicyKindInfo = { name: 'MeshRateLimit', fromAsRules: true };

function warnings(res: Resource): string[] {
  const spec = res.spec as MeshRateLimitSpec;
  const out = commonWarnings(res);
  for (const section of ['from', 'rules', 'to'] as const) {
    (spec[section] ?? []).forEach((item, i) => {
      const status = item.default?.local?.http?.onRateLimit?.status;
      if (status !== undefined && status < 400) {
        out.push(`'spec.${section}[${i}].default.local.http.requestRate.status' must be 400 or higher. Please update your configuration.`);
      }
    });
  }
  return out;
}

export const meshRateLimitDescriptor = policyDescriptor('MeshRateLimit', 'mrl', 'Mesh Rate Limit', meshRateLimitSchema, validateMeshRateLimit, { warnings });

