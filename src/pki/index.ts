// pki: per-mesh certificate authorities (builtin, provided) and workload certificate issuance.
//
// certs.ts — X.509 building blocks (@peculiar/x509 on Node's WebCrypto):
//   generateRootCa({ mesh, rsaBits?, validForMs?, now?, notBefore?, notAfter?, keyPem? }): Promise<CaPem>
//   issueWorkloadCert({ ca: CaPem | CaSigner, uris, validForMs, now? }): Promise<IssuedCert>
//   loadCaSigner(ca: CaPem): Promise<CaSigner>            parse once, sign many leaves
//   validateCaPair(certPem, keyPem, now?): string[]       problems, empty when usable as a CA
//   spiffeId(mesh, service)  → spiffe://<mesh>/<service>
//   kumaServiceUri(service)  → kuma://kuma.io/service/<service>
//
// ca-manager.ts — the CA of each mesh, stored through the resource layer:
//   new MeshCaManager(resources: CaResources, logger: CaLogger)   (core's ResourceManager is a CaResources)
//     ensureCa(mesh: Resource): Promise<void>             builtin: create `<mesh>.ca-builtin-{cert,key}-<backend>` Secrets once
//     validateBackend(meshName, backend, fieldPrefix?): Promise<Violation[]>   provided: sources resolvable, pair valid
//     getCa(meshName): Promise<MeshCa | undefined>        undefined when mTLS is off
//     issue(meshName, uris): Promise<IssuedCert>          leaf valid for dpCert.rotation.expiration (default 24h)
//     readDataSource(meshName, source, field): Promise<string>   secret | inline | inlineString | file
//   builtinCaSecretNames(mesh, backend), enabledCaBackend(spec), DataSourceError
//
// duration.ts — parseCertDuration('10y' | '1d' | '24h' | '1h30m'), certDurationOr(s, fallbackMs)
export * from './certs.js';
export * from './ca-manager.js';
export * from './duration.js';
