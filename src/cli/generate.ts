// `skein generate ...`: tokens signed by the control plane (REST) or offline with a local signing key,
// and the offline signing keys themselves (Kuma's `kumactl generate` commands and flags).
import fs from 'node:fs';
import { Command } from 'commander';
import { dataplaneTokenClaims } from '../auth/dataplane-tokens.js';
import { parseDuration, signToken } from '../auth/jwt.js';
import { generateRsaKeyPem, parsePrivateKey, publicKeyPem } from '../auth/signing-keys.js';
import { validateZoneTokenRequest } from '../auth/zone-tokens.js';
import { apiClient, type GlobalOptions } from './context.js';

interface OfflineOptions {
  signingKeyPath?: string;
  kid?: string;
}

interface TokenOptions extends GlobalOptions, OfflineOptions {
  name?: string;
  mesh: string;
  proxyType: string;
  tag: string[];
  workload?: string;
  validFor?: string;
}

interface ZoneTokenOptions extends GlobalOptions, OfflineOptions {
  zone?: string;
  scope: string[];
  validFor?: string;
}

interface UserTokenOptions extends GlobalOptions, OfflineOptions {
  name?: string;
  group: string[];
  validFor?: string;
}

const repeatable = (v: string, all: string[]) => [...all, v];

function offlineFlags(cmd: Command): Command {
  return cmd
    .option('--signing-key-path <path>', 'sign locally with this private key (PEM or base64 PEM) instead of asking the control plane')
    .option('--kid <kid>', 'ID of the signing key, written to the token header (required with --signing-key-path)');
}

/** Checks the offline flags; returns the key to sign with, or undefined to use the control plane. */
function offlineKey(opts: OfflineOptions): { key: ReturnType<typeof parsePrivateKey>; kid: string } | undefined {
  if (!opts.signingKeyPath) {
    if (opts.kid !== undefined) throw new Error('--kid can only be used when --signing-key-path is used');
    return undefined;
  }
  if (!opts.kid) throw new Error('--kid is required when --signing-key-path is used');
  let text: string;
  try {
    text = fs.readFileSync(opts.signingKeyPath, 'utf8');
  } catch (err) {
    throw new Error(`could not read the signing key ${opts.signingKeyPath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  return { key: parsePrivateKey(text), kid: opts.kid };
}

function requireValidFor(validFor: string | undefined): number {
  if (!validFor) throw new Error('required flag(s) "valid-for" not set');
  const seconds = parseDuration(validFor);
  if (seconds <= 0) throw new Error('--valid-for must be greater than zero');
  return seconds;
}

async function viaControlPlane(opts: GlobalOptions, what: string, urlPath: string, body: unknown): Promise<string> {
  try {
    return String(await apiClient(opts).call<string>('POST', urlPath, body)).trim();
  } catch (err) {
    throw new Error(`failed to generate a ${what}: ${(err as Error).message}`, { cause: err });
  }
}

export function generateCommand(): Command {
  const generate = new Command('generate').description('generate tokens and signing keys');
  offlineFlags(
    generate
      .command('dataplane-token')
      .description('generate a token a dataplane presents to the control plane')
      .option('--name <name>', 'name of the dataplane the token is bound to')
      .option('-m, --mesh <mesh>', 'mesh of the dataplane', 'default')
      .option('--proxy-type <type>', 'dataplane|ingress|egress', 'dataplane')
      .option('--tag <key=v1,v2>', 'tag the dataplane must have (repeatable)', repeatable, [] as string[])
      .option('--workload <workload>', 'workload the token is bound to')
      .option('--valid-for <duration>', 'how long the token is valid, e.g. 24h'),
  ).action(async (_opts: unknown, cmd: Command) => {
    const opts = cmd.optsWithGlobals<TokenOptions>();
    if (!opts.validFor) throw new Error('required flag(s) "valid-for" not set');
    const offline = offlineKey(opts);
    const body = {
      name: opts.name ?? '',
      mesh: opts.mesh,
      tags: parseTags(opts.tag),
      type: opts.proxyType,
      workload: opts.workload ?? '',
      validFor: opts.validFor,
    };
    const token = offline
      ? await signToken(dataplaneTokenClaims(body), offline.key, offline.kid, requireValidFor(opts.validFor))
      : await viaControlPlane(opts, 'dataplane token', '/tokens/dataplane', body);
    process.stdout.write(`${token}\n`);
  });

  offlineFlags(
    generate
      .command('zone-token')
      .description('generate a token a zone control plane (scope cp) or zone proxy (ingress, egress) presents')
      .option('--zone <zone>', 'name of the zone the token is bound to')
      .option('--scope <scope>', 'cp | ingress | egress (repeatable; default: all)', repeatable, [] as string[])
      .option('--valid-for <duration>', 'how long the token is valid, e.g. 720h'),
  ).action(async (_opts: unknown, cmd: Command) => {
    const opts = cmd.optsWithGlobals<ZoneTokenOptions>();
    if (!opts.zone) throw new Error('required flag(s) "zone" not set');
    const validFor = requireValidFor(opts.validFor);
    const scope = validateZoneTokenRequest({ zone: opts.zone, scope: opts.scope });
    const offline = offlineKey(opts);
    const token = offline
      ? await signToken({ Zone: opts.zone, Scope: scope }, offline.key, offline.kid, validFor)
      : await viaControlPlane(opts, 'zone token', '/tokens/zone', { zone: opts.zone, scope: opts.scope, validFor: opts.validFor });
    process.stdout.write(`${token}\n`);
  });

  offlineFlags(
    generate
      .command('user-token')
      .description('generate a token a user presents to the API server')
      .option('--name <name>', 'name of the user')
      .option('--group <group>', 'group of the user (repeatable)', repeatable, [] as string[])
      .option('--valid-for <duration>', 'how long the token is valid, e.g. 24h'),
  ).action(async (_opts: unknown, cmd: Command) => {
    const opts = cmd.optsWithGlobals<UserTokenOptions>();
    if (!opts.name) throw new Error('required flag(s) "name" not set');
    const validFor = requireValidFor(opts.validFor);
    const offline = offlineKey(opts);
    const token = offline
      ? await signToken({ Name: opts.name, Groups: opts.group }, offline.key, offline.kid, validFor)
      : await viaControlPlane(opts, 'user token', '/tokens/user', { name: opts.name, groups: opts.group, validFor: opts.validFor });
    process.stdout.write(`${token}\n`);
  });

  generate
    .command('signing-key')
    .description('generate an RSA-2048 private key for signing tokens offline')
    .option('--format <format>', 'pem | pem-base64', 'pem-base64')
    .action((opts: { format: string }) => {
      const pem = generateRsaKeyPem();
      if (opts.format === 'pem') process.stdout.write(pem.endsWith('\n') ? pem : `${pem}\n`);
      else if (opts.format === 'pem-base64') process.stdout.write(`${Buffer.from(pem).toString('base64')}\n`);
      else throw new Error(`invalid --format "${opts.format}": expected pem or pem-base64`);
    });

  generate
    .command('public-key')
    .description('print the public key (PEM) of a signing key, to configure on control planes')
    .option('--signing-key-path <path>', 'private key file (PEM or base64 PEM)')
    .action((opts: { signingKeyPath?: string }) => {
      if (!opts.signingKeyPath) throw new Error('required flag(s) "signing-key-path" not set');
      const pem = publicKeyPem(offlineKey({ signingKeyPath: opts.signingKeyPath, kid: 'unused' })!.key);
      process.stdout.write(pem.endsWith('\n') ? pem : `${pem}\n`);
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
