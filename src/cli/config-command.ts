// `skein config control-planes add|list|switch|remove` and `skein config view`.
import { Command } from 'commander';
import YAML from 'yaml';
import { ApiClient } from './client.js';
import { loadConfig, saveConfig, type CliConfig } from './config-file.js';
import { configPath, type GlobalOptions } from './context.js';
import { parseDuration, renderTable } from './format.js';

interface AddOptions extends GlobalOptions {
  name: string;
  address: string;
  overwrite?: boolean;
  authType?: string;
  authConf: string[];
  skipCheck?: boolean;
}

export function configCommand(): Command {
  const config = new Command('config').description('manage the CLI configuration');
  config
    .command('view')
    .description('show the configuration')
    .action((_opts: unknown, cmd: Command) => {
      process.stdout.write(YAML.stringify(loadConfig(configPath(cmd.optsWithGlobals<GlobalOptions>()))));
    });

  const cps = config.command('control-planes').description('manage known control planes');
  cps
    .command('add')
    .description('add a control plane and make it the active one')
    .requiredOption('--name <name>', 'reference name for the control plane')
    .requiredOption('--address <url>', 'URL of the control plane API server, e.g. http://localhost:5681')
    .option('--overwrite', 'replace an existing control plane with the same name')
    .option('--auth-type <type>', 'authentication type: tokens')
    .option('--auth-conf <key=value>', 'authentication configuration, e.g. token=<user token>', (v: string, all: string[]) => [...all, v], [] as string[])
    .option('--skip-check', 'do not check that the control plane is reachable')
    .action(async (_opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<AddOptions>();
      const file = configPath(opts);
      const cfg = loadConfig(file);
      if (!opts.overwrite && cfg.controlPlanes.some((c) => c.name === opts.name)) {
        throw new Error(`Control Plane with name "${opts.name}" already exists. Use --overwrite to replace an existing one.`);
      }
      const authConf = parseAuthConf(opts.authType, opts.authConf);
      if (!opts.skipCheck) await checkReachable(opts.address, opts.apiTimeout);
      const apiServer = { url: opts.address, ...(opts.authType ? { authType: opts.authType, authConf } : {}) };
      upsertByName(cfg.controlPlanes, { name: opts.name, coordinates: { apiServer } });
      upsertByName(cfg.contexts, { name: opts.name, controlPlane: opts.name });
      cfg.currentContext = opts.name;
      saveConfig(file, cfg);
      process.stdout.write(`added Control Plane "${opts.name}"\nswitched active Control Plane to "${opts.name}"\n`);
    });
  cps
    .command('list')
    .description('list control planes')
    .action((_opts: unknown, cmd: Command) => {
      const cfg = loadConfig(configPath(cmd.optsWithGlobals<GlobalOptions>()));
      const active = cfg.contexts.find((c) => c.name === cfg.currentContext)?.controlPlane;
      process.stdout.write(
        renderTable(['ACTIVE', 'NAME', 'ADDRESS'], cfg.controlPlanes.map((cp) => [cp.name === active ? '*' : '', cp.name, cp.coordinates.apiServer.url])),
      );
    });
  cps
    .command('switch')
    .description('switch the active control plane')
    .requiredOption('--name <name>', 'name of the control plane')
    .action((_opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions & { name: string }>();
      const file = configPath(opts);
      const cfg = loadConfig(file);
      requireControlPlane(cfg, opts.name);
      upsertByName(cfg.contexts, { name: opts.name, controlPlane: opts.name });
      cfg.currentContext = opts.name;
      saveConfig(file, cfg);
      process.stdout.write(`switched active Control Plane to "${opts.name}"\n`);
    });
  cps
    .command('remove')
    .description('remove a control plane')
    .requiredOption('--name <name>', 'name of the control plane')
    .action((_opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<GlobalOptions & { name: string }>();
      const file = configPath(opts);
      const cfg = loadConfig(file);
      requireControlPlane(cfg, opts.name);
      cfg.controlPlanes = cfg.controlPlanes.filter((c) => c.name !== opts.name);
      const removedContexts = cfg.contexts.filter((c) => c.controlPlane === opts.name).map((c) => c.name);
      cfg.contexts = cfg.contexts.filter((c) => c.controlPlane !== opts.name);
      if (removedContexts.includes(cfg.currentContext)) cfg.currentContext = '';
      saveConfig(file, cfg);
      process.stdout.write(`removed Control Plane "${opts.name}"\n`);
    });
  return config;
}

function requireControlPlane(cfg: CliConfig, name: string): void {
  if (!cfg.controlPlanes.some((c) => c.name === name)) throw new Error(`there is no Control Plane with name "${name}"`);
}

function upsertByName<T extends { name: string }>(entries: T[], entry: T): void {
  const i = entries.findIndex((e) => e.name === entry.name);
  if (i >= 0) entries[i] = entry;
  else entries.push(entry);
}

function parseAuthConf(authType: string | undefined, pairs: string[]): Record<string, string> {
  if (authType === undefined) {
    if (pairs.length > 0) throw new Error('--auth-conf requires --auth-type');
    return {};
  }
  if (authType !== 'tokens') throw new Error(`authentication plugin of type "${authType}" not found. Available: tokens`);
  const conf: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`invalid --auth-conf "${pair}": expected key=value`);
    conf[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  if (!conf['token']) throw new Error('provide token=YOUR_TOKEN in --auth-conf');
  return conf;
}

async function checkReachable(address: string, apiTimeout: string | undefined): Promise<void> {
  const res = await new ApiClient(address, parseDuration(apiTimeout ?? '1m')).request('GET', '/');
  const index = res.json as { version?: string } | undefined;
  if (res.status !== 200 || !index?.version) {
    throw new Error(`could not connect to the control plane at ${address}: it did not answer like a Skein or Kuma API server (HTTP ${res.status})`);
  }
}
