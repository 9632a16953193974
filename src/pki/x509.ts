// The one entry to @peculiar/x509: import it from here, never directly. The library resolves its
// algorithm registry through tsyringe, which needs the Reflect metadata polyfill loaded first (ESM
// evaluates imports in order), and it needs a WebCrypto provider (Node's).
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(globalThis.crypto);

export { x509 };
