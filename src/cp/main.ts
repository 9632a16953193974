// `skein cp ...`: run the control plane, print its configuration defaults.
import { Command } from 'commander';
import YAML from 'yaml';
import { ConfigError, SETTINGS, defaultConfig, loadConfig } from '../config/config.js';
import { createLogger } from '../observability/logger.js';
import { startControlPlane } from './control-plane.js';

export async function runCp(argv: string[]): Promise<void> {
  const program = new Command('skein cp').description('Skein control plane');
  program.exitOverride();

  const run = program.command('run').description('run the control plane').option('-c, --config-file <file>', 'YAML config file (env SKEIN_CONFIG_FILE)');
  for (const s of SETTINGS) {
    // A boolean flag alone means true (`--dp-server-plaintext`); `--flag false` is accepted too.
    if (!s.flag) continue;
    const help = `${s.description} (env ${s.env.join(', ')})`;
    // A repeated list flag accumulates (`--x a --x b` = `a,b`).
    if (s.kind === 'list') run.option(`--${s.flag} <value>`, help, (v: string, prev: string | undefined) => (prev ? `${prev},${v}` : v));
    else run.option(`--${s.flag} ${s.kind === 'boolean' ? '[value]' : '<value>'}`, help);
  }
  run.action(async (flags: Record<string, unknown>) => {
    const config = loadConfig({ configFile: (flags['configFile'] as string | undefined) ?? process.env['SKEIN_CONFIG_FILE'], flags });
    const logger = createLogger(config.logLevel);
    const cp = await startControlPlane(config, logger);
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutting down');
      cp.stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
  });

  program
    .command('config')
    .description('print control plane configuration')
    .option('--defaults', 'print the default configuration')
    .action((flags: { defaults?: boolean }) => {
      const config = flags.defaults ? defaultConfig() : loadConfig();
      process.stdout.write(YAML.stringify(config));
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`Error: ${err.message}\n`);
      process.exit(1);
    }
    const code = (err as { code?: string; exitCode?: number }).code;
    if (code?.startsWith('commander.')) process.exit((err as { exitCode?: number }).exitCode ?? 1);
    process.stderr.write(`Error: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
