// Small builders for the JSON schemas of resource specs (ajv, draft-07). Schemas are composed inline
// (no $ref) so validate.ts can walk them to tell struct fields from map keys when it names a field.

export type Schema = Record<string, unknown>;

/** A struct: only the listed fields are allowed. */
export function object(properties: Record<string, Schema>, required: string[] = []): Schema {
  return { type: 'object', properties, additionalProperties: false, ...(required.length > 0 ? { required } : {}) };
}

/** A map with free-form keys (tags, labels). */
export function mapOf(values: Schema): Schema {
  return { type: 'object', additionalProperties: values };
}

export function arrayOf(items: Schema): Schema {
  return { type: 'array', items };
}

export function oneOfValues(values: string[]): Schema {
  return { type: 'string', enum: values };
}

export const string: Schema = { type: 'string' };
export const integer: Schema = { type: 'integer' };
export const number: Schema = { type: 'number' };
export const boolean: Schema = { type: 'boolean' };
/** A free-form object (protobuf Struct, insights). */
export const anyObject: Schema = { type: 'object' };
/** A duration as a string (`5s`, `1m30s`); the format is checked by the semantic validators. */
export const duration: Schema = { type: 'string' };
export const stringMap: Schema = mapOf(string);
