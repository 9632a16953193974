// Rejection of Envoy configuration the engine cannot run. Its message becomes the NACK reason,
// so it always names the resource, the field path and (where relevant) the type URL.
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function reject(path: string, reason: string): never {
  throw new ConfigError(`${path}: ${reason}`);
}
