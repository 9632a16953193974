import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CaBackend } from '../api/kinds/mesh.js';
import { ResourceManager } from '../core/resource-manager.js';
import { createLogger } from '../observability/logger.js';
import { MemoryStore } from '../store/memory.js';
import { MeshCaManager, builtinCaSecretNames } from './ca-manager.js';
import { generateRootCa, kumaServiceUri, spiffeId, validateCaPair, type CaPem } from './certs.js';

const logger = createLogger('silent');
const HOUR = 3600_000;
const WEB_URIS = [spiffeId('default', 'web'), kumaServiceUri('web')];

const builtinMtls = {
  enabledBackend: 'ca-1',
  backends: [{ name: 'ca-1', type: 'builtin', dpCert: { rotation: { expiration: '1h' } }, conf: { caCert: { RSAbits: 2048, expiration: '1y' } } }],
};

let manager: ResourceManager;
let cas: MeshCaManager;

function newManager(): ResourceManager {
  return new ResourceManager(new MemoryStore(), { mode: 'standalone', zone: '', environment: 'universal', unsafeDelete: false }, logger);
}

async function secretText(mesh: string, name: string): Promise<string | undefined> {
  const s = await manager.get('Secret', mesh, name);
  return s ? Buffer.from(String(s.spec['data']), 'base64').toString('utf8') : undefined;
}

async function putSecret(mesh: string, name: string, text: string): Promise<void> {
  await manager.upsert({ type: 'Secret', mesh, name, labels: {}, spec: { data: Buffer.from(text).toString('base64') } });
}

beforeEach(() => {
  manager = newManager();
  cas = new MeshCaManager(manager, logger);
});

describe('builtin CA', () => {
  it('is created once, under Kuma secret names, even by concurrent callers', async () => {
    const { resource: mesh } = await manager.upsert({ type: 'Mesh', mesh: '', name: 'default', labels: {}, spec: { mtls: builtinMtls } });
    const logs: string[] = [];
    const capture = { info: (_: object, msg: string) => logs.push(msg), warn: (_: object, msg: string) => logs.push(msg) };
    const local = new MeshCaManager(manager, capture);
    const replica = new MeshCaManager(manager, capture); // another CP sharing the store: no shared in-flight state
    await Promise.all([local.ensureCa(mesh), local.ensureCa(mesh), replica.ensureCa(mesh)]);
    expect(logs.filter((m) => m === 'created builtin CA')).toHaveLength(1);

    const names = builtinCaSecretNames('default', 'ca-1');
    expect(names).toEqual({ cert: 'default.ca-builtin-cert-ca-1', key: 'default.ca-builtin-key-ca-1' });
    const secrets = await manager.list('Secret', { mesh: 'default' });
    expect(secrets.map((s) => s.name).sort()).toEqual([names.cert, names.key]);
    expect(secrets.every((s) => s.version === 1)).toBe(true);

    const certPem = (await secretText('default', names.cert))!;
    expect(validateCaPair(certPem, (await secretText('default', names.key))!)).toEqual([]);
    const cert = new X509Certificate(certPem);
    expect(cert.subjectAltName).toBe('URI:spiffe://default');
    expect(Date.parse(cert.validTo) - Date.now()).toBeGreaterThan(364 * 24 * HOUR); // caCert.expiration 1y
    expect(Date.parse(cert.validTo) - Date.now()).toBeLessThan(366 * 24 * HOUR);

    await cas.ensureCa(mesh);
    expect((await manager.list('Secret', { mesh: 'default' })).every((s) => s.version === 1)).toBe(true);
  });

  it('runs as a mesh hook and then serves the CA and issues leaves', async () => {
    manager.meshHooks.push((mesh) => cas.ensureCa(mesh));
    await manager.upsert({ type: 'Mesh', mesh: '', name: 'default', labels: {}, spec: { mtls: builtinMtls } });
    expect(await manager.list('Secret', { mesh: 'default' })).toHaveLength(2);

    const ca = await cas.getCa('default');
    expect(ca).toMatchObject({ backend: 'ca-1', mode: 'STRICT', dpCertValidityMs: HOUR });
    expect(ca!.certPem).toBe(await secretText('default', 'default.ca-builtin-cert-ca-1'));

    const leaf = await cas.issue('default', WEB_URIS);
    const cert = new X509Certificate(leaf.certPem);
    expect(cert.verify(new X509Certificate(ca!.certPem).publicKey)).toBe(true);
    expect(cert.subjectAltName).toBe('URI:spiffe://default/web, URI:kuma://kuma.io/service/web');
    expect(leaf.notAfter.getTime() - leaf.notBefore.getTime()).toBe(HOUR + 60_000); // + clock-skew back-dating
  });

  it('completes a CA whose writer stored the key but not the certificate', async () => {
    const { resource: mesh } = await manager.upsert({ type: 'Mesh', mesh: '', name: 'default', labels: {}, spec: { mtls: builtinMtls } });
    const orphan = await generateRootCa({ mesh: 'default' });
    await putSecret('default', 'default.ca-builtin-key-ca-1', orphan.keyPem);

    await cas.ensureCa(mesh);
    const certPem = (await secretText('default', 'default.ca-builtin-cert-ca-1'))!;
    expect(validateCaPair(certPem, orphan.keyPem)).toEqual([]);
  });

  it('is created lazily by getCa when the hook did not run', async () => {
    await manager.upsert({ type: 'Mesh', mesh: '', name: 'default', labels: {}, spec: { mtls: builtinMtls } });
    expect(await manager.list('Secret', { mesh: 'default' })).toHaveLength(0);
    expect((await cas.getCa('default'))?.backend).toBe('ca-1');
    expect(await manager.list('Secret', { mesh: 'default' })).toHaveLength(2);
  });

  it('is absent when mTLS is off', async () => {
    const { resource: mesh } = await manager.upsert({ type: 'Mesh', mesh: '', name: 'plain', labels: {}, spec: {} });
    await cas.ensureCa(mesh);
    expect(await manager.list('Secret', { mesh: 'plain' })).toHaveLength(0);
    expect(await cas.getCa('plain')).toBeUndefined();
    await expect(cas.issue('plain', WEB_URIS)).rejects.toThrow('mTLS is not enabled in mesh "plain"');
  });
});

describe('provided CA', () => {
  let rootA: CaPem;
  let rootB: CaPem;
  let dir: string;

  beforeAll(async () => {
    [rootA, rootB] = await Promise.all([generateRootCa({ mesh: 'default' }), generateRootCa({ mesh: 'default' })]);
    dir = await mkdtemp(join(tmpdir(), 'skein-pki-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const provided = (conf: Record<string, unknown>, extra: Partial<CaBackend> = {}): CaBackend => ({ name: 'prov', type: 'provided', conf, ...extra });

  async function meshWithProvidedCa(backend: CaBackend): Promise<void> {
    // Secrets need the mesh to exist first, so mTLS is switched on in a second step.
    await manager.upsert({ type: 'Mesh', mesh: '', name: 'default', labels: {}, spec: {} });
    await putSecret('default', 'ca-cert', rootA.certPem);
    await putSecret('default', 'ca-key', rootA.keyPem);
    await manager.upsert({ type: 'Mesh', mesh: '', name: 'default', labels: {}, spec: { mtls: { enabledBackend: backend.name, backends: [backend] } } });
  }

  it('loads cert and key from secrets and issues leaves under it', async () => {
    await meshWithProvidedCa(provided({ cert: { secret: 'ca-cert' }, key: { secret: 'ca-key' } }, { mode: 'PERMISSIVE' }));
    const ca = await cas.getCa('default');
    expect(ca).toEqual({ backend: 'prov', mode: 'PERMISSIVE', certPem: rootA.certPem, keyPem: rootA.keyPem, dpCertValidityMs: 24 * HOUR });

    const leaf = await cas.issue('default', WEB_URIS);
    expect(new X509Certificate(leaf.certPem).verify(new X509Certificate(rootA.certPem).publicKey)).toBe(true);

    // Replacing the secrets switches issuance to the new CA (the parsed CA is cached by content).
    await putSecret('default', 'ca-cert', rootB.certPem);
    await putSecret('default', 'ca-key', rootB.keyPem);
    const next = await cas.issue('default', WEB_URIS);
    expect(new X509Certificate(next.certPem).verify(new X509Certificate(rootB.certPem).publicKey)).toBe(true);
  });

  it('validates a good backend from file, inline and inlineString sources', async () => {
    await manager.upsert({ type: 'Mesh', mesh: '', name: 'default', labels: {}, spec: {} });
    const certFile = join(dir, 'ca.crt');
    await writeFile(certFile, rootA.certPem);
    expect(await cas.validateBackend('default', provided({ cert: { file: certFile }, key: { inline: Buffer.from(rootA.keyPem).toString('base64') } }))).toEqual([]);
    expect(await cas.validateBackend('default', provided({ cert: { inlineString: rootA.certPem }, key: { inlineString: rootA.keyPem } }))).toEqual([]);
    expect(await cas.validateBackend('default', { name: 'b', type: 'builtin' })).toEqual([]);
  });

  it('reports a key that does not match the certificate', async () => {
    await manager.upsert({ type: 'Mesh', mesh: '', name: 'default', labels: {}, spec: {} });
    await putSecret('default', 'ca-cert', rootA.certPem);
    await putSecret('default', 'wrong-key', rootB.keyPem);
    const backend = provided({ cert: { secret: 'ca-cert' }, key: { secret: 'wrong-key' } });
    expect(await cas.validateBackend('default', backend, 'mtls.backends[1]')).toEqual([
      { field: 'mtls.backends[1].conf', reason: 'could not load CA: certificate and private key do not match' },
    ]);
  });

  it('reports sources that cannot be read', async () => {
    await manager.upsert({ type: 'Mesh', mesh: '', name: 'default', labels: {}, spec: {} });
    const backend = provided({ cert: { secret: 'nope' }, key: { file: join(dir, 'missing.key') } });
    const violations = await cas.validateBackend('default', backend);
    expect(violations).toHaveLength(2);
    expect(violations[0]).toEqual({ field: 'mtls.backends[0].conf.cert.secret', reason: 'secret "nope" not found' });
    expect(violations[1]!.field).toBe('mtls.backends[0].conf.key.file');
    expect(violations[1]!.reason).toMatch(/^could not read file ".*missing\.key": ENOENT/);
  });

  it('refuses to serve an unusable CA', async () => {
    await meshWithProvidedCa(provided({ cert: { secret: 'ca-cert' }, key: { inlineString: rootB.keyPem } }));
    await expect(cas.getCa('default')).rejects.toThrow('could not load CA of mesh "default": certificate and private key do not match');
    await expect(cas.issue('default', WEB_URIS)).rejects.toThrow('certificate and private key do not match');
  });
});
