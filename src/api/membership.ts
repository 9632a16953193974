// Mesh membership: a Mesh's `constraints.dataplaneProxy` decides by tags which Dataplanes may join it
// (Kuma's membership check on Dataplane create/update). Each tag set of the Dataplane (every inbound's
// tags, and the gateway's tags) is checked on its own:
//   - requirements: when any exist, the tag set must match at least one of them;
//   - restrictions: the tag set must match none of them.
// A selector matches when each of its `key: value` pairs is in the tag set; the value `*` only asks
// for the key to be there with a non-empty value.
// A Dataplane without inbounds or gateway (e.g. a zone proxy) has no tag set, so nothing to check.
import type { Violation } from './resource.js';
import type { MeshSpec } from './kinds/mesh.js';
import type { DataplaneSpec } from './kinds/dataplane-spec.js';

type Tags = Record<string, string>;

/** True when every `key: value` of `selector` is in `tags` (`*`: any non-empty value). */
export function selectorMatches(selector: Tags, tags: Tags): boolean {
  return Object.entries(selector).every(([k, v]) => {
    const actual = tags[k];
    if (actual === undefined || actual === '') return false;
    return v === '*' || v === actual;
  });
}

/** `k1=v1 k2=v2`, keys sorted (how Kuma prints a tag set in these messages). */
export function formatTags(tags: Tags): string {
  return Object.keys(tags)
    .sort()
    .map((k) => `${k}=${tags[k]}`)
    .join(' ');
}

/** Each tag set of a Dataplane with the field it came from. */
function tagSets(dp: DataplaneSpec): { field: string; tags: Tags }[] {
  const sets = (dp.networking?.inbound ?? []).map((inbound, i) => ({ field: `networking.inbound[${i}].tags`, tags: inbound.tags ?? {} }));
  if (dp.networking?.gateway) sets.push({ field: 'networking.gateway.tags', tags: dp.networking.gateway.tags ?? {} });
  return sets;
}

/**
 * Why the Dataplane may not be a member of mesh `meshName` (empty when it may), one violation per
 * offending tag set, with Kuma's reason texts. `implicitTags` are tags every tag set is treated as
 * having unless it sets them itself (the CP's `kuma.io/zone`, which Kuma writes into every inbound).
 */
export function membershipViolations(meshName: string, mesh: MeshSpec, dp: DataplaneSpec, implicitTags: Tags = {}): Violation[] {
  const requirements = (mesh.constraints?.dataplaneProxy?.requirements ?? []).map((r) => r.tags ?? {});
  const restrictions = (mesh.constraints?.dataplaneProxy?.restrictions ?? []).map((r) => r.tags ?? {});
  if (requirements.length === 0 && restrictions.length === 0) return [];
  const out: Violation[] = [];
  for (const set of tagSets(dp)) {
    const tags = { ...implicitTags, ...set.tags };
    const prefix = `dataplane cannot be a member of mesh "${meshName}" because its tags "${formatTags(tags)}"`;
    if (requirements.length > 0 && !requirements.some((r) => selectorMatches(r, tags))) {
      out.push({ field: set.field, reason: `${prefix} does not fulfill any requirements defined on the Mesh` });
      continue;
    }
    const restricted = restrictions.find((r) => selectorMatches(r, tags));
    if (restricted) out.push({ field: set.field, reason: `${prefix} matches restricted tags "${formatTags(restricted)}" defined on the Mesh` });
  }
  return out;
}
