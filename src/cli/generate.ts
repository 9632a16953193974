// `skein generate dataplane-token`: asks the control plane to sign a dataplane token.
import { Command } from 'commander';
import { apiClient, type GlobalOptions } from './context.js';

interface TokenOptions extends GlobalOptions {
  name?: string;
  mesh: string;
  proxyType: string;
  tag: string[];
  workload?: string;
  validFor?: string;
}

export function generateCommand(): Command {
  const generate = new Command('generate').description('generate tokens');
  generate
    .command('dataplane-token')
    .description('generate a token a dataplane presents to the control plane')
    .option('--name <name>', 'name of the dataplane the token is bound to')
    .option('-m, --mesh <mesh>', 'mesh of the dataplane', 'default')
    .option('--proxy-type <type>', 'dataplane|ingress|egress', 'dataplane')
    .option('--tag <key=v1,v2>', 'tag the dataplane must have (repeatable)', (v: string, all: string[]) => [...all, v], [] as string[])
    .option('--workload <workload>', 'workload the token is bound to')
    .option('--valid-for <duration>', 'how long the token is valid, e.g. 24h')
    .action(async (_opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<TokenOptions>();
      if (!opts.validFor) throw new Error('required flag(s) "valid-for" not set');
      const body = {
        name: opts.name ?? '',
        mesh: opts.mesh,
        tags: parseTags(opts.tag),
        type: opts.proxyType,
        workload: opts.workload ?? '',
        validFor: opts.validFor,
      };
      let token: string;
      try {
        token = await apiClient(opts).call<string>('POST', '/tokens/dataplane', body);
      } catch (err) {
        throw new Error(`failed to generate a dataplane token: ${(err as Error).message}`, { cause: err });
      }
      process.stdout.write(`${String(token).trim()}\n`);
    });
  return generate;
}

/** `--tag kuma.io/service=web,api` → `{ "kuma.io/service": ["web", "api"] }`. */
export function parseTags(pairs: string[]): Record<string, string[]> {
  const tags: Record<string, string[]> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`invalid --tag "${pair}": expected key=value[,value]`);
    tags[pair.slice(0, eq)] = [...(tags[pair.slice(0, eq)] ?? []), ...pair.slice(eq + 1).split(',').filter(Boolean)];
  }
  return tags;
}
