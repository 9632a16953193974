// The real `skein` CLI binary against a real `skein cp run` (memory store), over the REST API only.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { api, runSkein, startCp, tempDir, type RunningCp } from '../harness.js';

const dataplaneYaml = (name: string, port: number, mesh = 'demo') => `type: Dataplane
mesh: ${mesh}
name: ${name}
networking:
  address: 127.0.0.1
  inbound:
    - port: ${port}
      servicePort: 8080
      tags:
        kuma.io/service: ${name.replace(/-\d+$/, '')}
        version: v1
`;

describe('skein CLI', () => {
  let cp: RunningCp;
  let dir: string;
  let configFile: string;
  // HOME points at a temp dir so nothing reads or writes the real ~/.skein.
  const env = () => ({ HOME: dir, SKEIN_API_URL: '', SKEIN_CONFIG: '' });
  /** The CLI pointed at the test control plane with --api-url. */
  const skein = (args: string[], input?: string) => runSkein(['--config-file', configFile, '--api-url', cp.apiUrl, ...args], { input, env: env() });
  /** The CLI using only its config file (no --api-url). */
  const skeinWithConfig = (args: string[]) => runSkein(['--config-file', configFile, ...args], { env: env() });
  const writeFile = (name: string, text: string) => {
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
    return file;
  };

  beforeAll(async () => {
    dir = tempDir('cli');
    configFile = path.join(dir, 'skein-config');
    cp = await startCp({ store: 'memory' });
  });
  afterAll(async () => {
    await cp?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('prints client and server versions', async () => {
    const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const res = await skein(['version']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toBe(`Client: Skein ${pkg.version}\nServer: Skein ${pkg.version}\n`);
  });

  describe('apply', () => {
    it('creates, then updates, a mesh from a file', async () => {
      const file = writeFile('mesh.yaml', 'type: Mesh\nname: demo\n');
      const created = await skein(['apply', '-f', file]);
      expect(created.code, created.stderr).toBe(0);
      expect(created.stdout).toBe('resource type="Mesh" name="demo" Created\n');
      const updated = await skein(['apply', '-f', file]);
      expect(updated.stdout).toBe('resource type="Mesh" name="demo" Updated\n');
      expect((await api(cp.apiUrl, 'GET', '/meshes/demo')).status).toBe(200);
    });

    it('applies a multi-document stream from stdin', async () => {
      const res = await skein(['apply', '-f', '-'], `${dataplaneYaml('web-1', 10001)}---\n${dataplaneYaml('web-2', 10002)}`);
      expect(res.code, res.stderr).toBe(0);
      expect(res.stdout).toBe('resource type="Dataplane" mesh="demo" name="web-1" Created\nresource type="Dataplane" mesh="demo" name="web-2" Created\n');
    });

    it('fills {{ variables }} from --var', async () => {
      const file = writeFile('templated.yaml', dataplaneYaml('{{ dp.name }}', 0).replace('port: 0', 'port: {{ port }}'));
      const res = await skein(['apply', '-f', file, '-v', 'dp.name=db-1', '--var', 'port=10003']);
      expect(res.code, res.stderr).toBe(0);
      expect(res.stdout).toBe('resource type="Dataplane" mesh="demo" name="db-1" Created\n');
      const dp = (await api(cp.apiUrl, 'GET', '/meshes/demo/dataplanes/db-1')).body as { networking: { inbound: { port: number }[] } };
      expect(dp.networking.inbound[0]!.port).toBe(10003);
    });

    it('--dry-run prints the resolved YAML and contacts no server', async () => {
      const file = writeFile('dry.yaml', 'type: Mesh\nname: "{{ name }}"\n');
      const res = await runSkein(['--api-url', 'http://127.0.0.1:1', 'apply', '--dry-run', '-f', file, '-v', 'name=dry'], { env: env() });
      expect(res.code, res.stderr).toBe(0);
      expect(YAML.parse(res.stdout)).toEqual({ type: 'Mesh', name: 'dry' });
      expect((await api(cp.apiUrl, 'GET', '/meshes/dry')).status).toBe(404);
    });

    it('applies the .yaml/.yml/.json files of a directory in name order and says where each resource came from', async () => {
      writeFile('dir/02-dataplane.json', JSON.stringify(YAML.parse(dataplaneYaml('api-1', 10001, 'other'))));
      writeFile('dir/01-mesh.yml', 'type: Mesh\nname: other\n');
      writeFile('dir/README.txt', 'not a resource');
      const res = await skein(['apply', '-f', path.join(dir, 'dir')]);
      expect(res.code, res.stderr).toBe(0);
      expect(res.stdout).toBe('01-mesh.yml: resource type="Mesh" name="other" Created\n02-dataplane.json: resource type="Dataplane" mesh="other" name="api-1" Created\n');
    });

    it('reports every bad document and applies nothing', async () => {
      const input = 'type: Mesh\nname: never\n---\ntype: Foo\nname: x\n---\ntype: Dataplane\nname: no-mesh\n---\ntype: Mesh\nname: [unclosed\n';
      const res = await skein(['apply', '-f', '-'], input);
      expect(res.code).toBe(1);
      expect(res.stdout).toBe('');
      expect(res.stderr).toContain('resource[1]: failed to parse resource: invalid resource type "Foo"\n');
      expect(res.stderr).toContain('resource[2]: failed to read meta: mesh: cannot be empty\n');
      expect(res.stderr).toMatch(/\nresource\[3\]: failed to parse resource: [^\n]+ at line \d+, column \d+\n/);
      expect(res.stderr).toMatch(/Error: failed to validate some resources\n$/);
      expect((await api(cp.apiUrl, 'GET', '/meshes/never')).status).toBe(404);
    });

    it('prints the server error of a resource the control plane rejects', async () => {
      const res = await skein(['apply', '-f', '-'], 'type: Dataplane\nmesh: demo\nname: broken\nnetworking:\n  address: ""\n');
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/^Error: resource type="Dataplane" mesh="demo" name="broken": failed server side: Could not process a resource \(Resource is not valid\)(;[^;]+ )*;networking\.address=address can't be empty \n$/);
    });

    it('refuses an empty input and a missing -f', async () => {
      expect((await skein(['apply', '-f', '-'], '# nothing\n')).stderr).toBe('Error: no resource(s) passed to apply\n');
      expect((await skein(['apply'])).stderr).toBe('Error: required flag(s) "file" not set\n');
    });
  });

  describe('get', () => {
    it('lists meshes as a table', async () => {
      const res = await skein(['get', 'meshes']);
      expect(res.code, res.stderr).toBe(0);
      const lines = res.stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^NAME {3,}mTLS {3,}LOCALITY {3,}ZONEEGRESS {3,}AGE$/);
      expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['default', 'demo', 'other']);
      expect(lines.find((l) => l.startsWith('demo '))).toMatch(/^demo {3,}off {3,}off {3,}off {8,}\d+[sm]$/);
    });

    it('lists dataplanes with tags, address and status', async () => {
      const res = await skein(['get', 'dataplanes', '-m', 'demo']);
      expect(res.code, res.stderr).toBe(0);
      const lines = res.stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^MESH {3,}NAME {3,}TAGS {3,}ADDRESS {3,}AGE {3,}STATUS$/);
      expect(lines.slice(1)).toHaveLength(3);
      expect(lines[1]).toMatch(/^demo {3,}db-1 {3,}kuma\.io\/service=db-1 (kuma\.io\/zone=\S+ )?version=v1 {3,}127\.0\.0\.1 {3,}\d+[sm] {3,}Offline$/);
    });

    it('prints the REST shapes as JSON and YAML', async () => {
      const json = JSON.parse((await skein(['get', 'dataplanes', '-m', 'demo', '-o', 'json'])).stdout) as { total: number; items: { name: string }[] };
      expect(json.total).toBe(3);
      expect(json.items.map((i) => i.name)).toEqual(['db-1', 'web-1', 'web-2']);
      const yaml = YAML.parse((await skein(['get', 'mesh', 'demo', '-o', 'yaml'])).stdout) as Record<string, unknown>;
      expect(yaml).toMatchObject({ type: 'Mesh', name: 'demo' });
      const one = await skein(['get', 'dataplane', 'web-1', '-m', 'demo']);
      expect(one.stdout.trimEnd().split('\n')).toHaveLength(2);
      expect(one.stdout).toContain('web-1');
    });

    it('pages with --size and --offset', async () => {
      const first = await skein(['get', 'dataplanes', '-m', 'demo', '--size', '2']);
      expect(first.stdout.trimEnd().split('\n')).toHaveLength(5);
      expect(first.stdout).toMatch(/\n\nRerun command with --offset=2 argument to retrieve more resources\n$/);
      const rest = await skein(['get', 'dataplanes', '-m', 'demo', '--size', '2', '--offset', '2']);
      expect(rest.stdout).not.toContain('Rerun');
      expect(rest.stdout).toContain('web-2');
      expect(rest.stdout).not.toContain('web-1');
    });

    it('says what is not found and what is not a type', async () => {
      expect(await skein(['get', 'dataplane', 'nope', '-m', 'demo'])).toMatchObject({ code: 1, stderr: 'Error: No resources found in demo mesh\n' });
      expect(await skein(['get', 'mesh', 'nope'])).toMatchObject({ code: 1, stderr: 'Error: No resources found\n' });
      const unknown = await skein(['get', 'foos']);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toMatch(/^Error: unknown TYPE: foos\. Allowed values: .*\bdataplanes\b.*\bmeshes\b/);
      expect((await skein(['get', 'meshes', '-o', 'xml'])).stderr).toContain('output format "xml" is not supported');
    });
  });

  describe('inspect', () => {
    it('inspect meshes counts dataplanes online/total', async () => {
      const res = await skein(['inspect', 'meshes']);
      expect(res.code, res.stderr).toBe(0);
      const lines = res.stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^MESH {3,}DATAPLANES\b/);
      expect(lines.find((l) => l.startsWith('demo '))).toMatch(/^demo {3,}0\/3\b/);
      expect(lines.find((l) => l.startsWith('other '))).toMatch(/^other {3,}0\/1\b/);
    });

    it('inspect dataplanes shows each proxy offline before it connects', async () => {
      const res = await skein(['inspect', 'dataplanes', '-m', 'demo']);
      expect(res.code, res.stderr).toBe(0);
      const lines = res.stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^MESH {3,}NAME {3,}TAGS {3,}STATUS {3,}LAST CONNECTED AGO\b/);
      expect(lines.slice(1).map((l) => l.match(/ (Online|Offline) /)?.[1])).toEqual(['Offline', 'Offline', 'Offline']);
    });
  });

  describe('delete', () => {
    it('refuses to delete a mesh with dataplanes, then deletes it once they are gone', async () => {
      const refused = await skein(['delete', 'mesh', 'demo']);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('unable to delete mesh, there are still some dataplanes attached');
      for (const dp of ['web-1', 'web-2', 'db-1']) {
        expect(await skein(['delete', 'dataplane', dp, '-m', 'demo'])).toMatchObject({ code: 0, stdout: `deleted Dataplane "${dp}"\n` });
      }
      expect(await skein(['delete', 'mesh', 'demo'])).toMatchObject({ code: 0, stdout: 'deleted Mesh "demo"\n' });
      expect((await api(cp.apiUrl, 'GET', '/meshes/demo')).status).toBe(404);
    });

    it('says when there is nothing to delete or the arguments are wrong', async () => {
      expect(await skein(['delete', 'dataplane', 'api-9', '-m', 'other'])).toMatchObject({ code: 1, stderr: 'Error: there is no Dataplane with name "api-9"\n' });
      expect(await skein(['delete', 'mesh'])).toMatchObject({ code: 1, stderr: 'Error: accepts 2 arg(s), received 1\n' });
      expect((await skein(['delete', 'foo', 'x'])).stderr).toMatch(/^Error: unknown TYPE: foo\. Allowed values: /);
    });
  });

  describe('config', () => {
    it('adds, lists, uses, switches and removes control planes', async () => {
      const added = await skeinWithConfig(['config', 'control-planes', 'add', '--name', 'test', '--address', cp.apiUrl]);
      expect(added.code, added.stderr).toBe(0);
      expect(added.stdout).toBe('added Control Plane "test"\nswitched active Control Plane to "test"\n');

      const list = await skeinWithConfig(['config', 'control-planes', 'list']);
      expect(list.stdout).toMatch(/^ACTIVE {3}NAME {3,}ADDRESS\n {9}local {3,}http:\/\/localhost:5681\n\* {8}test {4,}http:\/\/127\.0\.0\.1:\d+\n$/);

      // No --api-url: the active context's address is used.
      const meshes = await skeinWithConfig(['get', 'meshes']);
      expect(meshes.code, meshes.stderr).toBe(0);
      expect(meshes.stdout).toContain('other');

      const duplicate = await skeinWithConfig(['config', 'control-planes', 'add', '--name', 'test', '--address', cp.apiUrl]);
      expect(duplicate.stderr).toBe('Error: Control Plane with name "test" already exists. Use --overwrite to replace an existing one.\n');
      const overwrite = await skeinWithConfig(['config', 'control-planes', 'add', '--name', 'test', '--address', cp.apiUrl, '--overwrite', '--auth-type', 'tokens', '--auth-conf', 'token=abc']);
      expect(overwrite.code, overwrite.stderr).toBe(0);

      const view = YAML.parse((await skeinWithConfig(['config', 'view'])).stdout) as { currentContext: string; controlPlanes: { name: string; coordinates: { apiServer: Record<string, unknown> } }[] };
      expect(view.currentContext).toBe('test');
      expect(view.controlPlanes.find((c) => c.name === 'test')!.coordinates.apiServer).toEqual({ url: cp.apiUrl, authType: 'tokens', authConf: { token: 'abc' } });

      expect((await skeinWithConfig(['config', 'control-planes', 'switch', '--name', 'local'])).stdout).toBe('switched active Control Plane to "local"\n');
      expect((await skeinWithConfig(['config', 'control-planes', 'switch', '--name', 'nope'])).stderr).toBe('Error: there is no Control Plane with name "nope"\n');
      expect((await skeinWithConfig(['config', 'control-planes', 'remove', '--name', 'test'])).stdout).toBe('removed Control Plane "test"\n');
      expect((await skeinWithConfig(['config', 'control-planes', 'list'])).stdout).not.toContain('test');
    });

    it('refuses to add a control plane it cannot reach', async () => {
      const res = await skeinWithConfig(['config', 'control-planes', 'add', '--name', 'down', '--address', 'http://127.0.0.1:1', '--api-timeout', '5s']);
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/^Error: could not reach the control plane at http:\/\/127\.0\.0\.1:1: /);
    });
  });

  it('generate dataplane-token prints a token bound to the given mesh, name and tags', async () => {
    const res = await skein(['generate', 'dataplane-token', '--mesh', 'other', '--name', 'api-1', '--tag', 'kuma.io/service=api,x', '--valid-for', '1h']);
    expect(res.code, res.stderr).toBe(0);
    const [, payload] = res.stdout.trim().split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')) as Record<string, unknown>;
    expect(claims).toMatchObject({ Mesh: 'other', Name: 'api-1', Tags: { 'kuma.io/service': ['api', 'x'] } });
    const refused = await skein(['generate', 'dataplane-token', '--mesh', 'nope', '--valid-for', '1h']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^Error: failed to generate a dataplane token: failed server side: .*mesh=mesh of name nope is not found \n$/);
  });

  it('generate dataplane-token requires --valid-for', async () => {
    expect(await skein(['generate', 'dataplane-token', '--name', 'web-1'])).toMatchObject({ code: 1, stderr: 'Error: required flag(s) "valid-for" not set\n' });
  });

  it('unknown commands fail with a kumactl-style error', async () => {
    const res = await skein(['frobnicate']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^Error: unknown command 'frobnicate'/);
  });
});
