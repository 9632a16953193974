// The web GUI end to end in headless Chromium (Debian's `chromium` driven by playwright-core): a real
// global CP and a federated zone CP, real data plane proxies (a sidecar and an ingress zone proxy)
// in the zone. Every page is opened through the CP's own /gui, must show real data (mesh, proxy,
// policy and zone names, online state, xDS config), and is saved as a screenshot under
// test-artifacts/gui/. Without Chromium the test is skipped, unless SKEIN_REQUIRE_GUI=1 (CI).
import fs from 'node:fs';
import path from 'node:path';
import type http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { api, REPO_ROOT, startCp, tempDir, waitFor, type RunningCp } from '../harness.js';
import { put, startGlobal, startZone, waitForMeshCa } from '../multizone-harness.js';
import { dataplaneTokenFile, freePort, startDp, startHttpService, writeFile, writeSidecar, type RunningDp } from '../dp-harness.js';

const CHROMIUM = process.env['SKEIN_CHROMIUM'] ?? '/usr/bin/chromium';
const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium && process.env['SKEIN_REQUIRE_GUI'] === '1') throw new Error(`SKEIN_REQUIRE_GUI=1 but no Chromium at ${CHROMIUM} (apt-get install chromium, or set SKEIN_CHROMIUM)`);
if (!haveChromium) console.warn(`gui.test: skipped, no Chromium at ${CHROMIUM} (apt-get install chromium, or set SKEIN_CHROMIUM; SKEIN_REQUIRE_GUI=1 makes this a failure)`);

const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts', 'gui');
// The machine's network is closed: without these, Chromium waits on background network calls.
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describe.skipIf(!haveChromium)('web GUI in headless Chromium', () => {
  let global: RunningCp;
  let zone: RunningCp;
  let browser: BrowserContext;
  let page: Page;
  const dps: RunningDp[] = [];
  let service: http.Server | undefined;
  const dir = tempDir('gui');
  const globalWork = tempDir('gui-global-work');

  /** Opens a GUI page, waits for `text`, saves a screenshot. */
  const visit = async (cp: RunningCp, route: string, text: string | RegExp, shot: string): Promise<string> => {
    await page.goto(`${cp.apiUrl}/gui${route}`);
    await page.getByText(text).first().waitFor({ timeout: 15_000 });
    await page.screenshot({ path: path.join(ARTIFACTS, `${shot}.png`), fullPage: true });
    return (await page.locator('main').innerText()) ?? '';
  };

  beforeAll(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const kdsPort = await freePort();
    global = await startGlobal(kdsPort, globalWork);
    zone = await startZone(kdsPort, globalWork, 'zone-1');
    await put(global, '/meshes/demo', { type: 'Mesh', name: 'demo', mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] } });
    await put(global, '/meshes/demo/meshtrafficpermissions/allow-web', {
      type: 'MeshTrafficPermission',
      mesh: 'demo',
      name: 'allow-web',
      spec: { targetRef: { kind: 'MeshService', name: 'web' }, from: [{ targetRef: { kind: 'Mesh' }, default: { action: 'Allow' } }] },
    });
    await waitForMeshCa(zone, 'demo', 'mesh demo with its CA and signing key on the zone');

    const web = await startHttpService('web');
    service = web.server;
    const sidecar = writeSidecar(dir, { name: 'web-1', mesh: 'demo', inbound: { port: await freePort(), servicePort: web.port, service: 'web' } });
    const ingressPort = await freePort();
    const ingress = writeFile(dir, 'ingress.yaml', `type: Dataplane
mesh: demo
name: demo-ingress
labels: { kuma.io/proxy-type: zoneproxy, kuma.io/zone-proxy-role: ingress }
networking:
  address: 127.0.0.1
  advertisedAddress: 127.0.0.1
  advertisedPort: ${ingressPort}
  listeners:
    - { type: ZoneIngress, port: ${ingressPort} }
`);
    dps.push(startDp(zone, ['--dataplane-file', sidecar, '--dataplane-token-file', await dataplaneTokenFile(zone, dir, 'demo', 'web-1')]));
    dps.push(startDp(zone, ['--dataplane-file', ingress, '--dataplane-token-file', await dataplaneTokenFile(zone, dir, 'demo', 'demo-ingress')]));
    // Both proxies online, as global sees them (Dataplanes and insights synced from the zone).
    await waitFor(async () => {
      const res = await api(global.apiUrl, 'GET', '/meshes/demo/dataplanes/_overview');
      const items = (res.body as { items?: { name: string; dataplaneInsight?: { subscriptions?: { disconnectTime?: string; connectTime?: string }[] } }[] }).items ?? [];
      const online = items.filter((i) => i.dataplaneInsight?.subscriptions?.at(-1)?.connectTime && !i.dataplaneInsight.subscriptions.at(-1)!.disconnectTime);
      return online.length === 2;
    }, { what: () => `both proxies online on global\n${dps.map((d) => d.logs()).join('\n')}`, timeoutMs: 30_000 });

    browser = await chromium.launchPersistentContext(tempDir('chromium-profile'), { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1400, height: 900 } });
    page = browser.pages()[0] ?? (await browser.newPage());
  });

  afterAll(async () => {
    await browser?.close();
    for (const dp of dps) await dp.stop();
    service?.close();
    await zone?.stop();
    await global?.stop();
  });

  it('redirects a browser from the API root to /gui/ and serves client routes', async () => {
    await page.goto(global.apiUrl);
    expect(new URL(page.url()).pathname).toBe('/gui/');
    const deep = await fetch(`${global.apiUrl}/gui/meshes/demo/dataplanes/web-1`);
    expect(deep.status).toBe(200);
    expect(await deep.text()).toContain('<div id="root">');
    // API clients still get the JSON index.
    const index = await api(global.apiUrl, 'GET', '/');
    expect(index.body).toMatchObject({ product: 'Skein', gui: 'The gui is available at /gui' });
  });

  it('can be turned off (KUMA_API_SERVER_GUI_ENABLED=false)', async () => {
    const off = await startCp({ env: { KUMA_API_SERVER_GUI_ENABLED: 'false' } });
    try {
      expect((await api(off.apiUrl, 'GET', '/gui/')).status).toBe(404);
      expect((await api(off.apiUrl, 'GET', '/')).body).toMatchObject({ gui: '' });
    } finally {
      await off.stop();
    }
  });

  it('overview: meshes, zones and proxies online', async () => {
    const text = await visit(global, '/', 'Data plane proxies online', 'overview');
    expect(text).toContain('demo');
    expect(text).toContain('default');
    expect(await page.getByTestId('dp-online').innerText()).toBe('2 online');
    expect(await page.getByTestId('dp-offline').innerText()).toBe('0 offline');
    expect(text).toMatch(/Zones\s+1 \/ 1/);
  });

  it('meshes: mTLS backend, policies, zone proxies', async () => {
    const text = await visit(global, '/meshes', 'mTLS backend', 'meshes');
    const demo = (await page.locator('tr', { hasText: 'demo' }).first().innerText()).replace(/\s+/g, ' ');
    expect(demo).toContain('ca-1 (builtin');
    // allow-web plus the mesh's default policies; one zone proxy; two proxies.
    expect(demo).toMatch(/demo On ca-1 \(builtin\) \d+ 2 1/);
    expect(text).toContain('default');
  });

  it('data plane proxies: list with filters', async () => {
    const text = await visit(global, '/dataplanes', 'web-1', 'dataplanes');
    expect(text).toContain('demo-ingress');
    expect(text).toContain('zone proxy (ingress)');
    expect(text).toContain('zone-1');
    expect(await page.locator('tr', { hasText: 'web-1' }).innerText()).toContain('Online');
    await page.getByLabel('type').selectOption('zoneproxy');
    await page.locator('tr', { hasText: 'demo-ingress' }).waitFor();
    expect(await page.locator('tbody tr').count()).toBe(1);
    await page.getByLabel('status').selectOption('Offline');
    await page.getByText('No data plane proxy matches these filters').waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, 'dataplanes-filtered.png'), fullPage: true });
  });

  it('data plane proxy detail: inbounds, insight, policies, xDS config', async () => {
    const text = await visit(zone, '/meshes/demo/dataplanes/web-1', 'xDS configuration', 'dataplane-detail');
    expect(text).toContain('kuma.io/service=web');
    expect(text).toMatch(/Status\s+Online/);
    expect(text).toMatch(/Configurations ACKed\s+[1-9]/);
    // The xDS config the proxy was sent: its inbound listener and cluster names.
    expect(text).toMatch(/Listener\s+.*inbound:127\.0\.0\.1:\d+/);
    expect(text).toContain('Cluster');
    // Policies that apply: from `_rules`, or computed from the targetRef with a notice.
    const rules = await api(zone.apiUrl, 'GET', '/meshes/demo/dataplanes/web-1/_rules');
    if (rules.status === 404) expect(text).toContain('not available in this control plane version');
    expect(text).toMatch(/MeshTrafficPermission/);
  });

  it('zone proxies per mesh and role', async () => {
    const text = await visit(global, '/zone-proxies', 'Role ingress', 'zone-proxies');
    expect(text).toContain('Mesh demo');
    expect(await page.locator('tr', { hasText: 'demo-ingress' }).innerText()).toMatch(/zone-1.*Online/s);
    expect(text).toContain('No zone proxies in mesh default');
  });

  it('policies: list and detail with YAML and the proxies it hits', async () => {
    const text = await visit(global, '/policies?mesh=demo', 'allow-web', 'policies');
    expect(text).toContain('MeshTrafficPermission');
    await page.getByRole('link', { name: 'allow-web' }).click();
    await page.getByTestId('policy-yaml').waitFor();
    const yaml = await page.getByTestId('policy-yaml').innerText();
    expect(yaml).toContain('type: MeshTrafficPermission');
    expect(yaml).toContain('name: allow-web');
    expect(yaml).toContain('action: Allow');
    const hits = await page.locator('section, main').first().innerText();
    expect(hits).toMatch(/Proxies it applies to[\s\S]*web-1/);
    expect(hits).not.toMatch(/Proxies it applies to[\s\S]*demo-ingress[\s\S]*YAML/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'policy-detail.png'), fullPage: true });
  });

  it('zones with their sync state (global)', async () => {
    const text = await visit(global, '/zones', 'zone-1', 'zones');
    expect(await page.locator('tr', { hasText: 'zone-1' }).innerText()).toContain('Online');
    expect(text).toContain('Sync state');
    // On a zone CP the page explains where zones are listed instead of going blank.
    const onZone = await visit(zone, '/zones', 'Zones and their sync state are listed by the global control plane', 'zones-on-zone-cp');
    expect(onZone).toContain('zone mode');
  });

  it('explains errors instead of showing a blank page', async () => {
    const text = await visit(global, '/meshes/demo/dataplanes/no-such-proxy', 'Could not load', 'error-not-found');
    expect(text).toContain('no-such-proxy');
    expect(text).toMatch(/does not exist|deleted/);
    const unknown = await visit(global, '/no/such/page', 'There is no such page', 'error-no-page');
    expect(unknown).toContain('Back to the overview');
  });
});
