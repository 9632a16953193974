// Minimal TLS ClientHello parser: the SNI and ALPN a client offers, read from the first record.

export interface ClientHello {
  serverName: string;
  alpn: string[];
}

/** 'incomplete' when more bytes are needed, undefined when the bytes are not a TLS ClientHello. */
export function parseClientHello(buf: Buffer): ClientHello | 'incomplete' | undefined {
  if (buf.length < 1) return 'incomplete';
  if (buf[0] !== 0x16) return undefined;
  if (buf.length < 5) return 'incomplete';
  if (buf[1] !== 0x03) return undefined;
  const recordEnd = 5 + buf.readUInt16BE(3);
  if (buf.length < recordEnd) return 'incomplete';
  const record = buf.subarray(0, recordEnd);
  try {
    return parseHandshake(record);
  } catch {
    return undefined;
  }
}

function parseHandshake(b: Buffer): ClientHello | undefined {
  if (b[5] !== 0x01) return undefined;
  let p = 9 + 2 + 32; // handshake header, legacy_version, random
  p += 1 + b[p]; // session id
  p += 2 + b.readUInt16BE(p); // cipher suites
  p += 1 + b[p]; // compression methods
  const result: ClientHello = { serverName: '', alpn: [] };
  if (p + 2 > b.length) return result;
  const end = Math.min(b.length, p + 2 + b.readUInt16BE(p));
  p += 2;
  while (p + 4 <= end) {
    const type = b.readUInt16BE(p);
    const len = b.readUInt16BE(p + 2);
    const data = b.subarray(p + 4, p + 4 + len);
    if (type === 0x0000) result.serverName = parseServerName(data);
    else if (type === 0x0010) result.alpn = parseAlpn(data);
    p += 4 + len;
  }
  return result;
}

function parseServerName(d: Buffer): string {
  let p = 2;
  while (p + 3 <= d.length) {
    const nameType = d[p];
    const len = d.readUInt16BE(p + 1);
    if (nameType === 0) return d.subarray(p + 3, p + 3 + len).toString('ascii').toLowerCase();
    p += 3 + len;
  }
  return '';
}

function parseAlpn(d: Buffer): string[] {
  const protocols: string[] = [];
  let p = 2;
  while (p < d.length) {
    const len = d[p];
    protocols.push(d.subarray(p + 1, p + 1 + len).toString('ascii'));
    p += 1 + len;
  }
  return protocols;
}
