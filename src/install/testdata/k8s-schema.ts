// Test helper (not part of the build): validates a rendered object with the Kubernetes OpenAPI schemas of the
// kubernetes-models package (one model class per apiVersion/kind), and custom resources against
// the openAPIV3Schema of our own CRDs.
import { Ajv } from 'ajv';
import * as admissionregistrationV1 from 'kubernetes-models/admissionregistration.k8s.io/v1';
import * as apiextensionsV1 from 'kubernetes-models/apiextensions.k8s.io/v1';
import * as appsV1 from 'kubernetes-models/apps/v1';
import * as autoscalingV2 from 'kubernetes-models/autoscaling/v2';
import * as policyV1 from 'kubernetes-models/policy/v1';
import * as rbacV1 from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import * as coreV1 from 'kubernetes-models/v1';

type Obj = Record<string, unknown>;
interface Model {
  validate(): void;
}
type ModelClass = new (data: Obj) => Model;

/** The API groups/versions Skein renders (add one here when rendering a new one). */
const groups: Record<string, Record<string, unknown>> = {
  v1: coreV1,
  'apps/v1': appsV1,
  'rbac.authorization.k8s.io/v1': rbacV1,
  'admissionregistration.k8s.io/v1': admissionregistrationV1,
  'apiextensions.k8s.io/v1': apiextensionsV1,
  'autoscaling/v2': autoscalingV2,
  'policy/v1': policyV1,
};

function modelFor(apiVersion: string, kind: string): ModelClass {
  const cls = groups[apiVersion]?.[kind] as ModelClass | undefined;
  if (!cls) throw new Error(`no schema for ${apiVersion}/${kind}`);
  return cls;
}

/** Drops the `x-kubernetes-*` extensions ajv does not know. */
function plainSchema(s: unknown): unknown {
  if (Array.isArray(s)) return s.map(plainSchema);
  if (!s || typeof s !== 'object') return s;
  return Object.fromEntries(Object.entries(s as Obj).filter(([k]) => !k.startsWith('x-kubernetes-')).map(([k, v]) => [k, k === 'enum' ? v : plainSchema(v)]));
}

/** Throws with the object's kind/name and the schema's complaint when it is invalid. */
export async function validateObject(obj: Obj, crds: Obj[] = []): Promise<void> {
  const apiVersion = String(obj['apiVersion']);
  const kind = String(obj['kind']);
  const name = String((obj['metadata'] as Obj | undefined)?.['name']);
  try {
    const group = apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
    const crd = crds.find((c) => (c['spec'] as Obj)['group'] === group && ((c['spec'] as Obj)['names'] as Obj)['kind'] === kind);
    if (crd) {
      const version = ((crd['spec'] as Obj)['versions'] as Obj[]).find((v) => `${group}/${v['name']}` === apiVersion);
      if (!version) throw new Error(`CRD ${String((crd['metadata'] as Obj)['name'])} does not serve ${apiVersion}`);
      const ajv = new Ajv({ strict: false, allErrors: true });
      const check = ajv.compile(plainSchema((version['schema'] as Obj)['openAPIV3Schema']) as Obj);
      if (!check(obj)) throw new Error(ajv.errorsText(check.errors));
      return;
    }
    const Model = modelFor(apiVersion, kind);
    new Model(obj).validate();
  } catch (err) {
    throw new Error(`${apiVersion} ${kind} ${name}: ${(err as Error).message}`, { cause: err });
  }
}
