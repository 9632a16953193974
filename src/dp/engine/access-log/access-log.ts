// access_log lists of http_connection_manager and tcp_proxy: each entry's typed_config names a
// logger (file, OpenTelemetry) registered here by type URL. Loggers get the finished request's
// (connection's) RequestLog.
import { reject } from '../config-error.js';
import { checkFields, list } from '../proto-values.js';
import { Registry, type CompileContext, type RequestLog } from '../registry.js';
import { compileLogFilter, type LogFilter } from './filter.js';

export interface AccessLogger {
  log(record: RequestLog): void;
}

export const accessLoggers = new Registry<AccessLogger>('access logger');

/** A logger with its filter, if any. */
export interface AccessLog {
  logger: AccessLogger;
  filter: LogFilter | undefined;
}

export function compileAccessLogs(value: unknown, path: string, ctx: CompileContext): AccessLog[] {
  return list(value, path).map((entry, i) => {
    const epath = `${path}[${i}]`;
    checkFields(entry, epath, ['name', 'typed_config', 'config_type', 'filter']);
    if (!entry.typed_config) reject(`${epath}.typed_config`, 'is required');
    return {
      logger: accessLoggers.create(entry.typed_config, `${epath}.typed_config`, ctx).instance,
      filter: entry.filter ? compileLogFilter(entry.filter, `${epath}.filter`) : undefined,
    };
  });
}

/** A fresh record; callers fill in what they learn. */
export function newRequestLog(): RequestLog {
  return {
    startMs: Date.now(),
    startNs: process.hrtime.bigint(),
    durationMs: 0,
    status: 0,
    flags: [],
    bytesReceived: 0,
    bytesSent: 0,
    upstreamCluster: '',
    upstreamHost: '',
    downstreamRemoteAddress: '',
    downstreamLocalAddress: '',
    protocol: '',
    routeName: '',
    serverName: '',
    request: undefined,
    upstreamRequestHeaders: undefined,
    responseHeaders: undefined,
  };
}

/** Stamps the duration and hands the record to every logger whose filter lets it through. */
export function emitAccessLogs(logs: AccessLog[], record: RequestLog, sampled = false): void {
  record.durationMs = Number((process.hrtime.bigint() - record.startNs) / 1_000_000n);
  for (const { logger, filter } of logs) if (!filter || filter(record, sampled)) logger.log(record);
}

/** `address:port` (IPv6 in brackets), as Envoy prints addresses. */
export function formatAddress(address: string | undefined, port: number | undefined): string {
  if (!address) return '';
  const host = address.includes(':') ? `[${address}]` : address;
  return port === undefined ? host : `${host}:${port}`;
}
