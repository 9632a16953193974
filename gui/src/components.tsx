// Small shared pieces: loading/error/empty states, status badges, tables, key-value lists, filters.
import type { ReactNode } from 'react';
import { useSearchParams } from 'react-router';
import { ApiError, displayName, type Labels } from './api';

export function Loading({ what }: { what: string }) {
  return <p className="muted" role="status">Loading {what}…</p>;
}

/** An API error explained: what failed, why, and what to do about it. */
export function ErrorBox({ error, what, onRetry }: { error: unknown; what: string; onRetry?: () => void }) {
  const e = error instanceof ApiError ? error : undefined;
  let hint = 'Check the control plane logs, then retry.';
  if (e?.status === 0) hint = 'The control plane did not answer. Is it running, and is this page served by it?';
  else if (e?.status === 401 || e?.status === 403) hint = 'The API refused access. Authenticate against the control plane, then reload.';
  else if (e?.unsupported) hint = 'This control plane version does not offer this endpoint.';
  else if (e?.status === 404) hint = 'It does not exist (any more). It may have been deleted.';
  return (
    <div className="error" role="alert">
      <strong>Could not load {what}.</strong>
      <div>{e ? `${e.title}${e.detail ? ` — ${e.detail}` : ''} (${e.status || 'network error'}, GET ${e.path})` : String(error)}</div>
      <div className="muted">{hint}</div>
      {onRetry && (
        <button type="button" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function Unsupported({ feature, error }: { feature: string; error?: ApiError }) {
  return (
    <div className="notice" data-testid="unsupported">
      {feature}: not available in this control plane version{error ? ` (GET ${error.path} answered ${error.status})` : ''}.
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}

export function Status({ status }: { status: string }) {
  return <span className={`badge badge-${status.toLowerCase().replace(/\s+/g, '-')}`}>{status}</span>;
}

export function Table({ head, rows, empty }: { head: string[]; rows: ReactNode[][]; empty: ReactNode }) {
  if (rows.length === 0) return <Empty>{empty}</Empty>;
  return (
    <table>
      <thead>
        <tr>
          {head.map((h) => (
            <th key={h}>{h}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((r, i) => (
          <tr key={i}>
            {r.map((c, j) => (
              <td key={j}>{c}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function Tags({ tags }: { tags?: Record<string, string> }) {
  const entries = Object.entries(tags ?? {});
  if (entries.length === 0) return <span className="muted">none</span>;
  return (
    <span className="tags">
      {entries.map(([k, v]) => (
        <code key={k} className="tag">
          {k}={v}
        </code>
      ))}
    </span>
  );
}

export function KeyValues({ items }: { items: [string, ReactNode][] }) {
  return (
    <dl className="kv">
      {items.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

export function Card({ title, value, detail }: { title: string; value: ReactNode; detail?: ReactNode }) {
  return (
    <div className="card">
      <div className="card-title">{title}</div>
      <div className="card-value">{value}</div>
      {detail && <div className="card-detail">{detail}</div>}
    </div>
  );
}

export function time(iso?: string): string {
  return iso ? new Date(iso).toLocaleString() : '—';
}

/** A resource's display name, with its stored (hashed) name underneath when they differ. */
export function Name({ r }: { r: { name: string; labels?: Labels } }) {
  const shown = displayName(r);
  return (
    <>
      {shown}
      {shown !== r.name && <div className="muted small">{r.name}</div>}
    </>
  );
}

/** List filters kept in the page's query string (so a filtered view can be linked); '' means unset. */
export function useQueryFilters(): { get: (k: string) => string; set: (k: string, v: string) => void } {
  const [params, setParams] = useSearchParams();
  const set = (k: string, v: string) => {
    const next = new URLSearchParams(params);
    if (v) next.set(k, v);
    else next.delete(k);
    setParams(next, { replace: true });
  };
  return { get: (k) => params.get(k) ?? '', set };
}

/** A labelled drop-down filter whose first choice, "all", is the empty value. */
export function FilterSelect({ label, value, onChange, children }: { label: string; value: string; onChange: (v: string) => void; children: ReactNode }) {
  return (
    <label>
      {label}{' '}
      <select aria-label={label.toLowerCase()} value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">all</option>
        {children}
      </select>
    </label>
  );
}

/** The mesh filter of list pages: one choice per mesh. */
export function MeshFilter({ meshes, value, onChange }: { meshes: { name: string }[]; value: string; onChange: (v: string) => void }) {
  return (
    <FilterSelect label="Mesh" value={value} onChange={onChange}>
      {meshes.map((m) => (
        <option key={m.name}>{m.name}</option>
      ))}
    </FilterSelect>
  );
}
