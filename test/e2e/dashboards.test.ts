// The Grafana dashboards under deploy/dashboards/ query only metrics Skein really exports: every
// metric name in every PromQL expression (panels and template variables) must be in a real control
// plane's /metrics (skein_*) or a real data plane's Prometheus stats (envoy_*), after real traffic.
import fs from 'node:fs';
import path from 'node:path';
import type http from 'node:http';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, startCp, tempDir, waitFor, type RunningCp } from '../harness.js';
import { adminGet, dataplaneTokenFile, freePort, httpGet, startDp, startEchoService, startHttpService, tcpEcho, writeFile, type RunningDp } from '../dp-harness.js';

const DIR = path.join(REPO_ROOT, 'deploy', 'dashboards');

interface Dashboard {
  uid: string;
  title: string;
  panels: { type: string; title: string; targets?: { expr: string }[] }[];
  templating: { list: { query?: string | { query: string } }[] };
}

function load(file: string): Dashboard {
  return JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8')) as Dashboard;
}

/** Every PromQL expression of a dashboard: panel targets and template variable queries. */
function expressions(d: Dashboard): string[] {
  const panels = d.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  const vars = d.templating.list.map((v) => (typeof v.query === 'string' ? v.query : v.query?.query ?? '')).filter((q) => q.includes('('));
  return [...panels, ...vars];
}

/** Metric names in an expression: a selector (`name{` or `name[`), or a `label_values(name, …)` argument. */
function metricNames(expr: string): string[] {
  const withoutStrings = expr.replace(/"[^"]*"/g, '""');
  const names = [...withoutStrings.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[{[]/g)].map((m) => m[1]!);
  names.push(...[...withoutStrings.matchAll(/label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,/g)].map((m) => m[1]!));
  return names;
}

/** Names a Prometheus text exposition defines, histogram series (`_bucket`, `_sum`, `_count`) included. */
function exposed(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)/gm)) {
    names.add(m[1]!);
    if (m[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${m[1]}${s}`);
  }
  for (const m of text.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/gm)) names.add(m[1]!);
  return names;
}

describe('Grafana dashboards', () => {
  let cp: RunningCp;
  const dps: RunningDp[] = [];
  const servers: (http.Server | net.Server)[] = [];
  const dir = tempDir('dashboards');
  const ports: Record<string, number> = {};

  beforeAll(async () => {
    cp = await startCp();
    const web = await startHttpService('web');
    const echo = await startEchoService();
    servers.push(web.server, echo.server);
    for (const k of ['webInbound', 'clientInbound', 'webOutbound']) ports[k] = await freePort();
    const webFile = writeFile(dir, 'web.yaml', `type: Dataplane
mesh: default
name: web-1
networking:
  address: 127.0.0.1
  inbound:
    - { port: ${ports.webInbound}, servicePort: ${web.port}, tags: { kuma.io/service: web, kuma.io/protocol: http } }
`);
    const clientFile = writeFile(dir, 'client.yaml', `type: Dataplane
mesh: default
name: client-1
networking:
  address: 127.0.0.1
  inbound:
    - { port: ${ports.clientInbound}, servicePort: ${echo.port}, tags: { kuma.io/service: client, kuma.io/protocol: tcp } }
  outbound:
    - { port: ${ports.webOutbound}, tags: { kuma.io/service: web } }
`);
    dps.push(startDp(cp, ['--dataplane-file', webFile, '--dataplane-token-file', await dataplaneTokenFile(cp, dir, 'default', 'web-1')]));
    dps.push(startDp(cp, ['--dataplane-file', clientFile, '--dataplane-token-file', await dataplaneTokenFile(cp, dir, 'default', 'client-1')]));
    // Real traffic: HTTP client → web through both proxies, TCP into the client's inbound.
    await waitFor(async () => (await httpGet(ports.webOutbound!, '/x').catch(() => ({ status: 0 }))).status === 200, {
      timeoutMs: 20_000,
      what: () => `HTTP through the proxies\n${dps.map((d) => d.logs()).join('\n')}`,
    });
    expect(await tcpEcho(ports.clientInbound!, 'ping')).toBe('echo:ping');
  });

  afterAll(async () => {
    for (const dp of dps) await dp.stop();
    for (const s of servers) s.close();
    await cp?.stop();
  });

  it('are valid Grafana dashboard models with queries in every panel', () => {
    for (const file of ['skein-control-plane.json', 'skein-dataplane.json']) {
      const d = load(file);
      expect(d.uid, file).toMatch(/^skein-/);
      const graphs = d.panels.filter((p) => p.type !== 'row');
      expect(graphs.length, file).toBeGreaterThan(5);
      for (const p of graphs) {
        expect(p.targets?.length, `${file}: ${p.title}`).toBeGreaterThan(0);
        for (const t of p.targets!) expect(metricNames(t.expr).length, `${file}: ${p.title}: ${t.expr}`).toBeGreaterThan(0);
      }
    }
  });

  it('control plane dashboard: every metric is on the CP /metrics', async () => {
    const text = await (await fetch(`http://127.0.0.1:${cp.diagnosticsPort}/metrics`)).text();
    const names = exposed(text);
    const used = new Set(expressions(load('skein-control-plane.json')).flatMap(metricNames));
    expect([...used].filter((n) => !names.has(n))).toEqual([]);
    // The key metrics of the issue are among them.
    for (const n of ['skein_xds_generation_duration_seconds_bucket', 'skein_xds_delivery_duration_seconds_bucket', 'skein_xds_connected_proxies', 'skein_api_server_requests_total', 'skein_store_operation_duration_seconds_bucket', 'skein_kds_sync_lag_seconds_bucket']) {
      expect(used.has(n), n).toBe(true);
    }
  });

  it('data plane dashboard: every metric is in the proxies\' Prometheus stats', async () => {
    const names = new Set<string>();
    for (const dp of dps) for (const n of exposed(await adminGet(dp, '/stats/prometheus'))) names.add(n);
    const used = new Set(expressions(load('skein-dataplane.json')).flatMap(metricNames));
    expect(used.size).toBeGreaterThan(5);
    expect([...used].filter((n) => !names.has(n))).toEqual([]);
  });
});
