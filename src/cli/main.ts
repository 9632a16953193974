// `skein`: the user CLI. `skein cp ...` and `skein dp ...` are loaded on demand so the CLI itself
// stays free of control-plane and data-plane code; every other command talks to the control plane
// over its REST API only.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { applyCommand } from './apply.js';
import { configCommand } from './config-command.js';
import { deleteCommand } from './delete.js';
import { generateCommand } from './generate.js';
import { getCommand } from './get.js';
import { inspectCommand } from './inspect.js';
import { installCommand } from './install.js';
import { versionCommand } from './version.js';

export async function runCli(argv: string[]): Promise<number> {
  // `cp`/`dp` own their whole argv (their flags may clash with this CLI's global flags).
  const [first, ...rest] = argv;
  if (first === 'cp') return runDelegate('cp', '../cp/main.js', 'runCp', rest);
  if (first === 'dp') return runDelegate('dp', '../dp/main.js', 'runDp', rest);

  const program = new Command('skein')
    .description('Skein service mesh command line')
    .option('--config-file <path>', 'CLI config file (env SKEIN_CONFIG, default ~/.skein/config)')
    .option('--context <name>', 'context of the config file to use (default: current context)')
    .option('--api-url <url>', 'control plane API URL, overrides the context (env SKEIN_API_URL)')
    .option('--api-timeout <duration>', 'timeout of each API request', '1m')
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`Error: ${text.replace(/^error: /, '')}`) })
    .addHelpText('after', '\nAlso:\n  cp ...    run the control plane (`skein cp run`, `skein cp config --defaults`)\n  dp ...    run a data plane proxy (`skein dp run ...`)\n');
  for (const cmd of [applyCommand(), getCommand(), deleteCommand(), inspectCommand(), configCommand(), generateCommand(), installCommand(), versionCommand()]) {
    program.addCommand(cmd);
  }
  // Commands built on their own do not inherit these settings from the program.
  for (const cmd of allCommands(program)) cmd.exitOverride().configureOutput(program.configureOutput());

  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    // Commander has already printed its own parse errors and help.
    if (err instanceof CommanderError) return err.exitCode;
    process.stderr.write(`Error: ${(err as Error).message}\n`);
    return 1;
  }
}

/** Hands the argv to another module's `run*` function, loaded only when used. */
async function runDelegate(name: string, modulePath: string, exportName: string, argv: string[]): Promise<number> {
  const url = new URL(modulePath, import.meta.url);
  if (!fs.existsSync(fileURLToPath(url))) {
    process.stderr.write(`Error: \`skein ${name}\` is not available in this build (${fileURLToPath(url)} is missing)\n`);
    return 1;
  }
  const mod = (await import(url.href)) as Record<string, (argv: string[]) => Promise<void>>;
  await mod[exportName]!(argv);
  return 0;
}

function allCommands(cmd: Command): Command[] {
  return cmd.commands.flatMap((c) => [c, ...allCommands(c)]);
}

process.exitCode = await runCli(process.argv.slice(2));
