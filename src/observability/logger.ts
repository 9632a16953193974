// Structured JSON logs (pino). Components get child loggers with a `component` field.
import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(level = 'info', destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { pid: process.pid } }, destination ?? pino.destination({ fd: 2, sync: true }));
}
