// Global flags → which config file and which control plane a command talks to.
import { ApiClient } from './client.js';
import { controlPlaneOf, defaultConfigPath, loadConfig } from './config-file.js';
import { parseDuration } from './format.js';

export interface GlobalOptions {
  configFile?: string;
  context?: string;
  apiUrl?: string;
  apiTimeout?: string;
}

export function configPath(opts: GlobalOptions): string {
  return opts.configFile || process.env['SKEIN_CONFIG'] || defaultConfigPath();
}

/** `--api-url` / `SKEIN_API_URL` win over the config file's context. */
export function apiClient(opts: GlobalOptions): ApiClient {
  const timeoutMs = parseDuration(opts.apiTimeout ?? '1m');
  const explicitUrl = opts.apiUrl || process.env['SKEIN_API_URL'];
  if (explicitUrl) return new ApiClient(explicitUrl, timeoutMs);
  const cp = controlPlaneOf(loadConfig(configPath(opts)), opts.context);
  const { url, authType, authConf } = cp.coordinates.apiServer;
  const headers: Record<string, string> = {};
  if (authType === 'tokens' && authConf?.['token']) headers['authorization'] = `Bearer ${authConf['token']}`;
  return new ApiClient(url, timeoutMs, headers);
}
