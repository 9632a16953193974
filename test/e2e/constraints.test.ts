// Mesh `constraints.dataplaneProxy` end to end: a real control plane refuses Dataplanes whose tags
// break the mesh's requirements/restrictions, on `skein apply` / the REST API (400, invalid_parameters)
// and at bootstrap (422 naming the rule; `skein dp run` says why and exits), while valid proxies join.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { api, postJson, runSkein, startCp, tempDir, waitFor, type RunningCp } from '../harness.js';
import { dataplaneTokenFile, freePort, startDp, writeFile, type RunningDp } from '../dp-harness.js';

const MESH = `type: Mesh
name: demo
constraints:
  dataplaneProxy:
    requirements:
      - tags: { team: '*' }
    restrictions:
      - tags: { env: legacy }
`;

function dataplaneYaml(name: string, port: number, tags: Record<string, string>): string {
  const extra = Object.entries(tags).map(([k, v]) => `, ${k}: ${v}`).join('');
  return `type: Dataplane
mesh: demo
name: ${name}
networking:
  address: 127.0.0.1
  inbound:
    - port: ${port}
      servicePort: ${port + 1}
      tags: { kuma.io/service: ${name}${extra} }
`;
}

const NO_TEAM = 'dataplane cannot be a member of mesh "demo" because its tags "kuma.io/service=loner" does not fulfill any requirements defined on the Mesh';
const LEGACY = 'dataplane cannot be a member of mesh "demo" because its tags "env=legacy kuma.io/service=old team=core" matches restricted tags "env=legacy" defined on the Mesh';

describe('mesh constraints on data plane proxies', () => {
  let cp: RunningCp;
  let ca: string;
  const dir = tempDir('constraints');
  const dps: RunningDp[] = [];
  const apply = (yaml: string) => runSkein(['apply', '-f', '-', '--api-url', cp.apiUrl], { input: yaml });

  beforeAll(async () => {
    cp = await startCp({ store: 'memory' });
    ca = fs.readFileSync(cp.caCertFile, 'utf8');
    const res = await apply(MESH);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
  });
  afterAll(async () => {
    for (const dp of dps) await dp.stop();
    await cp?.stop();
  });

  it('refuses a Dataplane that breaks them at apply, naming the field and the rule', async () => {
    const missing = await apply(dataplaneYaml('loner', 21000, {}));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`networking.inbound[0].tags=${NO_TEAM}`);

    const restricted = await api(cp.apiUrl, 'PUT', '/meshes/demo/dataplanes/old', YAML.parse(dataplaneYaml('old', 21002, { team: 'core', env: 'legacy' })));
    expect(restricted.status).toBe(400);
    expect(restricted.body).toMatchObject({ status: 400, detail: 'Resource is not valid', invalid_parameters: [{ field: 'networking.inbound[0].tags', reason: LEGACY }] });

    expect((await api(cp.apiUrl, 'GET', '/meshes/demo/dataplanes/loner')).status).toBe(404);
    expect((await api(cp.apiUrl, 'GET', '/meshes/demo/dataplanes/old')).status).toBe(404);

    const ok = await apply(dataplaneYaml('member', 21004, { team: 'core', env: 'prod' }));
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
  });

  it('refuses it at bootstrap with 422 naming the rule', async () => {
    const token = fs.readFileSync(await dataplaneTokenFile(cp, dir, 'demo', 'loner'), 'utf8').trim();
    const res = await postJson(`${cp.dpUrl}/bootstrap`, { mesh: 'demo', name: 'loner', dataplaneToken: token, dataplaneResource: dataplaneYaml('loner', 21000, {}) }, ca);
    expect(res.status).toBe(422);
    expect(res.text).toBe(`networking.inbound[0].tags: ${NO_TEAM}`);
  });

  it('`skein dp run` with a refused Dataplane logs the reason and exits 1; a valid one becomes ready', async () => {
    const port = await freePort();
    const refused = startDp(cp, ['--dataplane-file', writeFile(dir, 'old.yaml', dataplaneYaml('old', port, { team: 'core', env: 'legacy' })), '--dataplane-token-file', await dataplaneTokenFile(cp, dir, 'demo', 'old')]);
    dps.push(refused);
    const code = await waitFor(() => (refused.proc.exitCode === null ? undefined : refused.proc.exitCode), { timeoutMs: 15_000, what: 'refused data plane to exit' });
    expect(code).toBe(1);
    const lines = refused.logs().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: number; msg: string; status?: number });
    expect(lines).toContainEqual(expect.objectContaining({ level: 50, status: 422, msg: `bootstrap refused by the control plane: networking.inbound[0].tags: ${LEGACY}` }));
    expect(refused.logs()).not.toContain('bootstrap received');

    const validPort = await freePort();
    const valid = startDp(cp, ['--dataplane-file', writeFile(dir, 'web.yaml', dataplaneYaml('web', validPort, { team: 'core' })), '--dataplane-token-file', await dataplaneTokenFile(cp, dir, 'demo', 'web')]);
    dps.push(valid);
    await waitFor(() => valid.logs().includes('data plane is ready'), { timeoutMs: 20_000, what: 'valid data plane ready' });
  });

  it('changing the constraints leaves running proxies alone and admits what is now allowed', async () => {
    // Tighten: the running "web" proxy now matches a restriction; it keeps running and stays stored.
    const tightened = await apply(`${MESH}      - tags: { team: core }\n`);
    expect(tightened.code).toBe(0);
    expect((await api(cp.apiUrl, 'GET', '/meshes/demo/dataplanes/web')).status).toBe(200);
    const web = dps[1]!;
    expect(web.proc.exitCode).toBe(null);
    // A new proxy with those tags is refused now.
    const token = fs.readFileSync(await dataplaneTokenFile(cp, dir, 'demo', 'web-2'), 'utf8').trim();
    const refused = await postJson(`${cp.dpUrl}/bootstrap`, { dataplaneToken: token, dataplaneResource: dataplaneYaml('web-2', 21010, { team: 'core' }) }, ca);
    expect(refused.status).toBe(422);
    expect(refused.text).toContain('matches restricted tags "team=core" defined on the Mesh');

    // Drop the constraints: the proxy that had no team may bootstrap now.
    expect((await apply('type: Mesh\nname: demo\n')).code).toBe(0);
    const lonerToken = fs.readFileSync(await dataplaneTokenFile(cp, dir, 'demo', 'loner'), 'utf8').trim();
    const admitted = await postJson(`${cp.dpUrl}/bootstrap`, { dataplaneToken: lonerToken, dataplaneResource: dataplaneYaml('loner', 21000, {}) }, ca);
    expect(admitted.status).toBe(200);
    expect((await api(cp.apiUrl, 'GET', '/meshes/demo/dataplanes/loner')).status).toBe(200);
    expect((await api(cp.apiUrl, 'GET', '/meshes/demo')).status).toBe(200);
    expect(cp.logs()).not.toContain('bootstrap failed');
    expect(cp.proc.exitCode).toBe(null);
  });
});
