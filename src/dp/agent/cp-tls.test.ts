import { describe, expect, it } from 'vitest';
import { certificateVerificationFailure, isPlaintextPeer } from './cp-tls.js';

describe('control plane TLS failures', () => {
  it('names certificate verification failures from Node error codes', () => {
    const err = Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    expect(certificateVerificationFailure(err)).toEqual({
      code: 'DEPTH_ZERO_SELF_SIGNED_CERT',
      reason: 'self-signed certificate: the control plane presents a self-signed certificate that --ca-cert-file does not hold',
    });
    const mismatch = Object.assign(new Error("Hostname/IP does not match certificate's altnames: IP: 10.0.0.1 is not in the cert's list: 127.0.0.1"), {
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
    expect(certificateVerificationFailure(mismatch)?.reason).toContain('hostname/IP mismatch');
  });

  it('recognizes them in gRPC status messages, where only the text survives', () => {
    const grpc = { message: '14 UNAVAILABLE: No connection established. Last error: Error: self-signed certificate' };
    expect(certificateVerificationFailure(grpc)?.code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    expect(certificateVerificationFailure({ message: '14 UNAVAILABLE: Connection dropped' })).toBeUndefined();
    expect(certificateVerificationFailure(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5678'), { code: 'ECONNREFUSED' }))).toBeUndefined();
  });

  it('recognizes a TLS client talking to a plaintext server', () => {
    expect(isPlaintextPeer(new Error('140:error:0A00010B:SSL routines:ssl3_get_record:wrong version number'))).toBe(true);
    expect(isPlaintextPeer(new Error('socket hang up'))).toBe(false);
  });
});
