// MeshAccessLog's Tcp backend, as kuma-dp does it: Envoy has no plain-TCP logger, so the control
// plane gives the proxy a file logger whose path is a named pipe (FIFO) in the work dir, with JSON
// lines `{"address": "host:port", "message": <line>}`. The agent reads the pipe and sends each
// message to its address over TCP (one connection per address, opened again after an error).
// The path travels to the control plane as node metadata `accessLogSocketPath` (Kuma's key).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import type { Logger } from 'pino';

export interface AccessLogStreamer {
  path: string;
  close(): void;
}

/** Lines held for one address while it cannot be written to; older ones are dropped. */
const MAX_PENDING_BYTES = 1 << 20;

/** Creates the pipe and forwards what arrives on it; undefined when no FIFO can be made here. */
export function startAccessLogStreamer(path: string, logger: Logger): AccessLogStreamer | undefined {
  fs.rmSync(path, { force: true });
  // Node has no mkfifo(); the coreutils command is on every Linux and macOS.
  const made = spawnSync('mkfifo', ['-m', '600', path], { stdio: 'ignore' });
  if (made.status !== 0) {
    logger.warn({ path }, 'could not create the access log pipe (mkfifo): MeshAccessLog Tcp backends are off');
    return undefined;
  }
  // Read-write and non-blocking: opening does not wait for a writer, and the pipe never reports
  // end-of-file when a writer goes away (the engine reopens it after a config change).
  const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
  const pipe = new net.Socket({ fd, readable: true, writable: false });
  const sinks = new Map<string, TcpSink>();
  let buffered = '';
  pipe.setEncoding('utf8');
  pipe.on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.trim()) forward(line);
    }
  });
  pipe.on('error', (err) => logger.warn({ err: err.message, path }, 'access log pipe failed'));

  function forward(line: string): void {
    let entry: { address?: unknown; message?: unknown };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      logger.warn({ path }, 'access log pipe: a line that is not JSON was dropped');
      return;
    }
    if (typeof entry.address !== 'string' || entry.message === undefined) return;
    const text = typeof entry.message === 'string' ? entry.message : JSON.stringify(entry.message);
    let sink = sinks.get(entry.address);
    if (!sink) sinks.set(entry.address, (sink = new TcpSink(entry.address, logger)));
    sink.send(text.endsWith('\n') ? text : `${text}\n`);
  }

  return {
    path,
    close() {
      pipe.destroy();
      for (const sink of sinks.values()) sink.close();
      fs.rmSync(path, { force: true });
    },
  };
}

/** One TCP collector: a connection opened on first use and again after it failed. */
class TcpSink {
  private socket: net.Socket | undefined;
  private readonly host: string;
  private readonly port: number;

  constructor(
    private readonly address: string,
    private readonly logger: Logger,
  ) {
    const m = /^(?:[a-z]+:\/\/)?(?:\[([^\]]+)\]|([^:/]+)):(\d+)/i.exec(address);
    this.host = m?.[1] ?? m?.[2] ?? address;
    this.port = Number(m?.[3] ?? 0);
  }

  send(line: string): void {
    if (!this.socket) {
      const socket = net.connect({ host: this.host, port: this.port });
      socket.setNoDelay(true);
      socket.on('error', (err) => {
        this.logger.warn({ err: err.message, address: this.address }, 'access log TCP backend unreachable; lines dropped');
        socket.destroy();
      });
      socket.on('close', () => {
        if (this.socket === socket) this.socket = undefined;
      });
      this.socket = socket;
    }
    // A collector that does not keep up loses lines rather than holding the proxy's memory.
    if (this.socket.writableLength > MAX_PENDING_BYTES) return;
    this.socket.write(line);
  }

  close(): void {
    this.socket?.destroy();
  }
}
