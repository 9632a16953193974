// Full validation of a resource before it is stored: the kind's JSON schema (errors named by Kuma
// field paths), meta rules, label rules, then the kind's semantic rules.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { descriptorByName, type ResourceDescriptor } from './descriptor.js';
import { validateLabels, validateMeshName, validateName, type ApiContext } from './meta.js';
import { joinField, type Resource, type Violation } from './resource.js';
import { key } from './rules.js';
import type { Schema } from './schema.js';

const ajv = new Ajv({ allErrors: true, strict: false });
const compiled = new Map<string, ValidateFunction>();

function validatorFor(d: ResourceDescriptor): ValidateFunction {
  let fn = compiled.get(d.name);
  if (!fn) {
    fn = ajv.compile(d.schema);
    compiled.set(d.name, fn);
  }
  return fn;
}

/** Every violation of a resource, in order: schema, meta, labels, semantic (only for schema-valid specs). */
export function validateResource(res: Resource, ctx: ApiContext): Violation[] {
  const d = descriptorByName(res.type);
  if (!d) return [{ field: 'type', reason: `invalid resource type "${res.type}"` }];
  const schemaViolations = validateSpecSchema(d, res.spec);
  const out = [...schemaViolations, ...validateName(res.name)];
  if (d.scope === 'Mesh') out.push(...validateMeshName(res.mesh));
  out.push(...validateLabels(res, ctx));
  // Semantic rules assume the types the schema promises.
  if (schemaViolations.length === 0 && d.validate) out.push(...d.validate(res));
  return out;
}

/** Schema violations of a spec, at resource-relative paths (`spec.` prefixed for plugin kinds). */
export function validateSpecSchema(d: ResourceDescriptor, spec: unknown): Violation[] {
  const fn = validatorFor(d);
  if (fn(spec)) return [];
  const prefix = d.flat ? '' : 'spec';
  return (fn.errors ?? []).map((e) => toViolation(d.schema, e, prefix));
}

function toViolation(schema: Schema, e: ErrorObject, prefix: string): Violation {
  const at = joinField(prefix, fieldPath(schema, e.instancePath));
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const name = String(params['additionalProperty']);
      return { field: joinField(at, memberPath(schemaAt(schema, e.instancePath), name)), reason: `unknown field "${name}"` };
    }
    case 'required': {
      const name = String(params['missingProperty']);
      return { field: joinField(at, name), reason: 'cannot be empty' };
    }
    case 'type':
      return { field: at, reason: `must be ${[params['type']].flat().map(article).join(' or ')}` };
    case 'enum':
      return { field: at, reason: `in body should be one of [${(params['allowedValues'] as unknown[]).join(' ')}]` };
    case 'minimum':
      return { field: at, reason: `in body should be greater than or equal to ${params['limit']}` };
    case 'maximum':
      return { field: at, reason: `in body should be less than or equal to ${params['limit']}` };
    case 'pattern':
      return { field: at, reason: `in body should match '${params['pattern']}'` };
    case 'minLength':
      return { field: at, reason: Number(params['limit']) === 1 ? 'cannot be empty' : `in body should be at least ${params['limit']} chars long` };
    case 'maxLength':
      return { field: at, reason: `in body may not be longer than ${params['limit']}` };
    case 'minItems':
      return { field: at, reason: `in body should have at least ${params['limit']} items` };
    case 'maxItems':
      return { field: at, reason: `in body should have at most ${params['limit']} items` };
    default:
      return { field: at, reason: e.message ?? `failed ${e.keyword} check` };
  }
}

function article(type: unknown): string {
  const t = String(type);
  return t === 'integer' || t === 'object' || t === 'array' ? `an ${t}` : t === 'null' ? 'null' : `a ${t}`;
}

/** The sub-schema that defines a property, looking through allOf/anyOf/oneOf. */
function propertySchema(node: Schema | undefined, name: string): Schema | undefined {
  if (!node) return undefined;
  const props = node['properties'] as Record<string, Schema> | undefined;
  if (props && Object.hasOwn(props, name)) return props[name];
  for (const combinator of ['allOf', 'anyOf', 'oneOf']) {
    for (const sub of (node[combinator] as Schema[] | undefined) ?? []) {
      const found = propertySchema(sub, name);
      if (found) return found;
    }
  }
  return undefined;
}

/** How a member of `node` is written in a path: `.field` for struct fields, `["key"]` for map keys. */
function memberPath(node: Schema | undefined, name: string): string {
  if (propertySchema(node, name) || node?.['additionalProperties'] === false) return name;
  if (node && (typeof node['additionalProperties'] === 'object' || node['patternProperties'])) return key(name);
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : key(name);
}

function segments(instancePath: string): string[] {
  return instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function childSchema(node: Schema | undefined, seg: string): Schema | undefined {
  if (!node) return undefined;
  if (node['type'] === 'array' || node['items']) return node['items'] as Schema | undefined;
  const prop = propertySchema(node, seg);
  if (prop) return prop;
  const additional = node['additionalProperties'];
  return typeof additional === 'object' ? (additional as Schema) : undefined;
}

function schemaAt(schema: Schema, instancePath: string): Schema | undefined {
  let node: Schema | undefined = schema;
  for (const seg of segments(instancePath)) node = childSchema(node, seg);
  return node;
}

/** JSON pointer → Kuma field path: `/networking/inbound/0/tags/kuma.io~1service` → `networking.inbound[0].tags["kuma.io/service"]`. */
export function fieldPath(schema: Schema, instancePath: string): string {
  let node: Schema | undefined = schema;
  let out = '';
  for (const seg of segments(instancePath)) {
    const isIndex = /^\d+$/.test(seg) && (node?.['type'] === 'array' || node?.['items'] !== undefined || !node);
    out = isIndex ? `${out}[${seg}]` : joinField(out, memberPath(node, seg));
    node = childSchema(node, seg);
  }
  return out;
}
