// `-o table|yaml|json`: the structured formats print the REST API's own shapes.
import YAML from 'yaml';

export type OutputFormat = 'table' | 'yaml' | 'json';

export function parseOutputFormat(value: string): OutputFormat {
  if (value === 'table' || value === 'yaml' || value === 'json') return value;
  throw new Error(`output format "${value}" is not supported. Allowed values: table, yaml, json`);
}

export function formatStructured(value: unknown, format: 'yaml' | 'json'): string {
  return format === 'json' ? `${JSON.stringify(value, null, 2)}\n` : YAML.stringify(value);
}

/** kumactl's footer under a table when the list has more pages. */
export function paginationFooter(next: string | null | undefined): string {
  if (!next) return '';
  const offset = new URL(next, 'http://placeholder').searchParams.get('offset') ?? '';
  return `\nRerun command with --offset=${offset} argument to retrieve more resources\n`;
}
