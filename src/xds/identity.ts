// Workload certificates of connected proxies: issued by the mesh CA when a proxy's config is
// generated, kept while valid, and renewed when 80% of their lifetime has passed (the renewal
// timer asks for a regeneration, which ships the new certificate over SDS on the same stream).
import type { Resource } from '../api/resource.js';
import type { MeshCa, MeshCaManager } from '../pki/index.js';
import { identityUris, type ProxyIdentity } from './generator/sidecar.js';

const RENEW_AT_FRACTION = 0.8;

interface Issued {
  key: string;
  identity: ProxyIdentity;
  version: string;
  timer: NodeJS.Timeout;
}

export class ProxyIdentities {
  private readonly issued = new Map<string, Issued>();
  /** Makes every issued identity's version unique, even two issued within the same millisecond. */
  private serial = 0;

  constructor(
    private readonly ca: MeshCaManager,
    /** Called when a proxy's certificate is due for renewal. */
    private readonly onRenewalDue: (nodeId: string) => void,
  ) {}

  /**
   * The proxy's identity (undefined when its mesh has no mTLS) and a version that changes with it.
   * `ca` is the mesh's current CA (MeshCaManager.getCa), read once for a batch of proxies.
   */
  async identityFor(nodeId: string, dp: Resource, ca: MeshCa | undefined): Promise<{ identity?: ProxyIdentity; version: string }> {
    if (!ca) {
      this.forget(nodeId);
      return { version: '' };
    }
    const uris = identityUris(dp);
    const key = JSON.stringify([ca.backend, ca.certPem, ca.mode, ca.dpCertValidityMs, uris]);
    const current = this.issued.get(nodeId);
    if (current?.key === key) return current;

    const cert = await this.ca.issue(dp.mesh, uris);
    this.forget(nodeId);
    const issuedAt = Date.now();
    const renewInMs = Math.max(1_000, (cert.notAfter.getTime() - issuedAt) * RENEW_AT_FRACTION);
    const entry: Issued = {
      key,
      identity: { mode: ca.mode, certPem: cert.certPem, keyPem: cert.keyPem, caPem: ca.certPem },
      version: `${ca.backend}:${cert.notAfter.toISOString()}:${issuedAt}:${++this.serial}`,
      timer: setTimeout(() => {
        this.forget(nodeId);
        this.onRenewalDue(nodeId);
      }, Math.min(renewInMs, 2 ** 31 - 1)),
    };
    entry.timer.unref();
    this.issued.set(nodeId, entry);
    return entry;
  }

  forget(nodeId: string): void {
    const entry = this.issued.get(nodeId);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.issued.delete(nodeId);
  }

  stop(): void {
    for (const nodeId of [...this.issued.keys()]) this.forget(nodeId);
  }
}
