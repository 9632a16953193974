import { describe, expect, it } from 'vitest';
import { meshNotFoundMessage } from './agent.js';

describe('meshNotFoundMessage', () => {
  it('tells a zone proxy apart (SKEIN-SPEC §2)', () => {
    expect(meshNotFoundMessage('payments', true)).toBe("Mesh 'payments' not found. Zone proxy waiting for mesh creation.");
    expect(meshNotFoundMessage('payments', false)).toBe("Mesh 'payments' not found. Waiting for mesh creation.");
  });
});
