// Policy inspection end to end: a real `skein cp run`, policies applied over REST, then which
// policies apply where (`_rules`), which proxies a policy hits (`_resources`), the CLI's view of
// it, field-level validation errors and the default policies of a new mesh.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, runSkein, startCp, tempDir, type RunningCp } from '../harness.js';

type Json = Record<string, unknown>;
type Rules = {
  resource: Json;
  proxyType: string;
  zoneProxy: boolean;
  rules: {
    type: string;
    policies: string[];
    proxy?: { conf?: Json };
    inbounds: { section: string; policies: string[]; conf?: Json; rules: Json[] }[];
    outbounds: { key: string; conf?: Json }[];
    listeners: { section: string; policies: string[]; conf?: Json; bySni: Record<string, Json> }[];
    toMesh?: { conf?: Json };
  }[];
};

const MESH = 'shop';
const EGRESS_SNI = `sni.extsvc.${MESH}.httpbin.443`;

describe('policy inspection: _rules, _resources, CLI', () => {
  let cp: RunningCp;
  const put = async (urlPath: string, body: unknown) => {
    const res = await api(cp.apiUrl, 'PUT', urlPath, body);
    expect(res.status, `${urlPath}: ${res.text}`).toBeLessThan(300);
  };
  const policy = (type: string, plural: string, name: string, spec: unknown, labels: Record<string, string> = {}) =>
    put(`/meshes/${MESH}/${plural}/${name}`, { type, mesh: MESH, name, labels, spec });
  const rulesOf = async (dp: string) => {
    const res = await api(cp.apiUrl, 'GET', `/meshes/${MESH}/dataplanes/${dp}/_rules`);
    expect(res.status, res.text).toBe(200);
    return res.body as Rules;
  };
  const kind = (rules: Rules, type: string) => rules.rules.find((r) => r.type === type);

  beforeAll(async () => {
    cp = await startCp({ store: 'memory' });
    await put(`/meshes/${MESH}`, { type: 'Mesh', name: MESH });
    await put(`/meshes/${MESH}/dataplanes/web-1`, {
      type: 'Dataplane', mesh: MESH, name: 'web-1', labels: { team: 'shop' },
      networking: {
        address: '127.0.0.1',
        inbound: [{ port: 20001, servicePort: 8080, name: 'http', tags: { 'kuma.io/service': 'web', 'kuma.io/protocol': 'http' } }],
        outbound: [{ port: 20010, tags: { 'kuma.io/service': 'db' } }, { port: 20011, tags: { 'kuma.io/service': 'httpbin' } }],
      },
    });
    await put(`/meshes/${MESH}/dataplanes/db-1`, {
      type: 'Dataplane', mesh: MESH, name: 'db-1',
      networking: { address: '127.0.0.2', inbound: [{ port: 20002, servicePort: 5432, tags: { 'kuma.io/service': 'db' } }] },
    });
    await put(`/meshes/${MESH}/dataplanes/zp-1`, {
      type: 'Dataplane', mesh: MESH, name: 'zp-1', labels: { 'kuma.io/proxy-type': 'zoneproxy', 'kuma.io/zone-proxy-role': 'all' },
      networking: { address: '127.0.0.3', listeners: [{ type: 'ZoneIngress', port: 20101, name: 'zi' }, { type: 'ZoneEgress', port: 20102 }] },
    });
    await put(`/meshes/${MESH}/meshexternalservices/httpbin`, {
      type: 'MeshExternalService', mesh: MESH, name: 'httpbin',
      spec: { match: { type: 'HostnameGenerator', port: 443, protocol: 'tcp' }, endpoints: [{ address: '127.0.0.1', port: 9 }] },
    });

    await policy('MeshTimeout', 'meshtimeouts', 'web-inbound', {
      targetRef: { kind: 'Dataplane', labels: { team: 'shop' }, sectionName: 'http' },
      rules: [
        { default: { http: { requestTimeout: '3s' } } },
        { matches: [{ spiffeID: { type: 'Exact', value: `spiffe://${MESH}/client` } }], default: { http: { requestTimeout: '1s' } } },
      ],
    });
    await policy('MeshTimeout', 'meshtimeouts', 'to-db', { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'MeshService', name: 'db' }, default: { connectionTimeout: '2s' } }] });
    await policy('MeshTimeout', 'meshtimeouts', 'egress-httpbin', {
      targetRef: { kind: 'Dataplane', labels: { 'kuma.io/listener-zoneegress': 'enabled' } },
      rules: [{ matches: [{ sni: { type: 'Exact', value: EGRESS_SNI } }], default: { idleTimeout: '30s' } }],
    });
    await policy('MeshCircuitBreaker', 'meshcircuitbreakers', 'egress-httpbin', {
      targetRef: { kind: 'Dataplane', name: 'zp-1', sectionName: '20102' },
      to: [{ targetRef: { kind: 'MeshExternalService', name: 'httpbin' }, default: { connectionLimits: { maxConnections: 2 } } }],
    });
    await put(`/meshes/${MESH}/meshopentelemetrybackends/collector`, {
      type: 'MeshOpenTelemetryBackend', mesh: MESH, name: 'collector', labels: { role: 'otel' }, spec: { endpoint: { address: 'otel.example', port: 4317 } },
    });
    await policy('MeshTrace', 'meshtraces', 'all', {
      targetRef: { kind: 'Mesh' },
      default: { backends: [{ type: 'OpenTelemetry', openTelemetry: { backendRef: { kind: 'MeshOpenTelemetryBackend', labels: { role: 'otel' } } } }], sampling: { overall: 10 } },
    });
    await policy('MeshTrace', 'meshtraces', 'web-more', { targetRef: { kind: 'MeshService', name: 'web' }, default: { backends: [], sampling: { overall: 100 } } });
  });
  afterAll(async () => cp?.stop());

  it('creates the Kuma 2.14 default policies with the mesh, and none with skipCreatingInitialPolicies: ["*"]', async () => {
    const names = async (mesh: string, plural: string) => ((await api(cp.apiUrl, 'GET', `/meshes/${mesh}/${plural}`)).body as { items: { name: string }[] }).items.map((i) => i.name);
    expect(await names(MESH, 'meshtimeouts')).toEqual(expect.arrayContaining([`mesh-timeout-all-${MESH}`, `mesh-gateways-timeout-all-${MESH}`]));
    expect(await names(MESH, 'meshcircuitbreakers')).toEqual(expect.arrayContaining([`mesh-circuit-breaker-all-${MESH}`]));
    expect(await names(MESH, 'meshretries')).toEqual([`mesh-retry-all-${MESH}`]);
    await put('/meshes/bare', { type: 'Mesh', name: 'bare', skipCreatingInitialPolicies: ['*'] });
    for (const plural of ['meshtimeouts', 'meshcircuitbreakers', 'meshretries', 'meshtrafficpermissions']) expect(await names('bare', plural)).toEqual([]);
  });

  it('lists the policy kinds and MeshOpenTelemetryBackend with Kuma paths', async () => {
    const types = (await api(cp.apiUrl, 'GET', '/_resources')).body as { resources: { name: string; path: string; shortName: string; policy?: unknown }[] };
    const byName = new Map(types.resources.map((r) => [r.name, r]));
    for (const [name, p, short] of [
      ['MeshTimeout', 'meshtimeouts', 'mt'], ['MeshRateLimit', 'meshratelimits', 'mrl'], ['MeshFaultInjection', 'meshfaultinjections', 'mfi'],
      ['MeshCircuitBreaker', 'meshcircuitbreakers', 'mcb'], ['MeshHealthCheck', 'meshhealthchecks', 'mhc'], ['MeshProxyPatch', 'meshproxypatches', 'mpp'],
      ['MeshMetric', 'meshmetrics', 'mm'], ['MeshTrace', 'meshtraces', 'mtr'], ['MeshAccessLog', 'meshaccesslogs', 'mal'], ['MeshRetry', 'meshretries', 'mr'],
    ]) {
      expect(byName.get(name!), name).toMatchObject({ path: p, shortName: short, policy: { isTargetRef: true } });
    }
    expect(byName.get('MeshOpenTelemetryBackend')).toMatchObject({ path: 'meshopentelemetrybackends', shortName: 'motb' });
    expect(byName.get('MeshOpenTelemetryBackend')!.policy).toBeUndefined();
  });

  it('rejects an invalid policy with field-level errors', async () => {
    const res = await api(cp.apiUrl, 'PUT', `/meshes/${MESH}/meshratelimits/bad`, {
      type: 'MeshRateLimit', mesh: MESH, name: 'bad',
      spec: { targetRef: { kind: 'Mesh', proxyTypes: ['Sidecar'] }, rules: [{ default: { local: { http: { requestRate: { num: 0, interval: '10ms' } } } } }] },
    });
    expect(res.status).toBe(400);
    expect((res.body as { invalid_parameters: unknown[] }).invalid_parameters).toEqual([
      { field: 'spec.rules[0].default.local.http.requestRate.num', reason: 'must be greater than 0' },
      { field: 'spec.rules[0].default.local.http.requestRate.interval', reason: 'must be greater than: 50ms' },
    ]);
  });

  it('returns Kuma deprecation warnings with a successful PUT', async () => {
    const res = await api(cp.apiUrl, 'PUT', `/meshes/${MESH}/meshtimeouts/legacy`, {
      type: 'MeshTimeout', mesh: MESH, name: 'legacy',
      spec: { targetRef: { kind: 'Dataplane', name: 'nobody' }, from: [{ targetRef: { kind: 'Mesh' }, default: { idleTimeout: '1m' } }] },
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ warnings: ["'from' field is deprecated, use 'rules' instead"] });
  });

  it('shows, per inbound and outbound of a sidecar, the policies in order and the merged conf', async () => {
    const rules = await rulesOf('web-1');
    expect(rules).toMatchObject({ resource: { type: 'Dataplane', mesh: MESH, name: 'web-1' }, proxyType: 'Sidecar', zoneProxy: false });
    const mt = kind(rules, 'MeshTimeout')!;
    // Least specific first; among top-level Mesh policies the name sorting first comes last (wins).
    expect(mt.policies).toEqual(['to-db', `mesh-timeout-all-${MESH}`, 'web-inbound']);
    const http = mt.inbounds.find((i) => i.section === 'http')!;
    expect(http.policies).toEqual(['to-db', `mesh-timeout-all-${MESH}`, 'web-inbound']);
    // The default `from` (10s/2h/0s/1h/0s) with web-inbound's catch-all rule on top.
    expect(http.conf).toEqual({ connectionTimeout: '10s', idleTimeout: '2h', http: { requestTimeout: '3s', streamIdleTimeout: '1h', maxStreamDuration: '0s' } });
    expect(http.rules[0]).toMatchObject({ match: { spiffeID: { type: 'Exact' } }, conf: { http: { requestTimeout: '1s' } }, origin: { policy: 'web-inbound', section: 'rules', index: 1 } });
    const outbound = new Map(mt.outbounds.map((o) => [o.key, o.conf]));
    expect(outbound.get('MeshService/db')).toEqual({ connectionTimeout: '2s', idleTimeout: '1h', http: { requestTimeout: '15s', streamIdleTimeout: '30m' } });
    expect(outbound.get('MeshExternalService/httpbin:443')).toEqual({ connectionTimeout: '5s', idleTimeout: '1h', http: { requestTimeout: '15s', streamIdleTimeout: '30m' } });
    expect(kind(rules, 'MeshRetry')!.toMesh?.conf).toMatchObject({ tcp: { maxConnectAttempt: 5 } });
    expect(kind(rules, 'MeshCircuitBreaker')!.policies).toEqual([`mesh-circuit-breaker-all-${MESH}`]);
    // Single-item kind: the MeshService policy is more specific than the Mesh one.
    expect(kind(rules, 'MeshTrace')).toMatchObject({ policies: ['all', 'web-more'], proxy: { conf: { backends: [], sampling: { overall: 100 } } } });
    expect(kind(rules, 'MeshTrace')!.proxy!.conf).toEqual({ backends: [], sampling: { overall: 100 } });
    expect(kind((await rulesOf('db-1')), 'MeshTrace')!.proxy!.conf).toMatchObject({ backends: [{ type: 'OpenTelemetry' }], sampling: { overall: 10 } });
  });

  it('shows, per zone-proxy listener, the rules and the conf per SNI', async () => {
    const rules = await rulesOf('zp-1');
    expect(rules).toMatchObject({ zoneProxy: true, proxyType: 'Sidecar' });
    const mt = kind(rules, 'MeshTimeout')!;
    const egress = mt.listeners.find((l) => l.section === '20102')!;
    expect(egress.policies).toEqual(['to-db', `mesh-timeout-all-${MESH}`, 'egress-httpbin']);
    expect(egress.bySni[EGRESS_SNI]).toEqual({ connectionTimeout: '10s', idleTimeout: '30s', http: { requestTimeout: '0s', streamIdleTimeout: '1h', maxStreamDuration: '0s' } });
    const ingress = mt.listeners.find((l) => l.section === 'zi')!;
    // The labels select the whole proxy (both listeners), but its SNI rule only holds on the egress.
    expect(ingress.policies).toEqual(['to-db', `mesh-timeout-all-${MESH}`, 'egress-httpbin']);
    expect(Object.keys(ingress.bySni).sort()).toEqual([`sni.msvc.${MESH}.db.20002`, `sni.msvc.${MESH}.web.20001`]);
    expect(ingress.bySni[`sni.msvc.${MESH}.web.20001`]).toMatchObject({ idleTimeout: '2h' });
    const mcb = kind(rules, 'MeshCircuitBreaker')!;
    expect(mcb.outbounds).toEqual([
      expect.objectContaining({ key: 'MeshExternalService/httpbin:443', conf: { connectionLimits: { maxConnections: 2, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 } } }),
    ]);
  });

  it('lists the proxies (and their sections) a policy selects', async () => {
    const hits = async (plural: string, name: string, suffix = '') => {
      const res = await api(cp.apiUrl, 'GET', `/meshes/${MESH}/${plural}/${name}/_resources${suffix}`);
      expect(res.status, res.text).toBe(200);
      return (res.body as { total: number; items: { name: string; inbounds: string[]; listeners: string[] }[] }).items.map((i) => ({ name: i.name, inbounds: i.inbounds, listeners: i.listeners }));
    };
    expect(await hits('meshtimeouts', 'web-inbound')).toEqual([{ name: 'web-1', inbounds: ['http'], listeners: [] }]);
    expect(await hits('meshtimeouts', 'egress-httpbin', '/dataplanes')).toEqual([{ name: 'zp-1', inbounds: [], listeners: ['zi', '20102'] }]);
    expect(await hits('meshcircuitbreakers', 'egress-httpbin')).toEqual([{ name: 'zp-1', inbounds: [], listeners: ['20102'] }]);
    expect((await hits('meshtimeouts', `mesh-timeout-all-${MESH}`)).map((h) => h.name)).toEqual(['db-1', 'web-1', 'zp-1']);
    expect(await hits('meshtraces', 'web-more')).toEqual([{ name: 'web-1', inbounds: ['http'], listeners: [] }]);
    expect((await api(cp.apiUrl, 'GET', `/meshes/${MESH}/meshtimeouts/nope/_resources`)).status).toBe(404);
    expect((await api(cp.apiUrl, 'GET', `/meshes/${MESH}/meshopentelemetrybackends/collector/_resources`)).status).toBe(404);
    expect((await api(cp.apiUrl, 'GET', `/meshes/${MESH}/dataplanes/nope/_rules`)).status).toBe(404);
  });

  it('prints the rules with `skein inspect dataplane NAME --rules`', async () => {
    const home = tempDir('rules-cli');
    const run = (args: string[]) => runSkein(['--config-file', path.join(home, 'config'), '--api-url', cp.apiUrl, ...args], { env: { HOME: home, SKEIN_API_URL: '', SKEIN_CONFIG: '' } });
    const text = await run(['inspect', 'dataplane', 'zp-1', '-m', MESH, '--rules']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`Dataplane zp-1 (mesh ${MESH}, zone proxy)`);
    expect(text.stdout).toContain(`MeshTimeout: to-db, mesh-timeout-all-${MESH}, egress-httpbin`);
    expect(text.stdout).toContain('  listener 20102 (ZoneEgress, port 20102):');
    expect(text.stdout).toContain(`    sni ${EGRESS_SNI}: {"connectionTimeout":"10s","idleTimeout":"30s"`);
    expect(text.stdout).toContain('  outbound MeshExternalService/httpbin:443: {"connectionLimits":{"maxConnections":2');
    const json = await run(['inspect', 'dataplane', 'web-1', '-m', MESH, '--rules', '-o', 'json']);
    expect(json.code, json.stderr).toBe(0);
    expect((JSON.parse(json.stdout) as Rules).rules.map((r) => r.type)).toEqual(expect.arrayContaining(['MeshTimeout', 'MeshCircuitBreaker', 'MeshRetry', 'MeshTrace']));
    const missing = await run(['inspect', 'dataplane', 'nope', '-m', MESH, '--rules']);
    expect(missing.code).toBe(1);
  });
});
