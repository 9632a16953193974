// Secret (mesh-scoped) and the base64 `data` rule it shares with GlobalSecret.
import type { ResourceDescriptor } from '../descriptor.js';
import type { Resource, Violation } from '../resource.js';
import { object, string } from '../schema.js';

export interface SecretSpec {
  data?: string;
}

export const secretSchema = object({ data: string });

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function validateSecretData(res: Resource): Violation[] {
  const data = (res.spec as SecretSpec).data;
  if (!data) return [{ field: 'data', reason: 'cannot be empty' }];
  if (!BASE64.test(data)) return [{ field: 'data', reason: 'must be a valid base64 string' }];
  return [];
}

export const secretDescriptor: ResourceDescriptor = {
  name: 'Secret',
  scope: 'Mesh',
  path: 'secrets',
  cliArg: 'secret',
  cliListArg: 'secrets',
  singularDisplayName: 'Secret',
  pluralDisplayName: 'Secrets',
  adminOnly: true,
  flat: true,
  providedByGlobal: true,
  providedByZone: true,
  schema: secretSchema,
  validate: validateSecretData,
};
