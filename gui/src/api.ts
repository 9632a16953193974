// The GUI's only data source: the control plane's public REST API, same origin, relative paths.
import { useCallback, useEffect, useState } from 'react';

/** A failed API call, with Kuma's error body (title, detail, invalid_parameters) when there is one. */
export class ApiError extends Error {
  constructor(
    readonly path: string,
    readonly status: number,
    readonly title: string,
    readonly detail: string,
  ) {
    super(`${title}${detail ? `: ${detail}` : ''}`);
  }

  /** The control plane has no such endpoint: an older or different version. */
  get unsupported(): boolean {
    return this.status === 405 || (this.status === 404 && /no such endpoint|unknown resource collection|has no overview/i.test(this.detail));
  }
}

export async function get<T>(path: string): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, { headers: { accept: 'application/json' } });
  } catch (err) {
    throw new ApiError(path, 0, 'The control plane cannot be reached', (err as Error).message);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    const b = (body ?? {}) as { title?: string; detail?: string; details?: string };
    throw new ApiError(path, res.status, b.title ?? `HTTP ${res.status}`, b.detail ?? b.details ?? text.slice(0, 200));
  }
  if (body === undefined) throw new ApiError(path, res.status, 'Unexpected answer', 'the response is not JSON');
  return body as T;
}

/** Every page of a list endpoint. */
export async function getAll<T>(path: string): Promise<T[]> {
  const items: T[] = [];
  let offset = 0;
  for (;;) {
    const sep = path.includes('?') ? '&' : '?';
    const page = await get<{ total: number; items: T[]; next: string | null }>(`${path}${sep}size=1000&offset=${offset}`);
    items.push(...page.items);
    if (!page.next || page.items.length === 0) return items;
    offset += page.items.length;
  }
}

export type Labels = Record<string, string>;

export interface Index {
  product: string;
  version: string;
  mode: 'standalone' | 'global' | 'zone';
  zone?: string;
  federated?: boolean;
  basedOnKuma?: string;
}

export interface Mesh {
  name: string;
  labels?: Labels;
  mtls?: { enabledBackend?: string; backends?: { name: string; type: string; mode?: string }[] };
  creationTime?: string;
}

export interface Inbound {
  port: number;
  servicePort?: number;
  address?: string;
  serviceAddress?: string;
  tags: Labels;
  state?: string;
  health?: { ready?: boolean };
}
export interface Outbound {
  port: number;
  address?: string;
  tags?: Labels;
  backendRef?: { kind: string; name: string; port?: number };
}
export interface DataplaneSpec {
  networking: {
    address: string;
    advertisedAddress?: string;
    inbound?: Inbound[];
    outbound?: Outbound[];
    listeners?: { type: string; port?: number; name?: string }[];
    transparentProxying?: unknown;
  };
}
export interface Subscription {
  id?: string;
  controlPlaneInstanceId?: string;
  connectTime?: string;
  disconnectTime?: string;
  status?: { lastUpdateTime?: string; total?: { responsesSent?: number; responsesAcknowledged?: number; responsesRejected?: number }; lastNack?: { typeUrl: string; reason: string; time: string } };
  version?: { kumaDp?: { version?: string } };
  ackedVersions?: Record<string, string>;
}
export interface DataplaneOverview {
  mesh: string;
  name: string;
  labels?: Labels;
  creationTime?: string;
  modificationTime?: string;
  dataplane: DataplaneSpec & { labels?: Labels };
  dataplaneInsight?: { subscriptions?: Subscription[]; mTLS?: Record<string, unknown> };
}

export interface PolicyType {
  name: string;
  path: string;
  pluralDisplayName: string;
  singularDisplayName: string;
  readOnly?: boolean;
}

export interface PolicyResource {
  type: string;
  mesh: string;
  name: string;
  labels?: Labels;
  creationTime?: string;
  modificationTime?: string;
  spec?: Record<string, unknown>;
}

export const PROXY_TYPE_LABEL = 'kuma.io/proxy-type';
export const ZONE_PROXY_ROLE_LABEL = 'kuma.io/zone-proxy-role';
export const ZONE_LABEL = 'kuma.io/zone';

/** Synced resources get a hashed name; `kuma.io/display-name` keeps the name they were created with. */
export function displayName(r: { name: string; labels?: Labels }): string {
  return r.labels?.['kuma.io/display-name'] ?? r.name;
}

export function isZoneProxy(labels: Labels | undefined): boolean {
  return labels?.[PROXY_TYPE_LABEL] === 'zoneproxy';
}

/** Online while the newest xDS subscription has no disconnect time. */
export function connectionStatus(subs: Subscription[] | undefined): 'Online' | 'Offline' {
  const last = subs?.at(-1);
  return last?.connectTime && !last.disconnectTime ? 'Online' : 'Offline';
}

/** Loads data for a page; `reload` refetches; `refreshMs` refetches periodically (live status). */
export function useApi<T>(load: () => Promise<T>, deps: unknown[], refreshMs?: number): { data?: T; error?: unknown; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!refreshMs) return;
    const timer = setInterval(() => setTick((t) => t + 1), refreshMs);
    return () => clearInterval(timer);
  }, [refreshMs]);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, loading: false }),
      (error: unknown) => live && setState({ error, loading: false }),
    );
    return () => {
      live = false;
    };
    // `load` is a new closure on every render: `deps` says when the data changes.
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

/** Runs a call that may not exist on this control plane: undefined when the endpoint is missing. */
export async function optional<T>(call: Promise<T>): Promise<{ value?: T; unsupported?: ApiError }> {
  try {
    return { value: await call };
  } catch (err) {
    if (err instanceof ApiError && err.unsupported) return { unsupported: err };
    throw err;
  }
}
