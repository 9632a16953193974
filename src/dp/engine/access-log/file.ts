// envoy.access_loggers.file: one line per request (connection) appended to a file, or to the
// proxy's stdout/stderr for /dev/stdout and /dev/stderr. Lines are written asynchronously through
// one stream per path, shared by every logger writing there.
import fs from 'node:fs';
import { reject } from '../config-error.js';
import { bool, checkFields, dataSource, obj, str, structToJson, type Obj } from '../proto-values.js';
import type { RequestLog } from '../registry.js';
import { accessLoggers } from './access-log.js';
import { compileFormat, compileJsonFormat, DEFAULT_FORMAT } from './format.js';

const FILE_ACCESS_LOG = 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog';

const streams = new Map<string, NodeJS.WritableStream>();

function output(path: string): NodeJS.WritableStream {
  if (path === '/dev/stdout') return process.stdout;
  if (path === '/dev/stderr') return process.stderr;
  let stream = streams.get(path);
  if (!stream) {
    const file = fs.createWriteStream(path, { flags: 'a' });
    // A file that cannot be written must not take the proxy down.
    file.on('error', (err) => console.error(`access log ${path}: ${err.message}`));
    streams.set(path, (stream = file));
  }
  return stream;
}

accessLoggers.register(FILE_ACCESS_LOG, (config, path) => {
  checkFields(config, path, ['path', 'format', 'json_format', 'log_format', 'access_log_format']);
  const file = str(config.path);
  if (!file) reject(`${path}.path`, 'is required');
  let render: (log: RequestLog) => string;
  if (config.log_format) render = substitutionFormat(obj(config.log_format, `${path}.log_format`), `${path}.log_format`);
  else if (config.json_format) render = compileJsonFormat(structToJson(config.json_format), `${path}.json_format`);
  else if (config.format !== undefined) render = compileFormat(str(config.format), `${path}.format`).render;
  else render = compileFormat(DEFAULT_FORMAT, `${path}(default format)`).render;
  const out = output(file);
  return { log: (record) => void out.write(render(record)) };
});

/** core.v3.SubstitutionFormatString. Text formats are written as they are (a newline must be in the format, as in Envoy); JSON gets one. */
export function substitutionFormat(format: Obj, path: string): (log: RequestLog) => string {
  checkFields(format, path, ['text_format', 'json_format', 'text_format_source', 'format', 'omit_empty_values']);
  const omitEmpty = bool(format.omit_empty_values, false);
  if (format.text_format !== undefined) return compileFormat(str(format.text_format), `${path}.text_format`, omitEmpty).render;
  if (format.text_format_source !== undefined) {
    return compileFormat(dataSource(format.text_format_source, `${path}.text_format_source`).toString(), `${path}.text_format_source`, omitEmpty).render;
  }
  if (format.json_format !== undefined) return compileJsonFormat(structToJson(format.json_format), `${path}.json_format`, omitEmpty);
  return reject(path, 'one of text_format, text_format_source, json_format is required');
}
