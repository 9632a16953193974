// The DP server port (5678) carries both the HTTP `/bootstrap` endpoint and gRPC xDS, as Kuma's does.
// @grpc/grpc-js cannot share a socket with another HTTP server, so the port is a small demultiplexer:
// connections that open with the HTTP/2 preface go to the gRPC server (on an internal loopback port),
// everything else to the bootstrap HTTP server.
import net from 'node:net';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

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
}): Promise<DpServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const n = Math.min(head.length, HTTP2_PREFACE.length);
      const isH2 = head.subarray(0, n).equals(HTTP2_PREFACE.subarray(0, n));
      if (isH2 && head.length < HTTP2_PREFACE.length) return; // need more bytes to decide
      socket.off('data', onData);
      socket.pause();
      if (isH2) {
        const upstream = net.connect(opts.grpcPort, '127.0.0.1', () => {
          upstream.write(head);
          socket.pipe(upstream).pipe(socket);
          socket.resume();
        });
        sockets.add(upstream);
        upstream.once('close', () => {
          sockets.delete(upstream);
          socket.destroy();
        });
        upstream.on('error', () => socket.destroy());
        socket.on('error', () => upstream.destroy());
        socket.once('close', () => upstream.destroy());
      } else {
        socket.unshift(head);
        opts.bootstrapServer.emit('connection', socket);
        socket.resume();
      }
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
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
        server.close(() => resolve());
      }),
  };
}
