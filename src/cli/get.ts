// `skein get <kinds>` / `skein get <kind> <name>`.
import { Command } from 'commander';
import type { ResourceDescriptor } from '../api/descriptor.js';
import { ServerError, resourcePath, type ApiClient, type ApiErrorBody, type ListPage } from './client.js';
import { apiClient, type GlobalOptions } from './context.js';
import { kindForRead } from './kinds.js';
import { formatStructured, paginationFooter, parseOutputFormat } from './output.js';
import { isOnline, resourceTable, type WireResource } from './tables.js';

interface GetOptions extends GlobalOptions {
  mesh: string;
  output: string;
  size?: string;
  offset?: string;
}

export function getCommand(): Command {
  return new Command('get')
    .description('show resources: `get meshes`, `get dataplanes -m demo`, `get mesh default -o yaml`')
    .argument('<type>', 'kind, e.g. meshes, mesh, dataplanes, dataplane, zones, secrets')
    .argument('[name]', 'name of one resource')
    .option('-m, --mesh <mesh>', 'mesh to use', 'default')
    .option('-o, --output <format>', 'output format: table|yaml|json', 'table')
    .option('--size <n>', 'maximum number of elements to return')
    .option('--offset <offset>', 'the offset that indicates starting element of the resources list to retrieve')
    .action(async (type: string, name: string | undefined, _opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GetOptions>();
      const format = parseOutputFormat(opts.output);
      const d = kindForRead(type);
      const client = apiClient(opts);
      const text = name === undefined ? await listText(client, d, opts, format) : await itemText(client, d, opts.mesh, name, format);
      process.stdout.write(text);
    });
}

async function listText(client: ApiClient, d: ResourceDescriptor, opts: GetOptions, format: 'table' | 'yaml' | 'json'): Promise<string> {
  const query = new URLSearchParams();
  if (opts.size !== undefined) query.set('size', opts.size);
  if (opts.offset !== undefined) query.set('offset', opts.offset);
  const qs = query.size > 0 ? `?${query.toString()}` : '';
  if (format === 'table' && d.name === 'Dataplane') {
    // The overview carries each dataplane's insight, so one request gives the STATUS column too.
    const page = await client.call<ListPage>('GET', `${resourcePath(d, opts.mesh)}/_overview${qs}`);
    const items = page.items.map(dataplaneFromOverview);
    const status = new Map(page.items.map((o, i) => [items[i]!.name, isOnline(o['dataplaneInsight']) ? 'Online' : 'Offline']));
    return resourceTable(d, items, Date.now(), status) + paginationFooter(page.next);
  }
  const page = await client.call<ListPage<WireResource>>('GET', resourcePath(d, opts.mesh) + qs);
  if (format !== 'table') return formatStructured(page, format);
  return resourceTable(d, page.items, Date.now()) + paginationFooter(page.next);
}

async function itemText(client: ApiClient, d: ResourceDescriptor, mesh: string, name: string, format: 'table' | 'yaml' | 'json'): Promise<string> {
  const overview = format === 'table' && d.name === 'Dataplane';
  const path = resourcePath(d, mesh, name) + (overview ? '/_overview' : '');
  const res = await client.request('GET', path);
  if (res.status === 404) throw new Error(d.scope === 'Mesh' ? `No resources found in ${mesh} mesh` : 'No resources found');
  if (res.status !== 200) throw new ServerError(res.status, res.json as ApiErrorBody | undefined, res.text);
  const item = res.json as Record<string, unknown>;
  if (format !== 'table') return formatStructured(item, format);
  if (overview) {
    const dp = dataplaneFromOverview(item);
    return resourceTable(d, [dp], Date.now(), new Map([[dp.name, isOnline(item['dataplaneInsight']) ? 'Online' : 'Offline']]));
  }
  return resourceTable(d, [item as WireResource], Date.now());
}

/** An overview item nests the dataplane's spec under `dataplane`; the table wants the flat resource. */
function dataplaneFromOverview(o: Record<string, unknown>): WireResource {
  return { ...(o['dataplane'] as Record<string, unknown>), mesh: o['mesh'] as string, name: o['name'] as string, modificationTime: o['modificationTime'] as string };
}
