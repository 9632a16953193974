// Envoy's filter chain selection: criteria are applied in order (destination port, server name,
// transport protocol, application protocol); at each step the most specific matching chains win,
// chains that leave the criterion unset are the fallback.
import { reject } from '../config-error.js';
import { checkFields, num, obj, type Obj } from '../proto-values.js';
import type { ConnectionInfo } from '../registry.js';

export interface ChainMatch {
  destinationPort: number | undefined;
  serverNames: string[];
  transportProtocol: string;
  applicationProtocols: string[];
}

export function compileChainMatch(value: unknown, path: string): ChainMatch {
  const m: Obj = obj(value, path);
  checkFields(m, path, ['destination_port', 'server_names', 'transport_protocol', 'application_protocols']);
  const port = m.destination_port === undefined ? undefined : num(m.destination_port, 0);
  return {
    destinationPort: port,
    serverNames: ((m.server_names as string[] | undefined) ?? []).map((s) => s.toLowerCase()),
    transportProtocol: typeof m.transport_protocol === 'string' ? m.transport_protocol : '',
    applicationProtocols: (m.application_protocols as string[] | undefined) ?? [],
  };
}

/** Envoy refuses listeners whose chains cannot be told apart. */
export function checkDistinctMatches(matches: ChainMatch[], path: string): void {
  const seen = new Set<string>();
  for (const m of matches) {
    const key = JSON.stringify([m.destinationPort, [...m.serverNames].sort(), m.transportProtocol, [...m.applicationProtocols].sort()]);
    if (seen.has(key)) reject(path, `multiple filter chains with the same matching rules are defined: ${key}`);
    seen.add(key);
  }
}

export function selectChain<T extends { match: ChainMatch }>(chains: T[], info: ConnectionInfo): T | undefined {
  let candidates = narrow(chains, (m) => (m.destinationPort === undefined ? 0 : m.destinationPort === info.localPort ? 1 : -1));
  candidates = narrow(candidates, (m) => serverNameScore(m.serverNames, info.serverName));
  candidates = narrow(candidates, (m) => (!m.transportProtocol ? 0 : m.transportProtocol === info.transportProtocol ? 1 : -1));
  candidates = narrow(candidates, (m) =>
    m.applicationProtocols.length === 0 ? 0 : m.applicationProtocols.some((p) => info.applicationProtocols.includes(p)) ? 1 : -1,
  );
  return candidates[0];
}

/** Keeps the chains with the best score; negative means "does not match". */
function narrow<T extends { match: ChainMatch }>(chains: T[], score: (m: ChainMatch) => number): T[] {
  let best = -1;
  let kept: T[] = [];
  for (const chain of chains) {
    const s = score(chain.match);
    if (s < 0 || s < best) continue;
    if (s > best) {
      best = s;
      kept = [];
    }
    kept.push(chain);
  }
  return kept;
}

/** Exact name beats the longest `*.suffix` wildcard, which beats no server_names at all. */
function serverNameScore(names: string[], sni: string): number {
  if (names.length === 0) return 0;
  let score = -1;
  for (const name of names) {
    if (name === sni) return Number.MAX_SAFE_INTEGER;
    if (name.startsWith('*.') && sni.endsWith(name.slice(1)) && sni.length > name.length - 1) score = Math.max(score, name.length);
  }
  return score;
}
