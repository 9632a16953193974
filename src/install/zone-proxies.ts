// Mesh-scoped zone proxies from `meshes[]`: per mesh one Deployment + Service (role `all`,
// `ingress` or `egress`) or two of each (role `separate`), with ServiceAccount, optional HPA and PDB.
// The pods run a pause container; the injector adds the Skein data plane, which registers a
// zone proxy Dataplane with the listeners named by the pod's annotations.
// Types only (erased at build): the compiler checks field names against the Kubernetes API.
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IDeploymentSpec } from 'kubernetes-models/apps/v1/DeploymentSpec';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { MESH, SIDECAR_INJECTION, ZONE_EGRESS_PORT, ZONE_INGRESS_PORT, ZONE_PROXY_TYPE } from '../injector/annotations.js';
import { MAX_NAME, labelValue, meshObjectName } from './names.js';
import type { HpaValues, MeshEntry, PdbValues, RoleBlock, ServiceValues, Values } from './values.js';
import { ValuesError } from './values.js';

type Obj = Record<string, unknown>;
type DeploymentRole = 'all' | 'ingress' | 'egress';

export interface RenderContext {
  release: string;
  namespace: string;
}

/** The role a mesh entry asks for; `none` when Kuma's shape enables neither role. */
export function meshRole(m: MeshEntry, values: Values): DeploymentRole | 'separate' | 'none' {
  if (m.role) return m.role;
  const ing = m.ingress?.enabled;
  const eg = m.egress?.enabled;
  if (ing !== undefined || eg !== undefined) {
    if (ing && eg) return 'separate';
    if (ing) return 'ingress';
    if (eg) return 'egress';
    return 'none';
  }
  return values.meshZoneProxyDefaults.role;
}

/** Role blocks that would be ignored are errors: a block for a role the mesh does not have, and with
 *  role `all` (one Deployment, one Service) anything but the two listener ports. */
function checkRoleBlocks(m: MeshEntry, role: DeploymentRole | 'separate', i: number): void {
  for (const r of ['ingress', 'egress'] as const) {
    const block = m[r];
    if (!block) continue;
    const { enabled: _enabled, ...rest } = block;
    const fields = Object.keys(rest);
    if (fields.length === 0) continue;
    if (role === 'all') {
      const { port: _port, ...svcRest } = rest.service ?? {};
      const other = [...fields.filter((f) => f !== 'service'), ...Object.keys(svcRest).map((f) => `service.${f}`)];
      if (other.length > 0) throw new ValuesError(`meshes[${i}].${r}.${other[0]}: with role all only ${r}.service.port can be set per role; set it on the mesh entry`);
    } else if (role !== 'separate' && role !== r) {
      throw new ValuesError(`meshes[${i}].${r}: the mesh has no ${r} zone proxy (role ${role})`);
    }
  }
}

export interface ZoneProxyPlan {
  mesh: string;
  role: DeploymentRole;
  name: string;
  serviceName: string;
  namespace: string;
  replicas: number;
  resources?: Obj;
  nodeSelector: Record<string, string>;
  tolerations: Obj[];
  hpa: HpaValues;
  pdb: PdbValues;
  deploymentAnnotations: Record<string, string>;
  deploymentLabels: Record<string, string>;
  image: { registry: string; repository: string; tag: string };
  /** Service type, annotations, labels; ports below. */
  service: ServiceValues;
  ports: { name: string; port: number; targetPort: number; listener: 'ingress' | 'egress' }[];
}

const nonEmpty = <T extends object>(o: T | undefined): T | undefined => (o && Object.keys(o).length > 0 ? o : undefined);

/** Resolves every (mesh, role) to what gets rendered: role block > mesh entry > defaults. */
export function planZoneProxies(values: Values, ctx: RenderContext): ZoneProxyPlan[] {
  const d = values.meshZoneProxyDefaults;
  const plans: ZoneProxyPlan[] = [];
  values.meshes.forEach((m, i) => {
    const role = meshRole(m, values);
    if (role === 'none') return;
    if (values.controlPlane.mode === 'global') throw new ValuesError(`meshes[${m.name}]: mesh-scoped zone proxies require controlPlane.mode=zone`);
    checkRoleBlocks(m, role, i);
    const roles: DeploymentRole[] = role === 'separate' ? ['ingress', 'egress'] : [role];
    for (const r of roles) {
      const block: RoleBlock = r === 'all' ? {} : (m[r] ?? {});
      const pick = <K extends keyof RoleBlock & keyof MeshEntry>(k: K) => block[k] ?? m[k] ?? d[k];
      const suffix = role === 'separate' ? r : 'zoneproxy';
      const name = meshObjectName(ctx.release, m.name, suffix);
      const svcDefaults = r === 'egress' ? d.egress.service : d.ingress.service;
      const service: ServiceValues = {
        ...svcDefaults,
        ...d.service,
        ...m.service,
        ...block.service,
        annotations: { ...d.service?.annotations, ...m.service?.annotations, ...block.service?.annotations },
        labels: { ...d.service?.labels, ...m.service?.labels, ...block.service?.labels },
      };
      if (service.name && service.name.length > MAX_NAME) {
        throw new ValuesError(`zone proxy service name "${service.name}" exceeds ${MAX_NAME} characters; use service.name to set a shorter name`);
      }
      const ports: ZoneProxyPlan['ports'] = [];
      if (r === 'all') ports.push({ name: 'zone-ingress', port: m.ingress?.service?.port ?? service.port!, targetPort: svcDefaults.targetPort, listener: 'ingress' });
      if (r === 'ingress') ports.push({ name: 'zone-ingress', port: service.port!, targetPort: svcDefaults.targetPort, listener: 'ingress' });
      if (r === 'all') ports.push({ name: 'zone-egress', port: m.egress?.service?.port ?? d.egress.service.port, targetPort: d.egress.service.targetPort, listener: 'egress' });
      if (r === 'egress') ports.push({ name: 'zone-egress', port: service.port!, targetPort: svcDefaults.targetPort, listener: 'egress' });
      plans.push({
        mesh: m.name,
        role: r,
        name,
        serviceName: service.name || name,
        namespace: pick('namespace') || ctx.namespace,
        replicas: block.deployment?.replicas ?? pick('replicas')!,
        resources: nonEmpty(block.deployment?.podSpec?.resources ?? pick('resources')),
        nodeSelector: block.deployment?.podSpec?.nodeSelector ?? pick('nodeSelector') ?? {},
        tolerations: block.deployment?.podSpec?.tolerations ?? pick('tolerations') ?? [],
        hpa: { ...d.hpa, ...m.hpa, ...block.hpa },
        pdb: { ...d.pdb, ...m.pdb, ...block.pdb },
        deploymentAnnotations: block.deployment?.annotations ?? {},
        deploymentLabels: block.deployment?.labels ?? {},
        image: { ...values.zoneProxyImage, ...block.image },
        service,
        ports,
      });
    }
  });
  // Two objects of a kind with one name in one namespace would overwrite each other.
  const seen = new Map<string, string>();
  for (const p of plans) {
    for (const [kind, n] of [['Deployment', p.name], ['Service', p.serviceName]] as const) {
      const key = `${kind}/${p.namespace}/${n}`;
      const other = seen.get(key);
      if (other) throw new ValuesError(`meshes[${p.mesh}]: ${kind} ${p.namespace}/${n} collides with the one of ${other}; set service.name or namespace`);
      seen.set(key, `meshes[${p.mesh}] (${p.role})`);
    }
  }
  return plans;
}

function imageRef(i: { registry: string; repository: string; tag: string }): string {
  return `${i.registry ? `${i.registry}/` : ''}${i.repository}:${i.tag}`;
}

export function renderZoneProxy(p: ZoneProxyPlan, values: Values, ctx: RenderContext): Obj[] {
  const selector = { app: p.name, 'app.kubernetes.io/name': 'skein-zone-proxy', 'app.kubernetes.io/instance': ctx.release };
  const meshLabel = labelValue(p.mesh);
  const common: Record<string, string> = { ...selector, ...(meshLabel ? { [MESH]: meshLabel } : {}) };
  const podAnnotations: Record<string, string> = { [MESH]: p.mesh };
  for (const port of p.ports) podAnnotations[port.listener === 'ingress' ? ZONE_INGRESS_PORT : ZONE_EGRESS_PORT] = String(port.targetPort);
  const podSpec: IPodSpec = {
    serviceAccountName: p.name,
    automountServiceAccountToken: true,
    terminationGracePeriodSeconds: values.meshZoneProxyDefaults.terminationGracePeriodSeconds,
    securityContext: { runAsUser: 5678, runAsGroup: 5678, seccompProfile: { type: 'RuntimeDefault' } },
    containers: [
      {
        name: 'pause',
        image: imageRef(p.image),
        imagePullPolicy: 'IfNotPresent',
        securityContext: { readOnlyRootFilesystem: true, runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
        resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '16Mi' } },
      },
    ],
  };
  if (Object.keys(p.nodeSelector).length > 0) podSpec.nodeSelector = p.nodeSelector;
  if (p.tolerations.length > 0) podSpec.tolerations = p.tolerations as IPodSpec['tolerations'];
  if (p.resources) (podSpec as unknown as Obj)['resources'] = p.resources; // pod-level resources: newer than these types

  const deploymentSpec: IDeploymentSpec = {
    selector: { matchLabels: selector },
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
    template: {
      metadata: { labels: { ...common, [SIDECAR_INJECTION]: 'enabled', [ZONE_PROXY_TYPE]: p.role }, annotations: podAnnotations },
      spec: podSpec,
    },
  };
  if (!p.hpa.enabled) deploymentSpec.replicas = p.replicas;
  const meta = (name: string, labels: Record<string, string> = common, annotations?: Record<string, string>) => ({
    name,
    namespace: p.namespace,
    labels,
    ...(annotations && Object.keys(annotations).length > 0 ? { annotations } : {}),
  });

  const objects: Obj[] = [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(p.name) } satisfies IServiceAccount,
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(p.serviceName, { ...common, [ZONE_PROXY_TYPE]: p.role, ...p.service.labels }, p.service.annotations),
      spec: {
        type: p.service.type,
        selector,
        ports: p.ports.map((port) => ({ name: port.name, protocol: 'TCP', port: port.port, targetPort: port.targetPort })),
      },
    } satisfies IService,
    { apiVersion: 'apps/v1', kind: 'Deployment', metadata: meta(p.name, { ...common, ...p.deploymentLabels }, p.deploymentAnnotations), spec: deploymentSpec } satisfies IDeployment,
  ];
  if (p.hpa.enabled) {
    objects.push({
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: meta(p.name),
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: p.name },
        minReplicas: p.hpa.minReplicas,
        maxReplicas: p.hpa.maxReplicas!, // always set: the defaults have it
        metrics: (p.hpa.metrics as NonNullable<IHorizontalPodAutoscaler['spec']>['metrics']) ?? [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: p.hpa.targetCPUUtilizationPercentage } } }],
      },
    } satisfies IHorizontalPodAutoscaler);
  }
  if (p.pdb.enabled) {
    objects.push({ apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: meta(p.name), spec: { maxUnavailable: p.pdb.maxUnavailable, selector: { matchLabels: selector } } } satisfies IPodDisruptionBudget);
  }
  return objects;
}
