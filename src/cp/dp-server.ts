// The DP server port (5678) carries both the HTTP `/bootstrap` endpoint and gRPC xDS, as Kuma's does,
// and serves them over TLS. @grpc/grpc-js cannot share a socket with another HTTP server, so the port
// is a small demultiplexer: a connection opening with a TLS ClientHello is decrypted here, then the
// (decrypted) stream opening with the HTTP/2 preface goes to the gRPC server (on an internal loopback
// port), everything else to the bootstrap HTTP server. Plaintext is refused unless allowed.
import net from 'node:net';
import http from 'node:http';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../observability/logger.js';

const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
/** First byte of a TLS handshake record (the ClientHello). */
const TLS_HANDSHAKE = 0x16;
/** A connection must have sent its first bytes (and finished the TLS handshake) by then. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

export const PLAINTEXT_REFUSED_MESSAGE =
  'the data plane server requires TLS: use https:// in --cp-address (e.g. https://<control-plane>:5678) ' +
  'and pass the control plane certificate with --ca-cert-file (the control plane can be started with --dp-server-plaintext for local demos)\n';

export interface DpServer {
  port: number;
  close(): Promise<void>;
}

export async function startDpServer(opts: {
  port: number;
  host: string;
  bootstrapServer: http.Server;
  /** Loopback port of the gRPC (xDS) server. */
  grpcPort: number;
  /** Certificate and key presented to data planes. */
  secureContext: tls.SecureContext;
  /** Also serve plaintext (HTTP bootstrap, h2c xDS): local demos and benchmarks. */
  allowPlaintext: boolean;
  logger: Logger;
}): Promise<DpServer> {
  const { logger } = opts;
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };
  // Plaintext HTTP when TLS is required: every request gets a 400 saying so.
  const refusal = http.createServer((req, res) => {
    logger.warn({ remote: req.socket.remoteAddress, url: req.url }, 'plaintext HTTP request on the data plane server refused: TLS is required');
    res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }).end(PLAINTEXT_REFUSED_MESSAGE);
  });

  /** Routes a (decrypted or plaintext) stream by its first bytes. */
  const demux = (stream: net.Socket, encrypted: boolean, decided: () => void) => {
    sniff(stream, needsMore, (head) => {
      decided();
      if (isHttp2(head)) {
        if (!encrypted && !opts.allowPlaintext) {
          logger.warn({ remote: stream.remoteAddress }, 'plaintext (h2c) xDS connection on the data plane server refused: TLS is required');
          stream.destroy();
          return;
        }
        const upstream = net.connect(opts.grpcPort, '127.0.0.1', () => {
          stream.pipe(upstream).pipe(stream);
        });
        track(upstream);
        upstream.once('close', () => stream.destroy());
        upstream.on('error', () => stream.destroy());
        stream.on('error', () => upstream.destroy());
        stream.once('close', () => upstream.destroy());
      } else {
        (encrypted || opts.allowPlaintext ? opts.bootstrapServer : refusal).emit('connection', stream);
        stream.resume();
      }
    });
  };

  const server = net.createServer((socket) => {
    track(socket);
    socket.on('error', () => socket.destroy());
    socket.setTimeout(HANDSHAKE_TIMEOUT_MS, () => socket.destroy());
    const decided = () => socket.setTimeout(0);
    sniff(socket, (head) => head.length === 0, (head) => {
      if (head[0] !== TLS_HANDSHAKE) {
        demux(socket, false, decided);
        return;
      }
      // The bytes read so far are still buffered on `socket`; TLSSocket reads them first.
      const secure = new tls.TLSSocket(socket, { isServer: true, secureContext: opts.secureContext, ALPNProtocols: ['h2', 'http/1.1'] });
      track(secure);
      secure.on('error', (err: Error) => {
        logger.debug({ remote: socket.remoteAddress, err: err.message }, 'TLS connection from a data plane failed');
        secure.destroy();
        socket.destroy();
      });
      demux(secure, true, decided);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        refusal.close();
        server.close(() => resolve());
      }),
  };
}

/** Reads until `more(head)` is false, then puts the bytes back (paused) and calls `then`. */
function sniff(stream: net.Socket, more: (head: Buffer) => boolean, then: (head: Buffer) => void): void {
  let head = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    head = Buffer.concat([head, chunk]);
    if (more(head)) return;
    stream.off('data', onData);
    stream.pause();
    stream.unshift(head);
    then(head);
  };
  stream.on('data', onData);
  stream.resume(); // the stream may have been paused by an outer sniff
}

function prefaceMatches(head: Buffer): boolean {
  const n = Math.min(head.length, HTTP2_PREFACE.length);
  return head.subarray(0, n).equals(HTTP2_PREFACE.subarray(0, n));
}

/** More bytes are needed while what arrived is a (still incomplete) prefix of the HTTP/2 preface. */
function needsMore(head: Buffer): boolean {
  return prefaceMatches(head) && head.length < HTTP2_PREFACE.length;
}

function isHttp2(head: Buffer): boolean {
  return head.length >= HTTP2_PREFACE.length && prefaceMatches(head);
}
