// `skein inspect meshes|dataplanes|dataplane <name>`: resources together with their runtime state.
import { Command } from 'commander';
import { ServerError, resourcePath, type ApiClient, type ApiErrorBody, type ListPage } from './client.js';
import { apiClient, type GlobalOptions } from './context.js';
import { formatAge, renderTable } from './format.js';
import { allKinds, kindForRead } from './kinds.js';
import { formatStructured, parseOutputFormat } from './output.js';
import { dataplaneTags, isOnline } from './tables.js';

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' ? (v as Obj) : {});
const list = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);

export function inspectCommand(): Command {
  const inspect = new Command('inspect').description('inspect resources and their runtime state');
  inspect
    .command('meshes')
    .description('meshes with their number of dataplanes (online/total) and of resources of each kind')
    .option('-o, --output <format>', 'output format: table|yaml|json', 'table')
    .action(async (_opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions & { output: string }>();
      const format = parseOutputFormat(opts.output);
      const rows = await meshStats(apiClient(opts));
      if (format !== 'table') {
        process.stdout.write(formatStructured(rows, format));
        return;
      }
      const kinds = countedKinds();
      process.stdout.write(
        renderTable(
          ['MESH', 'DATAPLANES', ...kinds.map((k) => k.pluralDisplayName.toUpperCase())],
          rows.map((r) => [r.mesh, `${r.dataplanes.online}/${r.dataplanes.total}`, ...kinds.map((k) => String(r.resources[k.name] ?? 0))]),
        ),
      );
    });
  inspect
    .command('dataplanes')
    .description('dataplanes with their connection to the control plane')
    .option('-m, --mesh <mesh>', 'mesh to use', 'default')
    .option('-o, --output <format>', 'output format: table|yaml|json', 'table')
    .action(async (_opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions & { mesh: string; output: string }>();
      const format = parseOutputFormat(opts.output);
      const overviews = await allPages(apiClient(opts), `${resourcePath(kindForRead('dataplanes'), opts.mesh)}/_overview`);
      if (format !== 'table') {
        process.stdout.write(formatStructured({ total: overviews.length, items: overviews, next: null }, format));
        return;
      }
      process.stdout.write(renderTable(INSPECT_DATAPLANES_HEADER, overviews.map((o) => inspectDataplaneRow(o, Date.now()))));
    });
  inspect
    .command('dataplane')
    .description("a dataplane's Envoy admin data, fetched through the control plane")
    .argument('<name>')
    .option('-m, --mesh <mesh>', 'mesh to use', 'default')
    .option('--type <type>', 'config-dump|stats|clusters', 'config-dump')
    .option('--include-eds', 'include endpoints in the config dump')
    .option('--rules', 'the policies that apply to each inbound, outbound and zone-proxy listener, and their merged conf')
    .option('-o, --output <format>', 'with --rules: output format table|yaml|json', 'table')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions & { mesh: string; type: string; includeEds?: boolean; rules?: boolean; output: string }>();
      if (opts.rules) {
        const format = parseOutputFormat(opts.output);
        const rules = await apiClient(opts).call<RulesResponse>('GET', `${resourcePath(kindForRead('dataplane'), opts.mesh, name)}/_rules`);
        process.stdout.write(format === 'table' ? renderRules(rules) : formatStructured(rules, format));
        return;
      }
      const endpoint = ADMIN_ENDPOINTS[opts.type];
      if (!endpoint) throw new Error(`invalid inspect type "${opts.type}". Allowed values: ${Object.keys(ADMIN_ENDPOINTS).join(', ')}`);
      const query = opts.type === 'config-dump' && opts.includeEds ? '?include_eds=true' : '';
      const res = await apiClient(opts).request('GET', `${resourcePath(kindForRead('dataplane'), opts.mesh, name)}/${endpoint}${query}`);
      if (res.status !== 200) throw new ServerError(res.status, res.json as ApiErrorBody | undefined, res.text);
      process.stdout.write(res.text.endsWith('\n') ? res.text : `${res.text}\n`);
    });
  return inspect;
}

const ADMIN_ENDPOINTS: Record<string, string> = { 'config-dump': 'xds', stats: 'stats', clusters: 'clusters' };

interface MeshStats {
  mesh: string;
  dataplanes: { online: number; total: number };
  resources: Record<string, number>;
}

/** Kinds counted per mesh: mesh-scoped, user-managed, not secret. Dataplanes get their own column. */
function countedKinds() {
  return allKinds().filter((k) => k.scope === 'Mesh' && !k.readOnly && !k.adminOnly && k.name !== 'Dataplane');
}

async function meshStats(client: ApiClient): Promise<MeshStats[]> {
  const meshes = await allPages(client, resourcePath(kindForRead('meshes'), ''));
  return Promise.all(
    meshes.map(async (m) => {
      const mesh = String(m['name']);
      const overviews = await allPages(client, `${resourcePath(kindForRead('dataplanes'), mesh)}/_overview`);
      const counts = await Promise.all(
        countedKinds().map(async (k) => [k.name, (await client.call<ListPage>('GET', `${resourcePath(k, mesh)}?size=1`)).total] as const),
      );
      return {
        mesh,
        dataplanes: { online: overviews.filter((o) => isOnline(o['dataplaneInsight'])).length, total: overviews.length },
        resources: Object.fromEntries(counts),
      };
    }),
  );
}

/** Follows `offset` pages until the list ends. */
async function allPages(client: ApiClient, path: string): Promise<Obj[]> {
  const items: Obj[] = [];
  for (;;) {
    const page = await client.call<ListPage>('GET', `${path}?size=1000&offset=${items.length}`);
    items.push(...page.items);
    if (!page.next || page.items.length === 0) return items;
  }
}

const INSPECT_DATAPLANES_HEADER = [
  'MESH', 'NAME', 'TAGS', 'STATUS', 'LAST CONNECTED AGO', 'LAST UPDATED AGO', 'TOTAL UPDATES', 'TOTAL ERRORS',
  'CERT REGENERATED AGO', 'CERT EXPIRATION', 'CERT REGENERATIONS', 'CERT BACKEND', 'SUPPORTED CERT BACKENDS', 'KUMA-DP', 'ENVOY',
];

export function inspectDataplaneRow(overview: Obj, now: number): string[] {
  const insight = obj(overview['dataplaneInsight']);
  const subscriptions = list(insight['subscriptions']);
  const last = obj(subscriptions[subscriptions.length - 1]);
  const totals = subscriptions.map((s) => obj(obj(s['status'])['total']));
  const sum = (field: string) => totals.reduce((n, t) => n + Number(t[field] ?? 0), 0);
  const mtls = obj(insight['mTLS']);
  const version = obj(last['version']);
  const supported = Array.isArray(mtls['supportedBackends']) ? (mtls['supportedBackends'] as string[]).join(',') : '';
  return [
    String(overview['mesh'] ?? ''),
    String(overview['name'] ?? ''),
    dataplaneTags(obj(overview['dataplane'])),
    isOnline(insight) ? 'Online' : 'Offline',
    formatAge(last['connectTime'] as string | undefined, now),
    formatAge(obj(last['status'])['lastUpdateTime'] as string | undefined, now),
    String(sum('responsesSent')),
    String(sum('responsesRejected')),
    formatAge(mtls['lastCertificateRegeneration'] as string | undefined, now),
    formatTimestamp(mtls['certificateExpirationTime']),
    String(mtls['certificateRegenerations'] ?? 0),
    String(mtls['issuedBackend'] || '-'),
    supported || '-',
    String(obj(version['kumaDp'])['version'] || '-'),
    String(obj(version['envoy'])['version'] || '-'),
  ];
}

/** `2006-01-02 15:04:05` (UTC), or `-`. */
function formatTimestamp(value: unknown): string {
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) return '-';
  return new Date(value).toISOString().slice(0, 19).replace('T', ' ');
}

// `skein inspect dataplane NAME --rules`: the `_rules` response as indented text, one block per
// policy kind, conf as compact JSON.
interface RuleWire {
  match?: { spiffeID?: { type?: string; value?: string }; sni?: { type?: string; value?: string } };
  conf: unknown;
  origin: { policy: string; section: string; index: number };
}
interface MergedWire {
  conf?: unknown;
  origins: { policy: string; section: string; index: number }[];
}
interface SectionWire {
  section: string;
  policies: string[];
  rules: RuleWire[];
  conf?: unknown;
  from: { targetRef: unknown; conf: unknown; origin: { policy: string; index: number } }[];
}
export interface RulesResponse {
  resource: { mesh: string; name: string };
  proxyType: string;
  zoneProxy: boolean;
  rules: {
    type: string;
    policies: string[];
    proxy?: MergedWire;
    inbounds: (SectionWire & { inbound: { port: number; tags: Record<string, string> } })[];
    listeners: (SectionWire & { listener: { type: string; port: number }; bySni: Record<string, unknown> })[];
    outbounds: (MergedWire & { key: string })[];
    toMesh?: MergedWire;
  }[];
}

const json = (v: unknown): string => (v === undefined ? '-' : JSON.stringify(v));

function describeMatch(m: RuleWire['match']): string {
  if (!m) return 'all';
  const parts: string[] = [];
  if (m.spiffeID) parts.push(`spiffeID ${m.spiffeID.type} ${m.spiffeID.value}`);
  if (m.sni) parts.push(`sni ${m.sni.value}`);
  return parts.join(' and ');
}

function sectionLines(s: SectionWire, indent: string): string[] {
  const lines = [`${indent}policies: ${s.policies.join(', ') || '-'}`];
  if (s.conf !== undefined) lines.push(`${indent}conf: ${json(s.conf)}`);
  for (const r of s.rules) lines.push(`${indent}rule (${describeMatch(r.match)}) by ${r.origin.policy} ${r.origin.section}[${r.origin.index}]: ${json(r.conf)}`);
  for (const f of s.from) lines.push(`${indent}from ${json(f.targetRef)} by ${f.origin.policy}: ${json(f.conf)}`);
  return lines;
}

export function renderRules(res: RulesResponse): string {
  const out = [`Dataplane ${res.resource.name} (mesh ${res.resource.mesh}, ${res.zoneProxy ? 'zone proxy' : res.proxyType})`];
  if (res.rules.length === 0) out.push('no policy selects this proxy');
  for (const kind of res.rules) {
    out.push('', `${kind.type}: ${kind.policies.join(', ')}`);
    if (kind.proxy) out.push(`  proxy: ${json(kind.proxy.conf)}`);
    for (const i of kind.inbounds) {
      if (i.policies.length === 0) continue;
      out.push(`  inbound ${i.section} (port ${i.inbound.port}, ${i.inbound.tags['kuma.io/service'] ?? '-'}):`, ...sectionLines(i, '    '));
    }
    for (const l of kind.listeners) {
      if (l.policies.length === 0) continue;
      out.push(`  listener ${l.section} (${l.listener.type}, port ${l.listener.port}):`, ...sectionLines(l, '    '));
      for (const [sni, conf] of Object.entries(l.bySni)) out.push(`    sni ${sni}: ${json(conf)}`);
    }
    for (const o of kind.outbounds) {
      if (o.conf !== undefined) out.push(`  outbound ${o.key}: ${json(o.conf)} (from ${[...new Set(o.origins.map((x) => x.policy))].join(', ')})`);
    }
    if (kind.toMesh) out.push(`  outbound (any other): ${json(kind.toMesh.conf)}`);
  }
  return `${out.join('\n')}\n`;
}
