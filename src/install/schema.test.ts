// Every object `skein install control-plane` renders, for every testdata values file, validates
// against the Kubernetes OpenAPI schemas (kubernetes-models); custom resources against our CRDs.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateObject } from './testdata/k8s-schema.js';
import { renderObjects } from './render.js';
import { FIXED_CERTS, TESTDATA, valuesCases } from './testdata/cases.js';
import { loadValues, ValuesError } from './values.js';

type Obj = Record<string, unknown>;

describe('rendered objects validate against the Kubernetes schemas', () => {
  for (const c of valuesCases()) {
    it(c, async () => {
      let objects: Obj[];
      try {
        objects = await renderObjects(loadValues({ files: [path.join(TESTDATA, `${c}.values.yaml`)] }), { certs: FIXED_CERTS });
      } catch (err) {
        if (err instanceof ValuesError) return; // error cases: render.test.ts checks the message
        throw err;
      }
      const crds = objects.filter((o) => o['kind'] === 'CustomResourceDefinition');
      for (const o of objects) await validateObject(o, crds);
    });
  }

  it('the validation can fail', async () => {
    const bad = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' }, spec: { replicas: 'two', selector: {}, template: {} } };
    await expect(validateObject(bad)).rejects.toThrow('apps/v1 Deployment x: data/spec/replicas must be integer');
    const crds = (await renderObjects(loadValues({}), { certs: FIXED_CERTS })).filter((o) => o['kind'] === 'CustomResourceDefinition');
    await expect(validateObject({ apiVersion: 'kuma.io/v1alpha1', kind: 'Mesh', metadata: { name: 'm' }, spec: { mtls: { enabledBackend: 7 } } }, crds)).rejects.toThrow('kuma.io/v1alpha1 Mesh m');
  });
});
