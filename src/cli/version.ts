// `skein version`: this client's version and, when reachable, the control plane's.
import { Command } from 'commander';
import { SKEIN_VERSION } from '../version.js';
import { apiClient, type GlobalOptions } from './context.js';

export function versionCommand(): Command {
  return new Command('version').description('print the client version and the control plane version').action(async (_opts: unknown, cmd: Command) => {
    process.stdout.write(`Client: Skein ${SKEIN_VERSION}\n`);
    try {
      const index = await apiClient(cmd.optsWithGlobals<GlobalOptions>()).call<{ product?: string; version?: string }>('GET', '/');
      process.stdout.write(`Server: ${index.product ?? 'Kuma'} ${index.version ?? 'unknown'}\n`);
    } catch (err) {
      process.stderr.write(`Unable to get the server version: ${(err as Error).message}\n`);
    }
  });
}
