// `skein delete <kind> <name>`.
import { Command } from 'commander';
import { ServerError, resourcePath, type ApiErrorBody } from './client.js';
import { apiClient, type GlobalOptions } from './context.js';
import { kindForWrite } from './kinds.js';

export function deleteCommand(): Command {
  return new Command('delete')
    .description('delete a resource: `delete dataplane web-1 -m demo`, `delete mesh demo`')
    .argument('[type]')
    .argument('[name]')
    .allowExcessArguments()
    .option('-m, --mesh <mesh>', 'mesh to use', 'default')
    .action(async (type: string | undefined, name: string | undefined, _opts: unknown, cmd: Command) => {
      const received = cmd.args.length;
      if (type === undefined || name === undefined || received !== 2) throw new Error(`accepts 2 arg(s), received ${received}`);
      const opts = cmd.optsWithGlobals<GlobalOptions & { mesh: string }>();
      const d = kindForWrite(type);
      const res = await apiClient(opts).request('DELETE', resourcePath(d, opts.mesh, name));
      if (res.status === 404) throw new Error(`there is no ${d.name} with name "${name}"`);
      if (res.status < 200 || res.status >= 300) throw new ServerError(res.status, res.json as ApiErrorBody | undefined, res.text);
      process.stdout.write(`deleted ${d.name} "${name}"\n`);
    });
}
