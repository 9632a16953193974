// `skein install control-plane`: values in, Kubernetes objects (and YAML) out.
import YAML from 'yaml';
import { generateWebhookCerts, serviceDnsNames, type WebhookCerts } from '../injector/certs.js';
import { allCrds, CRD_GROUP, CRD_VERSION } from './crds.js';
import { cpName, renderControlPlane } from './control-plane.js';
import { ValuesError, type Values } from './values.js';
import { planZoneProxies, renderZoneProxy, type RenderContext } from './zone-proxies.js';

type Obj = Record<string, unknown>;

export interface RenderOptions {
  release?: string;
  namespace?: string;
  /** Webhook/DP server certificates; generated when absent (tests pass fixed ones). */
  certs?: WebhookCerts;
}

export const DEFAULT_RELEASE = 'skein';
export const DEFAULT_NAMESPACE = 'kuma-system';

const DNS_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** An unfederated zone (or standalone CP) owns its meshes: the listed ones are rendered as Mesh objects. */
export function rendersMeshes(values: Values): boolean {
  const cp = values.controlPlane;
  return cp.mode === 'standalone' || (cp.mode === 'zone' && !cp.kdsGlobalAddress);
}

function checkContext(values: Values, ctx: RenderContext): void {
  if (!DNS_LABEL.test(ctx.release) || ctx.release.length > 40) throw new ValuesError(`--release-name "${ctx.release}": must be a DNS-1035 label of at most 40 characters`);
  if (!DNS_LABEL.test(ctx.namespace) || ctx.namespace.length > 63) throw new ValuesError(`--namespace "${ctx.namespace}": must be a DNS-1123 label`);
  const cp = values.controlPlane;
  if (cp.kdsGlobalAddress) {
    if (cp.mode !== 'zone') throw new ValuesError(`controlPlane.kdsGlobalAddress: only valid with controlPlane.mode=zone; mode is "${cp.mode}"`);
    if (!/^grpcs?:\/\//.test(cp.kdsGlobalAddress)) throw new ValuesError(`controlPlane.kdsGlobalAddress: "${cp.kdsGlobalAddress}" must start with grpcs:// or grpc://`);
  }
  const store = cp.envVars['KUMA_STORE_TYPE'] ?? cp.envVars['SKEIN_STORE_TYPE'] ?? 'embedded';
  if (cp.replicas > 1 && store !== 'postgres') {
    throw new ValuesError(`controlPlane.replicas: ${cp.replicas} replicas need a shared store; set controlPlane.envVars.KUMA_STORE_TYPE=postgres and SKEIN_STORE_POSTGRES_URL`);
  }
  if (cp.mode === 'zone' && !cp.zone) throw new ValuesError('controlPlane.zone: is required with controlPlane.mode=zone');
}

export async function renderObjects(values: Values, opts: RenderOptions = {}): Promise<Obj[]> {
  const ctx: RenderContext = { release: opts.release ?? DEFAULT_RELEASE, namespace: opts.namespace ?? DEFAULT_NAMESPACE };
  checkContext(values, ctx);
  const plans = planZoneProxies(values, ctx); // throws on values errors before any key is generated
  const meshes = rendersMeshes(values) ? values.meshes.map((m) => m.name) : [];
  meshes.forEach((m, i) => {
    if (!DNS_SUBDOMAIN.test(m)) throw new ValuesError(`meshes[${i}].name: "${m}" cannot be the name of a Mesh object on Kubernetes; use lowercase letters, digits, '-' and '.'`);
  });
  const certs = opts.certs ?? (await generateWebhookCerts(serviceDnsNames(cpName(ctx), ctx.namespace)));

  const namespaces = [ctx.namespace, ...new Set(plans.map((p) => p.namespace).filter((n) => n !== ctx.namespace))];
  return [
    ...allCrds(),
    ...namespaces.map((n) => ({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: n, labels: n === ctx.namespace ? { 'kuma.io/system-namespace': 'true' } : { 'app.kubernetes.io/part-of': 'skein' } },
    })),
    ...renderControlPlane(values, ctx, certs),
    ...plans.flatMap((p) => renderZoneProxy(p, values, ctx)),
    ...meshes.map((m) => ({ apiVersion: `${CRD_GROUP}/${CRD_VERSION}`, kind: 'Mesh', metadata: { name: m }, spec: {} })),
  ];
}

export function toYaml(objects: Obj[]): string {
  return objects.map((o) => YAML.stringify(o, { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n');
}
