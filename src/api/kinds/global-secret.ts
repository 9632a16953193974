// GlobalSecret: a Secret without a mesh (signing keys, the admin token, ...).
import type { ResourceDescriptor } from '../descriptor.js';
import { secretSchema, validateSecretData } from './secret.js';

export const globalSecretDescriptor: ResourceDescriptor = {
  name: 'GlobalSecret',
  scope: 'Global',
  path: 'globalsecrets',
  altPaths: ['global-secrets'],
  cliArg: 'global-secret',
  cliListArg: 'global-secrets',
  cliAliases: ['globalsecret', 'globalsecrets'],
  singularDisplayName: 'Global Secret',
  pluralDisplayName: 'Global Secrets',
  adminOnly: true,
  flat: true,
  providedByGlobal: true,
  // Kuma computes zone labels for GlobalSecrets written on a zone CP (its own signing keys).
  providedByZone: true,
  schema: secretSchema,
  validate: validateSecretData,
};
