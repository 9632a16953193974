// The CLI's own configuration (`~/.skein/config`), in kumactl's shape: named control planes,
// contexts pointing at them, and the current context.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';

export interface ApiServerCoordinates {
  url: string;
  authType?: string;
  authConf?: Record<string, string>;
}

export interface ControlPlaneEntry {
  name: string;
  coordinates: { apiServer: ApiServerCoordinates };
}

export interface ContextEntry {
  name: string;
  controlPlane: string;
}

export interface CliConfig {
  controlPlanes: ControlPlaneEntry[];
  contexts: ContextEntry[];
  currentContext: string;
}

export const DEFAULT_API_URL = 'http://localhost:5681';

export function defaultConfigPath(): string {
  return path.join(os.homedir(), '.skein', 'config');
}

export function defaultConfig(): CliConfig {
  return {
    controlPlanes: [{ name: 'local', coordinates: { apiServer: { url: DEFAULT_API_URL } } }],
    contexts: [{ name: 'local', controlPlane: 'local' }],
    currentContext: 'local',
  };
}

/** Reads the config file; a missing file means the default config (it is written only when changed). */
export function loadConfig(file: string): CliConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return defaultConfig();
    throw new Error(`could not read config file ${file}: ${(err as Error).message}`, { cause: err });
  }
  let parsed: Partial<CliConfig> | null;
  try {
    parsed = YAML.parse(text) as Partial<CliConfig> | null;
  } catch (err) {
    throw new Error(`could not parse config file ${file}: ${(err as Error).message}`, { cause: err });
  }
  return {
    controlPlanes: parsed?.controlPlanes ?? [],
    contexts: parsed?.contexts ?? [],
    currentContext: parsed?.currentContext ?? '',
  };
}

export function saveConfig(file: string, config: CliConfig): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  // The file may hold API tokens: keep it private to the user.
  fs.writeFileSync(file, YAML.stringify(config), { mode: 0o600 });
}

/** The control plane of the named (or current) context. */
export function controlPlaneOf(config: CliConfig, contextName?: string): ControlPlaneEntry {
  const name = contextName ?? config.currentContext;
  if (!name) throw new Error('there is no active Control Plane. Use "skein config control-planes add" or "skein config control-planes switch"');
  const context = config.contexts.find((c) => c.name === name);
  if (!context) throw new Error(`there is no context with name "${name}"`);
  const cp = config.controlPlanes.find((c) => c.name === context.controlPlane);
  if (!cp) throw new Error(`there is no Control Plane with name "${context.controlPlane}"`);
  return cp;
}
