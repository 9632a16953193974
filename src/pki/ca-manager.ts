// The CA of each mesh: creates the builtin root on demand (stored as mesh Secrets under Kuma's names),
// loads builtin or provided material, validates provided CAs, and issues workload certificates.
import { readFile } from 'node:fs/promises';
import type { CaBackend, MeshSpec } from '../api/kinds/mesh.js';
import type { Labels, Resource, Violation } from '../api/resource.js';
import { AlreadyExistsError, ConflictError } from '../store/store.js';
import { generateRootCa, issueWorkloadCert, loadCaSigner, validateCaPair, type CaSigner, type IssuedCert } from './certs.js';
import { certDurationOr } from './duration.js';

/**
 * What the CA manager needs from the resource layer. core's ResourceManager satisfies it; pki does
 * not import core (layer rule: pki sits below core/xds).
 */
export interface CaResources {
  get(type: string, mesh: string, name: string): Promise<Resource | undefined>;
  create(input: { type: string; mesh: string; name: string; labels: Labels; spec: Record<string, unknown> }): Promise<Resource>;
}

export interface CaLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Where a provided CA's cert or key comes from (one of the four is set). */
export interface DataSource {
  secret?: string;
  file?: string;
  inline?: string;
  inlineString?: string;
}

/** The enabled CA of a mesh, as the xDS layer needs it. */
export interface MeshCa {
  backend: string;
  mode: 'STRICT' | 'PERMISSIVE';
  certPem: string;
  keyPem: string;
  /** Lifetime of data plane certificates (`dpCert.rotation.expiration`, default 24h). */
  dpCertValidityMs: number;
}

const DAY_MS = 24 * 3600 * 1000;
const TEN_YEARS_MS = 10 * 365 * DAY_MS;

/** Kuma's Secret names for the builtin CA of `mesh` / `backend`. */
export function builtinCaSecretNames(mesh: string, backend: string): { cert: string; key: string } {
  return { cert: `${mesh}.ca-builtin-cert-${backend}`, key: `${mesh}.ca-builtin-key-${backend}` };
}

/** The backend named by `mtls.enabledBackend`, or undefined when mTLS is off. */
export function enabledCaBackend(spec: MeshSpec): NamedCaBackend | undefined {
  const name = spec.mtls?.enabledBackend;
  return name ? (spec.mtls?.backends?.find((b) => b.name === name) as NamedCaBackend | undefined) : undefined;
}

type NamedCaBackend = CaBackend & { name: string };

/** A data source that cannot be read; `field` points at the offending part of the mesh spec. */
export class DataSourceError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'DataSourceError';
  }
}

export class MeshCaManager {
  /** In-flight builtin CA creation per mesh/backend, so concurrent callers generate one key. */
  private readonly creating = new Map<string, Promise<void>>();
  /** Parsed CA per mesh, reused while the PEM text is unchanged (importing an RSA key is slow). */
  private readonly signers = new Map<string, { certPem: string; keyPem: string; signer: Promise<CaSigner> }>();

  constructor(
    private readonly resources: CaResources,
    private readonly logger: CaLogger,
  ) {}

  /** Creates the builtin CA Secrets of `mesh` if its enabled backend is builtin and they are missing. */
  async ensureCa(mesh: Resource): Promise<void> {
    const backend = enabledCaBackend(mesh.spec as MeshSpec);
    if (backend?.type !== 'builtin') return;
    const id = `${mesh.name}/${backend.name}`;
    let pending = this.creating.get(id);
    if (!pending) {
      pending = this.createBuiltin(mesh.name, backend).finally(() => this.creating.delete(id));
      this.creating.set(id, pending);
    }
    await pending;
  }

  /**
   * Problems with a CA backend that need the store or the file system (the Mesh schema validator
   * checks shape only). `fieldPrefix` is the backend's path, e.g. `mtls.backends[0]`.
   */
  async validateBackend(meshName: string, backend: CaBackend, fieldPrefix = 'mtls.backends[0]'): Promise<Violation[]> {
    if (backend.type !== 'provided') return [];
    const conf = backend.conf ?? {};
    const out: Violation[] = [];
    const pem: Record<string, string> = {};
    for (const part of ['cert', 'key']) {
      try {
        pem[part] = await this.readDataSource(meshName, conf[part], `${fieldPrefix}.conf.${part}`);
      } catch (err) {
        if (!(err instanceof DataSourceError)) throw err;
        out.push({ field: err.field, reason: err.message });
      }
    }
    if (out.length > 0) return out;
    return validateCaPair(pem['cert']!, pem['key']!).map((problem) => ({ field: `${fieldPrefix}.conf`, reason: `could not load CA: ${problem}` }));
  }

  /** The enabled CA of the mesh, or undefined when mTLS is off. Throws when the CA is unusable. */
  async getCa(meshName: string): Promise<MeshCa | undefined> {
    return (await this.load(meshName))?.ca;
  }

  /** A workload certificate signed by the mesh CA, valid for the backend's `dpCert` rotation period. */
  async issue(meshName: string, uris: string[]): Promise<IssuedCert> {
    const loaded = await this.load(meshName);
    if (!loaded) throw new Error(`mTLS is not enabled in mesh "${meshName}"`);
    return issueWorkloadCert({ ca: loaded.signer, uris, validForMs: loaded.ca.dpCertValidityMs });
  }

  /** The text of a data source: a mesh Secret, base64 `inline`, PEM `inlineString` or a file. */
  async readDataSource(meshName: string, source: unknown, field: string): Promise<string> {
    const src = (source && typeof source === 'object' ? source : {}) as DataSource;
    if (src.secret) {
      const secret = await this.resources.get('Secret', meshName, src.secret);
      if (!secret) throw new DataSourceError(`${field}.secret`, `secret "${src.secret}" not found`);
      return fromBase64(secret.spec['data']);
    }
    if (src.inline) return fromBase64(src.inline);
    if (src.inlineString) return src.inlineString;
    if (src.file) {
      try {
        return await readFile(src.file, 'utf8');
      } catch (err) {
        throw new DataSourceError(`${field}.file`, `could not read file "${src.file}": ${(err as Error).message}`);
      }
    }
    throw new DataSourceError(field, 'data source has to be chosen. Available sources: secret, file, inline, inlineString');
  }

  private async load(meshName: string): Promise<{ ca: MeshCa; signer: CaSigner } | undefined> {
    const mesh = await this.resources.get('Mesh', '', meshName);
    if (!mesh) throw new Error(`mesh "${meshName}" not found`);
    const backend = enabledCaBackend(mesh.spec as MeshSpec);
    if (!backend) return undefined;
    const { certPem, keyPem } = await this.material(mesh, backend);
    const ca: MeshCa = {
      backend: backend.name,
      mode: backend.mode ?? 'STRICT', // Kuma's zero value
      certPem,
      keyPem,
      dpCertValidityMs: certDurationOr(backend.dpCert?.rotation?.expiration, DAY_MS),
    };
    return { ca, signer: await this.signer(meshName, certPem, keyPem) };
  }

  private async material(mesh: Resource, backend: NamedCaBackend): Promise<{ certPem: string; keyPem: string }> {
    if (backend.type === 'builtin') {
      const names = builtinCaSecretNames(mesh.name, backend.name);
      const read = () => Promise.all([this.readSecret(mesh.name, names.cert), this.readSecret(mesh.name, names.key)]);
      let [cert, key] = await read();
      if (cert === undefined || key === undefined) {
        // The mesh hook normally creates them; cover meshes created before it was installed.
        await this.ensureCa(mesh);
        [cert, key] = await read();
      }
      if (cert === undefined || key === undefined) throw new Error(`builtin CA secrets of mesh "${mesh.name}" are missing`);
      return { certPem: cert, keyPem: key };
    }
    if (backend.type === 'provided') {
      const conf = backend.conf ?? {};
      try {
        const certPem = await this.readDataSource(mesh.name, conf['cert'], 'conf.cert');
        const keyPem = await this.readDataSource(mesh.name, conf['key'], 'conf.key');
        return { certPem, keyPem };
      } catch (err) {
        throw new Error(`could not load provided CA of mesh "${mesh.name}": ${(err as Error).message}`, { cause: err });
      }
    }
    throw new Error(`unsupported CA backend type "${backend.type ?? ''}" in mesh "${mesh.name}"`);
  }

  /** Validates and parses the CA once per distinct PEM pair. */
  private signer(meshName: string, certPem: string, keyPem: string): Promise<CaSigner> {
    const cached = this.signers.get(meshName);
    if (cached && cached.certPem === certPem && cached.keyPem === keyPem) return cached.signer;
    const problems = validateCaPair(certPem, keyPem);
    if (problems.length > 0) return Promise.reject(new Error(`could not load CA of mesh "${meshName}": ${problems.join('; ')}`));
    const signer = loadCaSigner({ certPem, keyPem });
    this.signers.set(meshName, { certPem, keyPem, signer });
    signer.catch(() => this.signers.delete(meshName));
    return signer;
  }

  /**
   * Writes the key Secret first: whoever stores it owns the CA, and a certificate is only ever
   * written for the stored key. So racing writers (other replicas) always leave a matching pair.
   */
  private async createBuiltin(meshName: string, backend: NamedCaBackend): Promise<void> {
    const names = builtinCaSecretNames(meshName, backend.name);
    const caCert = (backend.conf?.['caCert'] ?? {}) as { RSAbits?: number; expiration?: string };
    const opts = { mesh: meshName, rsaBits: Number(caCert.RSAbits) || 2048, validForMs: certDurationOr(caCert.expiration, TEN_YEARS_MS) };

    if ((await this.readSecret(meshName, names.key)) === undefined) {
      const ca = await generateRootCa(opts);
      if (await this.createSecret(meshName, names.key, ca.keyPem)) {
        // A cert that is already there was made for our key by a racing writer (below).
        await this.createSecret(meshName, names.cert, ca.certPem);
        this.logger.info({ mesh: meshName, backend: backend.name }, 'created builtin CA');
        return;
      }
    }
    if ((await this.readSecret(meshName, names.cert)) !== undefined) return;
    // The key is stored but its cert is not: the writer is still running or died in between.
    // A cert for the stored key is right in both cases; if the writer wins, ours is dropped.
    const keyPem = await this.readSecret(meshName, names.key);
    if (keyPem === undefined) throw new Error(`builtin CA key of mesh "${meshName}" disappeared while creating the CA`);
    const ca = await generateRootCa({ ...opts, keyPem });
    if (await this.createSecret(meshName, names.cert, ca.certPem)) {
      this.logger.warn({ mesh: meshName, backend: backend.name }, 'completed builtin CA whose certificate was missing');
    }
  }

  private async readSecret(mesh: string, name: string): Promise<string | undefined> {
    const secret = await this.resources.get('Secret', mesh, name);
    return secret ? fromBase64(secret.spec['data']) : undefined;
  }

  /** False when the Secret already exists (someone else created it first). */
  private async createSecret(mesh: string, name: string, content: string): Promise<boolean> {
    try {
      await this.resources.create({ type: 'Secret', mesh, name, labels: {}, spec: { data: Buffer.from(content, 'utf8').toString('base64') } });
      return true;
    } catch (err) {
      if (err instanceof AlreadyExistsError || err instanceof ConflictError) return false;
      throw err;
    }
  }
}

function fromBase64(data: unknown): string {
  return Buffer.from(typeof data === 'string' ? data : '', 'base64').toString('utf8');
}
