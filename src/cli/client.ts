// HTTP client for the control plane's REST API. This is the CLI's only way to talk to the control plane.
import type { ResourceDescriptor } from '../api/descriptor.js';

/** Kuma's error JSON (`/std-errors`). */
export interface ApiErrorBody {
  title?: string;
  detail?: string;
  invalid_parameters?: { field: string; reason: string }[];
}

/** A non-2xx answer from the control plane, worded like kumactl: `failed server side: <title> (<detail>);<field>=<reason> ;...`. */
export class ServerError extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody | undefined,
    text: string,
  ) {
    super(`failed server side: ${describeServerError(status, body, text)}`);
    this.name = 'ServerError';
  }
}

function describeServerError(status: number, body: ApiErrorBody | undefined, text: string): string {
  if (!body || (body.title === undefined && body.detail === undefined)) return `(${status}): ${text.trim()}`;
  let msg = `${body.title ?? ''} (${body.detail ?? ''})`;
  for (const p of body.invalid_parameters ?? []) msg += `;${p.field}=${p.reason} `;
  return msg;
}

export interface ApiResponse {
  status: number;
  text: string;
  json: unknown;
}

export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly timeoutMs: number,
    private readonly headers: Record<string, string> = {},
  ) {}

  /** Sends a request; resolves for every HTTP status, rejects only when the server cannot be reached. */
  async request(method: string, path: string, body?: unknown): Promise<ApiResponse> {
    const url = this.baseUrl.replace(/\/+$/, '') + path;
    const headers: Record<string, string> = { accept: 'application/json', ...this.headers };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new Error(`could not reach the control plane at ${this.baseUrl}: ${networkReason(err, this.timeoutMs)}`, { cause: err });
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, text, json };
  }

  /** Like request, but a non-2xx status becomes a ServerError. */
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.request(method, path, body);
    if (res.status < 200 || res.status >= 300) throw new ServerError(res.status, res.json as ApiErrorBody | undefined, res.text);
    return (res.json ?? res.text) as T;
  }
}

function networkReason(err: unknown, timeoutMs: number): string {
  if (err instanceof DOMException && err.name === 'TimeoutError') return `no answer within ${timeoutMs / 1000}s (see --api-timeout)`;
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}

/** REST path of a kind's collection, or of one resource when `name` is given. */
export function resourcePath(d: ResourceDescriptor, mesh: string, name?: string): string {
  const collection = d.scope === 'Mesh' ? `/meshes/${encodeURIComponent(mesh)}/${d.path}` : `/${d.path}`;
  return name === undefined ? collection : `${collection}/${encodeURIComponent(name)}`;
}

/** A list page as the REST API returns it. */
export interface ListPage<T = Record<string, unknown>> {
  total: number;
  items: T[];
  next: string | null;
}
