// Health check event log (HealthCheck.event_logger with envoy.health_check.event_sinks.file): one
// JSON line per event, as Envoy writes HealthCheckEvent: a host ejected by a failing check
// (`eject_unhealthy_event`), a host becoming healthy (`add_healthy_event`), and failed checks
// (`health_check_failure_event`: the first check's only, or every one with
// always_log_health_check_failures).
import fs from 'node:fs';
import { reject } from '../config-error.js';
import { checkFields, list, str, unpackTyped } from '../proto-values.js';

export const HEALTH_CHECK_FILE_SINK = 'type.googleapis.com/envoy.extensions.health_check.event_sinks.file.v3.HealthCheckEventFileSink';

/** Writes events to the configured files; undefined when no event_logger is set. */
export type EventLog = (event: Record<string, unknown>) => void;

const streams = new Map<string, fs.WriteStream>();

function stream(path: string): fs.WriteStream {
  let s = streams.get(path);
  if (!s) {
    s = fs.createWriteStream(path, { flags: 'a' });
    // A log that cannot be written must not take the proxy down.
    s.on('error', (err) => console.error(`health check event log ${path}: ${err.message}`));
    streams.set(path, s);
  }
  return s;
}

export function compileEventLoggers(value: unknown, path: string): EventLog | undefined {
  const paths = list(value, path).map((sink, i) => {
    const spath = `${path}[${i}]`;
    checkFields(sink, spath, ['name', 'typed_config']);
    const { typeUrl, config } = unpackTyped(sink.typed_config, `${spath}.typed_config`);
    if (typeUrl !== HEALTH_CHECK_FILE_SINK) reject(`${spath}.typed_config`, `${typeUrl} is not supported (use ${HEALTH_CHECK_FILE_SINK})`);
    checkFields(config, `${spath}.typed_config`, ['event_log_path']);
    const file = str(config.event_log_path);
    if (!file) reject(`${spath}.typed_config.event_log_path`, 'is required');
    return file;
  });
  if (paths.length === 0) return undefined;
  return (event) => {
    const line = `${JSON.stringify({ ...event, timestamp: new Date().toISOString() })}\n`;
    for (const p of paths) stream(p).write(line);
  };
}
