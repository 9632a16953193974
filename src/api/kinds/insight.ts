// Insights are written by the control plane itself (subscriptions, stats), never over the API, so
// their schemas accept any fields.
import type { ResourceDescriptor } from '../descriptor.js';
import type { Scope } from '../resource.js';
import { anyObject } from '../schema.js';

export function insightDescriptor(name: string, scope: Scope, path: string, singular: string, plural: string): ResourceDescriptor {
  return {
    name,
    scope,
    path,
    cliArg: singular,
    cliListArg: plural,
    singularDisplayName: displayName(name),
    pluralDisplayName: `${displayName(name)}s`,
    readOnly: true,
    flat: true,
    providedByZone: true,
    schema: anyObject,
  };
}

/** `ZoneIngressInsight` → `Zone Ingress Insight`. */
function displayName(type: string): string {
  return type.replace(/([a-z])([A-Z])/g, '$1 $2');
}
