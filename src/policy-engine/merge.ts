// Merging of policy confs, least specific first: RFC 7396 JSON merge patch (objects merged key by
// key, later wins, null deletes, lists and scalars replaced), except "append" lists (Kuma's
// `Append*` fields: MeshProxyPatch `appendModifications`, MeshMetric `sidecar.profiles.appendProfiles`)
// which are the concatenation of that list from every conf, in order.

type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** RFC 7396: apply `patch` to `target`, returning a new value (inputs are not modified). */
export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  const out: Record<string, Json> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else if (value !== undefined) out[key] = mergePatch(out[key], value);
  }
  return out;
}

function clone(v: Json): Json {
  // Scalars are immutable: only lists (and objects inside them) need a copy.
  return v === null || typeof v !== 'object' ? v : structuredClone(v);
}

function getPath(v: Json, path: readonly string[]): Json {
  let cur = v;
  for (const seg of path) {
    if (!isObject(cur)) return undefined;
    cur = cur[seg];
  }
  return cur;
}

function setPath(v: Record<string, Json>, path: readonly string[], value: Json): void {
  let cur = v;
  for (const seg of path.slice(0, -1)) {
    if (!isObject(cur[seg])) cur[seg] = {};
    cur = cur[seg] as Record<string, Json>;
  }
  cur[path[path.length - 1]!] = value;
}

/**
 * Merge confs in order (later wins). Returns undefined for no confs. `appendPaths` name the list
 * fields that are concatenated instead of replaced (e.g. `[['appendModifications']]`).
 */
export function mergeConfs<T = Json>(confs: readonly Json[], appendPaths: readonly (readonly string[])[] = []): T | undefined {
  const present = confs.filter((c) => c !== undefined);
  if (present.length === 0) return undefined;
  let out: Json = undefined;
  for (const conf of present) out = mergePatch(out, conf);
  if (isObject(out)) {
    for (const path of appendPaths) {
      const lists = present.map((c) => getPath(c, path)).filter(Array.isArray);
      if (lists.length > 0) setPath(out, path, clone(lists.flat()));
    }
  }
  return out as T;
}
