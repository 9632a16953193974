// The control plane's own objects: namespace, RBAC, config, TLS Secret, Service, Deployment and
// the injector's MutatingWebhookConfiguration.
// Types only (erased at build): the compiler checks field names against the Kubernetes API.
import type { IMutatingWebhook } from 'kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhook';
import type { IMutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhookConfiguration';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import type { IClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import YAML from 'yaml';
import { SIDECAR_INJECTION } from '../injector/annotations.js';
import type { WebhookCerts } from '../injector/certs.js';
import type { RenderContext } from './zone-proxies.js';
import type { Values } from './values.js';

type Obj = Record<string, unknown>;

export const TLS_DIR = '/var/run/secrets/skein/tls';
export const CONFIG_DIR = '/etc/skein';
export const DATA_DIR = '/var/lib/skein';
/** Webhook paths: the namespace opted in (label on the namespace), or the pod itself did. */
export const INJECT_PATH_NAMESPACE = '/inject-sidecar/namespace';
export const INJECT_PATH_POD = '/inject-sidecar';

export const cpName = (ctx: RenderContext) => `${ctx.release}-control-plane`;

function imageRef(i: { registry: string; repository: string; tag: string }): string {
  return `${i.registry ? `${i.registry}/` : ''}${i.repository}:${i.tag}`;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** The CP's config file (keys of `skein cp config --defaults`). */
export function cpConfig(values: Values, ctx: RenderContext): Obj {
  const cp = values.controlPlane;
  const svc = `${cpName(ctx)}.${ctx.namespace}.svc`;
  const config: Obj = {
    mode: cp.mode,
    environment: 'kubernetes',
    store: { type: 'embedded', dataDir: `${DATA_DIR}/data` },
    workDir: `${DATA_DIR}/work`,
    defaults: { skipMeshCreation: cp.defaults.skipMeshCreation },
    dpServer: { tlsCertFile: `${TLS_DIR}/tls.crt`, tlsKeyFile: `${TLS_DIR}/tls.key` },
    runtime: {
      kubernetes: {
        serverVersion: values.runtime.kubernetes.serverVersion,
        disallowMultipleMeshesPerNamespace: values.runtime.kubernetes.disallowMultipleMeshesPerNamespace,
        injector: {
          enabled: cp.injector.enabled && cp.mode !== 'global',
          port: cp.injector.port,
          certFile: `${TLS_DIR}/tls.crt`,
          keyFile: `${TLS_DIR}/tls.key`,
          caCertFile: `${TLS_DIR}/ca.crt`,
          sidecarImage: imageRef(values.dataPlane.image),
          controlPlaneUrl: `https://${svc}:5678`,
        },
      },
    },
  };
  if (cp.mode === 'zone') config['multizone'] = { zone: { name: cp.zone, globalAddress: cp.kdsGlobalAddress } };
  return config;
}

export function renderControlPlane(values: Values, ctx: RenderContext, certs: WebhookCerts): Obj[] {
  const cp = values.controlPlane;
  const name = cpName(ctx);
  // A global control plane has no workloads to inject.
  const injector = cp.injector.enabled && cp.mode !== 'global';
  const selector = { app: name, 'app.kubernetes.io/name': 'skein', 'app.kubernetes.io/instance': ctx.release };
  const labels = { ...selector, 'app.kubernetes.io/component': 'control-plane' };
  const meta = (n: string, namespaced = true) => ({ name: n, ...(namespaced ? { namespace: ctx.namespace } : {}), labels });
  const ports = [
    { name: 'http-api-server', port: 5681 },
    { name: 'dp-server', port: 5678 },
    { name: 'diagnostics', port: 5680 },
    ...(injector ? [{ name: 'admission', port: 443, targetPort: cp.injector.port }] : []),
    ...(cp.mode === 'global' ? [{ name: 'kds', port: 5685 }] : []),
  ];
  const objects: Obj[] = [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(name) } satisfies IServiceAccount,
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: meta(`${name}-config`),
      data: { 'config.yaml': YAML.stringify(cpConfig(values, ctx)) },
    } satisfies IConfigMap,
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: meta(`${ctx.release}-tls-cert`),
      type: 'kubernetes.io/tls',
      data: { 'tls.crt': b64(certs.certPem), 'tls.key': b64(certs.keyPem), 'ca.crt': b64(certs.caCertPem) },
    } satisfies ISecret,
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: meta(name, false),
      rules: [
        { apiGroups: [''], resources: ['namespaces', 'pods', 'nodes', 'services', 'endpoints'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['kuma.io'], resources: ['*'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
        // The injector asks the API server its version (native sidecars from 1.29).
        { nonResourceURLs: ['/version'], verbs: ['get'] },
      ],
    } satisfies IClusterRole,
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: meta(name, false),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace: ctx.namespace }],
    } satisfies IClusterRoleBinding,
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { ...meta(name), ...(Object.keys(cp.service.annotations).length > 0 ? { annotations: cp.service.annotations } : {}) },
      spec: {
        type: cp.service.type,
        selector,
        ports: ports.map((p) => ({ name: p.name, protocol: 'TCP', port: p.port, targetPort: p.targetPort ?? p.port })),
      },
    } satisfies IService,
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta(name),
      spec: {
        replicas: cp.replicas,
        selector: { matchLabels: selector },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: name,
            securityContext: { runAsNonRoot: true, runAsUser: 5678, runAsGroup: 5678, fsGroup: 5678, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [
              {
                name: 'control-plane',
                image: imageRef(cp.image),
                imagePullPolicy: 'IfNotPresent',
                command: ['skein'],
                args: ['cp', 'run', '--config-file', `${CONFIG_DIR}/config.yaml`],
                env: Object.entries(cp.envVars).map(([k, v]) => ({ name: k, value: v })),
                ports: ports.map((p) => ({ name: p.name.slice(0, 15), containerPort: p.targetPort ?? p.port, protocol: 'TCP' })),
                readinessProbe: { httpGet: { path: '/ready', port: 5680 }, periodSeconds: 5 },
                livenessProbe: { httpGet: { path: '/healthy', port: 5680 }, periodSeconds: 10, failureThreshold: 6 },
                resources: cp.resources,
                securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
                volumeMounts: [
                  { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
                  { name: 'tls-cert', mountPath: TLS_DIR, readOnly: true },
                  { name: 'data', mountPath: DATA_DIR },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
              },
            ],
            volumes: [
              { name: 'config', configMap: { name: `${name}-config` } },
              { name: 'tls-cert', secret: { secretName: `${ctx.release}-tls-cert` } },
              { name: 'data', emptyDir: {} },
              { name: 'tmp', emptyDir: {} },
            ],
          },
        },
      },
    } satisfies IDeployment,
  ];
  if (injector) objects.push(webhookConfiguration(values, ctx, certs) as unknown as Obj);
  return objects;
}

function webhookConfiguration(values: Values, ctx: RenderContext, certs: WebhookCerts): IMutatingWebhookConfiguration {
  const name = cpName(ctx);
  const enabled = ['enabled', 'true'];
  // The control plane's own pods never go through its webhook (it could not start otherwise).
  const notTheCp = { key: 'app', operator: 'NotIn', values: [name] };
  const common = (path: string): Omit<IMutatingWebhook, 'name'> => ({
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    failurePolicy: values.controlPlane.injector.failurePolicy,
    timeoutSeconds: 10,
    reinvocationPolicy: 'IfNeeded',
    clientConfig: { service: { name, namespace: ctx.namespace, path, port: 443 }, caBundle: b64(certs.caCertPem) },
    rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }],
  });
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: `${ctx.release}-admission-mutating-webhook-configuration`, labels: { app: name, 'app.kubernetes.io/name': 'skein', 'app.kubernetes.io/instance': ctx.release } },
    webhooks: [
      {
        name: 'namespace.sidecar-injector.skein.io',
        ...common(INJECT_PATH_NAMESPACE),
        namespaceSelector: { matchExpressions: [{ key: SIDECAR_INJECTION, operator: 'In', values: enabled }] },
        objectSelector: { matchExpressions: [notTheCp] },
      },
      {
        name: 'pod.sidecar-injector.skein.io',
        ...common(INJECT_PATH_POD),
        namespaceSelector: { matchExpressions: [{ key: SIDECAR_INJECTION, operator: 'NotIn', values: enabled }] },
        objectSelector: { matchExpressions: [{ key: SIDECAR_INJECTION, operator: 'In', values: enabled }, notTheCp] },
      },
    ],
  } satisfies IMutatingWebhookConfiguration;
}
