// The Kubernetes runtime settings (injector) in the CP config: defaults, env, flags, checks.
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';

describe('runtime.kubernetes settings', () => {
  it('default off with Kuma\'s port; env and flags set them', () => {
    const d = loadConfig({ env: {} }).runtime.kubernetes;
    expect(d.injector).toMatchObject({ enabled: false, port: 5443 });
    const c = loadConfig({
      env: { KUMA_RUNTIME_KUBERNETES_ADMISSION_SERVER_PORT: '6443', SKEIN_RUNTIME_KUBERNETES_SERVER_VERSION: 'v1.30.1', KUMA_RUNTIME_KUBERNETES_DISALLOW_MULTIPLE_MESHES_PER_NAMESPACE: 'true' },
      flags: { injector: true, injectorSidecarImage: 'img:1' },
    }).runtime.kubernetes;
    expect(c).toMatchObject({ serverVersion: 'v1.30.1', disallowMultipleMeshesPerNamespace: true, injector: { enabled: true, port: 6443, sidecarImage: 'img:1' } });
  });

  it('rejects a bad version and a certificate without its key', () => {
    expect(() => loadConfig({ env: {}, flags: { k8sVersion: 'latest' } })).toThrow('runtime.kubernetes.serverVersion (--k8s-version): "latest" is not a version like 1.30');
    expect(() => loadConfig({ env: {}, flags: { injectorTlsCertFile: 'x.crt' } })).toThrow('runtime.kubernetes.injector.certFile (--injector-tls-cert-file) and runtime.kubernetes.injector.keyFile (--injector-tls-key-file) must be set together');
  });
});
