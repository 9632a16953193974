// Multi-zone test helpers: REST shortcuts, a global CP with zone CPs over KDS, and waits for what
// global syncs to the zones. Shared by the multi-zone e2e tests.
import fs from 'node:fs';
import path from 'node:path';
import { api, startCp, waitFor, type CpOptions, type RunningCp } from './harness.js';
import { adminGet, writeFile, type RunningDp } from './dp-harness.js';

export type Item = { type: string; mesh?: string; name: string; labels?: Record<string, string>; spec?: Record<string, unknown>; zone?: string };

/** The items of a list endpoint; throws on any status but 200. */
export async function list(cp: RunningCp, p: string): Promise<Item[]> {
  const res = await api(cp.apiUrl, 'GET', p);
  if (res.status !== 200) throw new Error(`GET ${p}: ${res.status} ${res.text}`);
  return (res.body as { items: Item[] }).items;
}

/** Creates or updates a resource; throws unless 200/201. */
export async function put(cp: RunningCp, p: string, body: unknown): Promise<void> {
  const res = await api(cp.apiUrl, 'PUT', p, body);
  if (res.status !== 200 && res.status !== 201) throw new Error(`PUT ${p}: ${res.status} ${res.text}`);
}

/** A global CP serving KDS on `kdsPort`; its DP server certificate lands in `globalWork` for the zones. */
export function startGlobal(kdsPort: number, globalWork: string, opts: CpOptions = {}): Promise<RunningCp> {
  return startCp({ ...opts, workDir: globalWork, args: ['--mode', 'global', '--kds-port', String(kdsPort), ...(opts.args ?? [])] });
}

/** A zone CP syncing with the global CP started by `startGlobal(kdsPort, globalWork)`. */
export function startZone(kdsPort: number, globalWork: string, zone: string, opts: CpOptions = {}): Promise<RunningCp> {
  return startCp({
    ...opts,
    args: ['--mode', 'zone', '--zone', zone, '--global-address', `grpcs://127.0.0.1:${kdsPort}`, '--kds-root-ca-file', path.join(globalWork, 'dp-server.crt'), ...(opts.args ?? [])],
  });
}

/** Waits until the zone holds the mesh's builtin CA (backend ca-1) and its dataplane token signing key. */
export function waitForMeshCa(zone: RunningCp, mesh: string, what: string, timeoutMs = 20_000): Promise<true> {
  return waitFor(async () => {
    const names = (await list(zone, `/meshes/${mesh}/secrets`)).map((i) => i.name);
    return names.includes(`${mesh}.ca-builtin-cert-ca-1`) && names.some((n) => n.startsWith(`dataplane-token-signing-key-${mesh}`)) ? true : undefined;
  }, { what, timeoutMs });
}

/**
 * Creates mesh `default` on global (builtin CA ca-1, STRICT mTLS) with an allow-all
 * MeshTrafficPermission, and waits until every zone has its CA, signing key and the permission.
 */
export async function strictDefaultMesh(global: RunningCp, zones: RunningCp[]): Promise<void> {
  await put(global, '/meshes/default', {
    type: 'Mesh', name: 'default', mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin', mode: 'STRICT' }] },
  });
  await put(global, '/meshes/default/meshtrafficpermissions/allow-all', {
    type: 'MeshTrafficPermission', mesh: 'default', name: 'allow-all',
    spec: { targetRef: { kind: 'Mesh' }, from: [{ targetRef: { kind: 'Mesh' }, default: { action: 'Allow' } }] },
  });
  // Zones issue certificates from global's CA and verify tokens with global's signing key.
  for (const zone of zones) {
    await waitForMeshCa(zone, 'default', 'CA and signing key on the zone');
    await waitFor(async () => (await list(zone, '/meshes/default/meshtrafficpermissions')).some((i) => i.labels?.['kuma.io/display-name'] === 'allow-all') || undefined, {
      what: 'allow-all on the zone',
    });
  }
}

/** A dataplane token from the CP's API (`POST /tokens/dataplane`), as a file in `dir`. */
export async function dpTokenFile(cp: RunningCp, dir: string, mesh: string, name: string): Promise<string> {
  const res = await api(cp.apiUrl, 'POST', '/tokens/dataplane', { mesh, name, validFor: '1h' });
  if (res.status !== 200) throw new Error(`POST /tokens/dataplane: ${res.status} ${res.text}`);
  return writeFile(dir, `${mesh}-${name}.token`, res.text.trim());
}

/** A zone token issued by global (`POST /tokens/zone`), as a file in `dir`. */
export async function zoneTokenFile(global: RunningCp, dir: string, zone: string, scope: string[]): Promise<string> {
  const res = await api(global.apiUrl, 'POST', '/tokens/zone', { zone, scope, validFor: '1h' });
  if (res.status !== 200) throw new Error(`POST /tokens/zone: ${res.status} ${res.text}`);
  const file = path.join(dir, `${zone}-${scope.join('-')}.token`);
  fs.writeFileSync(file, res.text.trim());
  return file;
}

/** Sum of a counter over every stat whose name matches (0 when none). */
export async function statSum(dp: RunningDp, re: RegExp): Promise<number> {
  return (await adminGet(dp, '/stats'))
    .split('\n')
    .map((l) => l.split(':'))
    .filter((parts) => re.test(parts.slice(0, -1).join(':')))
    .reduce((sum, parts) => sum + Number(parts.at(-1)!.trim()), 0);
}
