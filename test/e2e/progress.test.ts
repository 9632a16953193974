// CLI progress: `skein dp run` says on stdout what it waits for (control plane, bootstrap, mesh,
// first configuration) and when it is ready; `skein apply -f a -f b …` reports per file and keeps
// going past a failed file.
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { api, runSkein, SKEIN_BIN, spawnNode, startCp, tempDir, waitFor, type RunningCp } from '../harness.js';
import { freePort, startHttpService, writeFile } from '../dp-harness.js';

describe('skein dp run progress', () => {
  const dir = tempDir('progress-dp');
  let cp: RunningCp | undefined;
  let dp: ChildProcess | undefined;
  const closers: (() => void)[] = [];

  afterAll(async () => {
    if (dp && dp.exitCode === null) {
      const exited = new Promise((r) => dp!.once('exit', r));
      dp.kill('SIGTERM');
      await exited;
    }
    closers.forEach((c) => c());
    await cp?.stop();
  });

  it('prints what it waits for: the control plane, the mesh, the first configuration, then ready', async () => {
    const dpPort = await freePort();
    const web = await startHttpService('web');
    closers.push(() => web.server.close());
    const inbound = await freePort();
    const file = writeFile(dir, 'web.yaml', `type: Dataplane
mesh: later
name: web-1
networking:
  address: 127.0.0.1
  inbound:
    - { port: ${inbound}, servicePort: ${web.port}, tags: { kuma.io/service: web } }
`);
    // The proxy starts first: no control plane yet, then one without its mesh.
    dp = spawnNode([SKEIN_BIN, 'dp', 'run', '--cp-address', `https://127.0.0.1:${dpPort}`, '--dataplane-file', file, '--work-dir', path.join(dir, 'dp')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    dp.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    dp.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const lines = () => stdout.split('\n').filter(Boolean);
    const seen = (re: RegExp, what: string) => waitFor(() => lines().some((l) => re.test(l)), { timeoutMs: 20_000, what: `${what}\nstdout:\n${stdout}\nstderr:\n${stderr.slice(-2000)}` });

    await seen(new RegExp(`^waiting for bootstrap from https://127\\.0\\.0\\.1:${dpPort} \\(mesh 'later', proxy 'web-1'\\)…$`), 'waiting for bootstrap');
    await seen(new RegExp(`^control plane not reachable at https://127\\.0\\.0\\.1:${dpPort} \\(.+\\), waiting for it…$`), 'control plane not reachable');

    cp = await startCp({ dpPort, args: ['--auth', 'none'] });
    await seen(/^mesh 'later' not found, waiting for it to be created…$/, 'mesh not found');
    expect((await api(cp.apiUrl, 'PUT', '/meshes/later', { type: 'Mesh', name: 'later' })).status).toBe(201);

    await seen(/^bootstrap received: node later\.web-1, xDS server /, 'bootstrap received');
    await seen(/^waiting for the first configuration \(listeners and clusters\) from the control plane…$/, 'waiting for first config');
    await seen(new RegExp(`^ready: 1 listener \\(inbound:127\\.0\\.0\\.1:${inbound}\\b.*\\), \\d+ clusters? \\(`), 'ready');
    // Each state once (not once per retry), in order; the JSON logs stay on stderr.
    const states = lines().map((l) => l.replace(/ \(.*$/, ''));
    expect(new Set(states).size).toBe(states.length);
    expect(lines().every((l) => !l.startsWith('{'))).toBe(true);
    expect(stderr).toContain('"msg":"first configuration applied; data plane is ready"');
  }, 90_000); // bootstrap retries back off up to 5 s, twice
});

describe('skein apply with several files', () => {
  let cp: RunningCp;
  const dir = tempDir('progress-apply');

  afterAll(async () => {
    await cp?.stop();
  });

  it('reports each file, continues past a failed one and exits non-zero', async () => {
    cp = await startCp();
    const a = writeFile(dir, 'a.yaml', 'type: Mesh\nname: alpha\n');
    const b = writeFile(dir, 'b.yaml', 'type: Mesh\nname: beta\n---\ntype: Foo\nname: x\n');
    const c = writeFile(dir, 'c.yaml', 'type: Dataplane\nmesh: nowhere\nname: dp-1\nnetworking:\n  address: 127.0.0.1\n  inbound:\n    - { port: 10001, servicePort: 8080, tags: { kuma.io/service: web } }\n');
    fs.mkdirSync(path.join(dir, 'more'));
    writeFile(dir, 'more/01-gamma.yaml', 'type: Mesh\nname: gamma\n');
    writeFile(dir, 'more/02-delta.yaml', 'type: Mesh\nname: delta\n');

    const res = await runSkein(['--api-url', cp.apiUrl, 'apply', '-f', a, '-f', b, '-f', c, '-f', path.join(dir, 'more')]);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe(
      `${a}: resource type="Mesh" name="alpha" Created\n` +
        `${path.join(dir, 'more', '01-gamma.yaml')}: resource type="Mesh" name="gamma" Created\n` +
        `${path.join(dir, 'more', '02-delta.yaml')}: resource type="Mesh" name="delta" Created\n`,
    );
    // b: an invalid document, so nothing of b is applied; c: the server refuses it (no such mesh).
    expect(res.stderr).toContain(`${b}: resource[1]: failed to parse resource: invalid resource type "Foo"\n`);
    expect(res.stderr).toContain(`${b}: failed to validate some resources\n`);
    expect(res.stderr).toMatch(new RegExp(`${c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: resource type="Dataplane" mesh="nowhere" name="dp-1": .*mesh`));
    expect(res.stderr).toMatch(/Error: 2 of 4 files failed \(.*b\.yaml, .*c\.yaml\); 2 applied\n$/);
    for (const [mesh, status] of [['alpha', 200], ['beta', 404], ['gamma', 200], ['delta', 200]] as const) {
      expect((await api(cp.apiUrl, 'GET', `/meshes/${mesh}`)).status, mesh).toBe(status);
    }

    const ok = await runSkein(['--api-url', cp.apiUrl, 'apply', '-f', a, '-f', path.join(dir, 'more')]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe(
      `${a}: resource type="Mesh" name="alpha" Updated\n` +
        `${path.join(dir, 'more', '01-gamma.yaml')}: resource type="Mesh" name="gamma" Updated\n` +
        `${path.join(dir, 'more', '02-delta.yaml')}: resource type="Mesh" name="delta" Updated\n` +
        '2 files applied\n',
    );
  });
});
