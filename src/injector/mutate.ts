// The sidecar injector's decision and patch, as a pure function: a Pod (as the API server sends it
// in an AdmissionReview) and the injector's options in, a JSONPatch (or a refusal) out.
//
// What it adds, as Kuma does:
// - `kuma-init`: an init container that redirects the pod's traffic to the proxy (iptables, run
//   as root with NET_ADMIN/NET_RAW);
// - `kuma-sidecar`: `skein dp run` registering a Dataplane for the pod (inbounds from the
//   container ports, or zone proxy listeners for zone proxy pods). On Kubernetes ≥ 1.29 it is a
//   native sidecar (init container with `restartPolicy: Always` and a startup probe on the DP's
//   readiness endpoint, so the app starts once the proxy is configured); before, a classic container.
// Types only (erased at build): the compiler checks field names against the Kubernetes API.
import type { IContainer } from 'kubernetes-models/v1/Container';
import YAML from 'yaml';
import {
  INBOUND_REDIRECT_PORT,
  INIT_CONTAINER,
  MESH,
  OUTBOUND_REDIRECT_PORT,
  READINESS_PORT,
  SIDECAR_CONTAINER,
  SIDECAR_INJECTED,
  SIDECAR_INJECTION,
  SIDECAR_UID,
  SIDECAR_UID_VALUE,
  TRANSPARENT_PROXYING,
  ZONE_EGRESS_PORT,
  ZONE_INGRESS_PORT,
  ZONE_PROXY_TYPE,
} from './annotations.js';

type Obj = Record<string, unknown>;

export interface KubernetesVersion {
  major: number;
  minor: number;
}

export interface InjectorOptions {
  /** Image with the `skein` binary (the sidecar and kuma-init run it). */
  sidecarImage: string;
  /** DP server URL the sidecar dials (`KUMA_CONTROL_PLANE_URL`). */
  controlPlaneUrl: string;
  /** PEM of the CA that signed the DP server certificate (`KUMA_CONTROL_PLANE_CA_CERT`). */
  caCertPem?: string;
  /** Cluster version; undefined = unknown, classic sidecar. */
  kubernetesVersion?: KubernetesVersion;
  /** The request's namespace (a pod being created may not carry it yet). */
  namespace: string;
  /** The pod's namespace has `kuma.io/sidecar-injection: enabled` (which webhook called us). */
  namespaceInjection: boolean;
  /** `runtime.kubernetes.disallowMultipleMeshesPerNamespace` */
  disallowMultipleMeshesPerNamespace?: boolean;
  /** Meshes already used by pods of this namespace (for the check above). */
  meshesInNamespace?: string[];
}

export interface JsonPatchOp {
  op: 'add' | 'replace';
  path: string;
  value: unknown;
}

export type MutateResult =
  | { allowed: true; injected: false; reason: string }
  | { allowed: true; injected: true; mesh: string; patch: JsonPatchOp[]; native: boolean; zoneProxy: boolean }
  | { allowed: false; code: number; message: string };

/** `1.30`, `v1.29.3`, `1.28+` → {major, minor}. */
export function parseKubernetesVersion(s: string): KubernetesVersion | undefined {
  const m = /^v?(\d+)\.(\d+)/.exec(s.trim());
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
}

export function supportsNativeSidecars(v: KubernetesVersion | undefined): boolean {
  return v !== undefined && (v.major > 1 || (v.major === 1 && v.minor >= 29));
}

const MESH_NAME = /^[0-9a-z-_.]{1,253}$/;

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function mutatePod(pod: Obj, opts: InjectorOptions): MutateResult {
  const meta = (pod['metadata'] ?? {}) as Obj;
  const spec = (pod['spec'] ?? {}) as Obj;
  const annotations = { ...((meta['annotations'] ?? {}) as Record<string, string>) };
  const labels = (meta['labels'] ?? {}) as Record<string, string>;
  const containers = (spec['containers'] ?? []) as Obj[];
  const initContainers = (spec['initContainers'] ?? []) as Obj[];

  const setting = annotations[SIDECAR_INJECTION] ?? labels[SIDECAR_INJECTION];
  if (setting !== undefined && !['enabled', 'true', 'disabled', 'false'].includes(setting)) {
    return { allowed: false, code: 422, message: `${SIDECAR_INJECTION}: unsupported value "${setting}", use enabled or disabled` };
  }
  const wanted = setting === undefined ? opts.namespaceInjection : setting === 'enabled' || setting === 'true';
  if (!wanted) return { allowed: true, injected: false, reason: setting === undefined ? 'injection is not enabled for this pod or namespace' : `${SIDECAR_INJECTION}: ${setting}` };
  if ([...containers, ...initContainers].some((c) => c['name'] === SIDECAR_CONTAINER)) {
    return { allowed: true, injected: false, reason: 'the pod already has a sidecar' };
  }

  const mesh = annotations[MESH] ?? labels[MESH] ?? 'default';
  if (!MESH_NAME.test(mesh)) {
    return { allowed: false, code: 422, message: `${MESH}: "${mesh}" is not a valid mesh name (numbers, lowercase latin letters and '-', '_', '.')` };
  }
  const others = (opts.meshesInNamespace ?? []).filter((m) => m !== mesh);
  // Zone proxies of every mesh share the system namespace by design: they are not workloads.
  if (opts.disallowMultipleMeshesPerNamespace && others.length > 0 && !isZoneProxyPod(labels)) {
    return {
      allowed: false,
      code: 403,
      message: `namespace "${opts.namespace}" already has pods in mesh ${others.map((m) => `"${m}"`).join(', ')}; a pod in mesh "${mesh}" is refused because runtime.kubernetes.disallowMultipleMeshesPerNamespace is on`,
    };
  }

  const native = supportsNativeSidecars(opts.kubernetesVersion);
  const sidecar = sidecarContainer(pod, mesh, opts, native);
  const init = initContainer(opts);
  // Native: the proxy is up before the pod's own init containers run. Classic: nothing proxies
  // yet, so kuma-init goes last and the pod's init containers keep a plain network (as in Kuma).
  const newInit = native ? [init, sidecar, ...initContainers] : [...initContainers, init];
  const newContainers = native ? containers : [...containers, sidecar];
  const volumes = [...((spec['volumes'] ?? []) as Obj[]), { name: 'kuma-sidecar-tmp', emptyDir: {} }];
  Object.assign(annotations, {
    [MESH]: mesh,
    [SIDECAR_INJECTED]: 'true',
    [SIDECAR_UID]: String(SIDECAR_UID_VALUE),
    [TRANSPARENT_PROXYING]: 'enabled',
  });
  // `add` on an existing member replaces it: one op per field we change, whole values.
  const patch: JsonPatchOp[] = [
    { op: 'add', path: '/metadata/annotations', value: annotations },
    { op: 'add', path: '/spec/initContainers', value: newInit },
    { op: 'add', path: '/spec/containers', value: newContainers },
    { op: 'add', path: '/spec/volumes', value: volumes },
  ];
  return { allowed: true, injected: true, mesh, patch, native, zoneProxy: isZoneProxyPod(labels) };
}

export function isZoneProxyPod(labels: Record<string, string>): boolean {
  return ['all', 'ingress', 'egress'].includes(labels[ZONE_PROXY_TYPE] ?? '');
}

/** Pod name: set, or the generateName prefix the API server will complete. */
function podName(meta: Obj): string {
  return str(meta['name']) ?? str(meta['generateName'])?.replace(/-$/, '') ?? 'pod';
}

/** The service a pod's inbounds belong to: Kuma's `<name>_<namespace>_svc_<port>` shape, from the app label. */
function serviceOf(meta: Obj): string {
  const labels = (meta['labels'] ?? {}) as Record<string, string>;
  return labels['app.kubernetes.io/name'] ?? labels['app'] ?? podName(meta).replace(/-[a-z0-9]{5,10}(-[a-z0-9]{5})?$/, '');
}

/** The Dataplane the sidecar registers; `{{ name }}` and `{{ address }}` are filled in by `skein dp run`. */
export function dataplaneTemplate(pod: Obj, mesh: string, namespace: string): Obj {
  const meta = (pod['metadata'] ?? {}) as Obj;
  const labels = (meta['labels'] ?? {}) as Record<string, string>;
  const annotations = (meta['annotations'] ?? {}) as Record<string, string>;
  const dpLabels: Record<string, string> = { 'k8s.kuma.io/namespace': namespace };
  const zoneProxyType = labels[ZONE_PROXY_TYPE];
  if (isZoneProxyPod(labels)) {
    dpLabels['kuma.io/proxy-type'] = 'zoneproxy';
    dpLabels['kuma.io/zone-proxy-role'] = zoneProxyType;
    const listeners: Obj[] = [];
    const ing = Number(annotations[ZONE_INGRESS_PORT]);
    const eg = Number(annotations[ZONE_EGRESS_PORT]);
    if (zoneProxyType !== 'egress' && ing > 0) listeners.push({ type: 'ZoneIngress', address: '{{ address }}', port: ing });
    if (zoneProxyType !== 'ingress' && eg > 0) listeners.push({ type: 'ZoneEgress', address: '{{ address }}', port: eg });
    return { type: 'Dataplane', mesh, name: `{{ name }}.${namespace}`, labels: dpLabels, networking: { address: '{{ address }}', ...(listeners.length > 0 ? { listeners } : {}) } };
  }
  const service = serviceOf(meta);
  const ports = ((pod['spec'] as Obj | undefined)?.['containers'] as Obj[] | undefined ?? [])
    .flatMap((c) => ((c['ports'] ?? []) as Obj[]).filter((p) => (p['protocol'] ?? 'TCP') === 'TCP').map((p) => Number(p['containerPort'])))
    .filter((p) => p > 0);
  const inbound = [...new Set(ports)].map((port) => ({
    port,
    tags: { 'kuma.io/service': `${service}_${namespace}_svc_${port}`, 'kuma.io/protocol': annotations[`${port}.service.kuma.io/protocol`] ?? 'tcp', 'k8s.kuma.io/namespace': namespace },
  }));
  return {
    type: 'Dataplane',
    mesh,
    name: `{{ name }}.${namespace}`,
    labels: dpLabels,
    networking: {
      address: '{{ address }}',
      inbound,
      transparentProxying: { redirectPortInbound: INBOUND_REDIRECT_PORT, redirectPortOutbound: OUTBOUND_REDIRECT_PORT },
    },
  };
}

function sidecarContainer(pod: Obj, mesh: string, opts: InjectorOptions, native: boolean): IContainer {
  const probe = { httpGet: { path: '/ready', port: READINESS_PORT }, periodSeconds: 1, failureThreshold: 600, timeoutSeconds: 3 };
  const env: IContainer['env'] = [
    { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
    { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } } },
    { name: 'INSTANCE_IP', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'status.podIP' } } },
    { name: 'KUMA_CONTROL_PLANE_URL', value: opts.controlPlaneUrl },
    ...(opts.caCertPem ? [{ name: 'KUMA_CONTROL_PLANE_CA_CERT', value: opts.caCertPem }] : []),
    { name: 'KUMA_DATAPLANE_MESH', value: mesh },
    { name: 'KUMA_DATAPLANE_RUNTIME_TOKEN_PATH', value: '/var/run/secrets/kubernetes.io/serviceaccount/token' },
    { name: 'KUMA_READINESS_PORT', value: String(READINESS_PORT) },
    { name: 'SKEIN_DP_WORK_DIR', value: '/tmp/skein-dp' },
  ];
  const container: IContainer = {
    name: SIDECAR_CONTAINER,
    image: opts.sidecarImage,
    imagePullPolicy: 'IfNotPresent',
    command: ['skein'],
    // Kubernetes expands $(VAR) from the container's env.
    args: ['dp', 'run', '--dataplane', YAML.stringify(dataplaneTemplate(pod, mesh, opts.namespace)), '--dataplane-var', 'name=$(POD_NAME)', '--dataplane-var', 'address=$(INSTANCE_IP)'],
    env,
    securityContext: { runAsUser: SIDECAR_UID_VALUE, runAsGroup: SIDECAR_UID_VALUE, runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
    resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '1', memory: '512Mi' } },
    readinessProbe: { httpGet: { path: '/ready', port: READINESS_PORT }, periodSeconds: 5, failureThreshold: 12 },
    volumeMounts: [{ name: 'kuma-sidecar-tmp', mountPath: '/tmp' }],
  };
  if (native) {
    container.restartPolicy = 'Always';
    container.startupProbe = probe;
  }
  return container;
}

function initContainer(opts: InjectorOptions): IContainer {
  // Probes the kubelet sends to app ports are not redirected; nor is the DP's own readiness port.
  const exclude = [READINESS_PORT];
  return {
    name: INIT_CONTAINER,
    image: opts.sidecarImage,
    imagePullPolicy: 'IfNotPresent',
    command: ['skein'],
    args: [
      'install', 'transparent-proxy',
      '--redirect-inbound-port', String(INBOUND_REDIRECT_PORT),
      '--redirect-outbound-port', String(OUTBOUND_REDIRECT_PORT),
      '--kuma-dp-uid', String(SIDECAR_UID_VALUE),
      '--exclude-inbound-ports', exclude.join(','),
    ],
    securityContext: { runAsUser: 0, runAsGroup: 0, runAsNonRoot: false, readOnlyRootFilesystem: true, capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] } },
    resources: { requests: { cpu: '20m', memory: '20Mi' }, limits: { cpu: '100m', memory: '50Mi' } },
  };
}
