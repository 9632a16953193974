// `skein apply -v key=value`: mustache-style `{{ key }}` placeholders, as kumactl renders them.
// Dotted names address nested values (`-v a.b=x` fills `{{ a.b }}`); a placeholder with no value
// renders empty, like mustache does.

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g;

/** Parses `key=value` pairs (values may contain `=`). */
export function parseVars(pairs: string[]): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`invalid variable "${pair}": expected key=value`);
    vars[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return vars;
}

export function renderTemplate(text: string, vars: Record<string, string>): string {
  return text.replace(PLACEHOLDER, (_match, name: string) => vars[name] ?? '');
}
