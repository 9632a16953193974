// Plain-text output helpers shared by the commands: kumactl-style tables and ages.

/** Renders rows like Go's tabwriter with padding 3: every cell but the last is padded to its column width + 3. */
export function renderTable(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths: number[] = [];
  for (const row of all) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, displayWidth(cell));
    });
  }
  return all
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat(widths[i]! - displayWidth(cell) + 3))).join(''))
    .map((line) => `${line}\n`)
    .join('');
}

function displayWidth(s: string): number {
  return [...s].length;
}

/** Time since `timestamp` as kumactl prints it: `Ns`, `Nm`, `Nh`, `Nd`, `Ny`; `never` for no time or a future one. */
export function formatAge(timestamp: string | undefined, now: number = Date.now()): string {
  if (!timestamp) return 'never';
  const then = Date.parse(timestamp);
  if (Number.isNaN(then)) return 'never';
  const seconds = Math.trunc((now - then) / 1000);
  if (seconds < -1) return 'never';
  if (seconds < 0) return '0s';
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 24) return `${hours}h`;
  const days = Math.trunc(hours / 24);
  if (days < 365) return `${days}d`;
  return `${Math.trunc(days / 365)}y`;
}

/** Parses a Go-style duration (`30s`, `1m30s`, `500ms`, `2h`) into milliseconds. */
export function parseDuration(text: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * units[m[2]!]!;
    consumed = re.lastIndex;
  }
  if (text === '' || consumed !== text.length) throw new Error(`invalid duration "${text}" (use e.g. 30s, 1m, 1h30m)`);
  return total;
}
