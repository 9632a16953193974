// `skein apply -f <file|dir|URL|->`: create or update resources from YAML/JSON documents.
import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import YAML from 'yaml';
import { parseDocuments } from '../api/codec.js';
import type { ResourceDescriptor } from '../api/descriptor.js';
import { resourcePath, type ApiClient } from './client.js';
import { apiClient, type GlobalOptions } from './context.js';
import { kindByTypeName } from './kinds.js';
import { parseVars, renderTemplate } from './templating.js';

interface ApplyOptions extends GlobalOptions {
  file: string[];
  var: string[];
  dryRun?: boolean;
}

/** One input file; `label` is set when it came from a directory, so results can say where they came from. */
interface Source {
  label?: string;
  text: string;
}

/** A document that passed the client-side checks. */
interface ParsedDocument {
  source: Source;
  kind: ResourceDescriptor;
  mesh: string;
  name: string;
  body: Record<string, unknown>;
}

export function applyCommand(): Command {
  return new Command('apply')
    .description('create or modify resources')
    .option(
      '-f, --file <path>',
      'file, directory (.yaml/.yml/.json files), http(s) URL, or - for stdin; repeatable: each one is applied on its own and reported per file',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option('-v, --var <key=value>', 'variable to replace in the input ({{ key }})', (v: string, all: string[]) => [...all, v], [] as string[])
    .option('--dry-run', 'resolve variables and print the result without applying it')
    .action(async (_opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<ApplyOptions>();
      if (opts.file.length === 0) throw new Error('required flag(s) "file" not set');
      const vars = parseVars(opts.var);
      if (opts.file.length > 1) {
        await applyEach(opts, vars);
        return;
      }
      const sources = (await readSources(opts.file[0]!)).map((s) => ({ ...s, text: renderTemplate(s.text, vars) }));
      const documents = parseSources(sources);
      if (opts.dryRun) {
        process.stdout.write(documents.map((d) => YAML.stringify(d.body)).join('---\n'));
        return;
      }
      const client = apiClient(opts);
      for (const doc of documents) await upsert(client, doc);
    });
}

/**
 * `-f a -f b …`: each input on its own. One that cannot be read or has an invalid document is
 * reported and skipped; one whose resource the server rejects stops at that resource. The others
 * are applied anyway; the exit status is non-zero when any input failed.
 */
async function applyEach(opts: ApplyOptions, vars: Record<string, string>): Promise<void> {
  const client = opts.dryRun ? undefined : apiClient(opts);
  const failed: string[] = [];
  let applied = 0;
  for (const file of opts.file) {
    const label = file === '-' ? 'stdin' : file;
    try {
      const sources = (await readSources(file)).map((s) => ({ label: s.label ? path.join(label, s.label) : label, text: renderTemplate(s.text, vars) }));
      const documents = parseSources(sources);
      if (!client) {
        process.stdout.write(`# ${label}\n${documents.map((d) => YAML.stringify(d.body)).join('---\n')}`);
        continue;
      }
      for (const doc of documents) await upsert(client, doc);
      applied++;
    } catch (err) {
      failed.push(label);
      const message = (err as Error).message;
      process.stderr.write(`${message.startsWith(`${label}`) ? '' : `${label}: `}${message}\n`);
    }
  }
  if (failed.length > 0) {
    throw new Error(`${failed.length} of ${opts.file.length} files failed (${failed.join(', ')}); ${applied} applied`);
  }
  if (client) process.stdout.write(`${applied} files applied\n`);
}

async function readSources(file: string): Promise<Source[]> {
  if (file === '-') return [{ text: await readStdin() }];
  if (/^https?:\/\//.test(file)) {
    const res = await fetch(file);
    if (!res.ok) throw new Error(`could not read ${file}: HTTP ${res.status}`);
    return [{ text: await res.text() }];
  }
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    throw new Error(`error while reading provided file: ${(err as Error).message}`, { cause: err });
  }
  if (!stat.isDirectory()) return [{ text: fs.readFileSync(file, 'utf8') }];
  return fs
    .readdirSync(file)
    .filter((f) => /\.(ya?ml|json)$/.test(f))
    .sort()
    .map((f) => ({ label: f, text: fs.readFileSync(path.join(file, f), 'utf8') }));
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Parses every document of every source; reports all bad documents before anything is applied. */
function parseSources(sources: Source[]): ParsedDocument[] {
  const documents: ParsedDocument[] = [];
  const problems: string[] = [];
  for (const source of sources) {
    for (const doc of parseDocuments(source.text)) {
      const result = doc.error ?? readMeta(doc.value);
      if (typeof result !== 'string') documents.push({ ...result, source });
      else problems.push(`${prefix(source)}${doc.error ?? `resource[${doc.index}]: ${result}`}`);
    }
  }
  if (problems.length > 0) {
    process.stderr.write(problems.map((p) => `${p}\n`).join(''));
    throw new Error('failed to validate some resources');
  }
  if (documents.length === 0) throw new Error('no resource(s) passed to apply');
  return documents;
}

/** A document's kind and key, or why they cannot be read. */
function readMeta(value: unknown): Omit<ParsedDocument, 'source'> | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'failed to parse resource: invalid meta type: "document is not a mapping"';
  const body = value as Record<string, unknown>;
  const type = typeof body['type'] === 'string' ? body['type'] : '';
  const kind = kindByTypeName(type);
  if (!kind) return `failed to parse resource: invalid resource type "${type}"`;
  const name = typeof body['name'] === 'string' ? body['name'] : '';
  if (!name) return 'failed to read meta: name: cannot be empty';
  if (kind.scope === 'Global') return { kind, mesh: '', name, body };
  let mesh = typeof body['mesh'] === 'string' ? body['mesh'] : '';
  // Plugin kinds default to mesh `default` (the API does the same); legacy kinds must name it.
  if (!mesh && !kind.flat) mesh = 'default';
  if (!mesh) return 'failed to read meta: mesh: cannot be empty';
  return { kind, mesh, name, body: { ...body, mesh } };
}

async function upsert(client: ApiClient, doc: ParsedDocument): Promise<void> {
  const path = resourcePath(doc.kind, doc.mesh, doc.name);
  const what = `resource ${describeKey(doc)}`;
  const existing = await client.request('GET', path);
  try {
    const res = await client.call<{ warnings?: string[] }>('PUT', path, doc.body);
    for (const w of res?.warnings ?? []) process.stderr.write(`Warning: ${w}\n`);
  } catch (err) {
    throw new Error(`${prefix(doc.source)}${what}: ${(err as Error).message}`, { cause: err });
  }
  process.stdout.write(`${prefix(doc.source)}${what} ${existing.status === 200 ? 'Updated' : 'Created'}\n`);
}

function describeKey(doc: ParsedDocument): string {
  const mesh = doc.kind.scope === 'Mesh' ? ` mesh="${doc.mesh}"` : '';
  return `type="${doc.kind.name}"${mesh} name="${doc.name}"`;
}

function prefix(source: Source): string {
  return source.label ? `${source.label}: ` : '';
}
