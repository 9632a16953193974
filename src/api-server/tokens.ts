// POST /tokens/dataplane, /tokens/zone and /tokens/user: issue tokens (text/plain JWT), Kuma's request shapes.
import type { FastifyInstance } from 'fastify';
import type { Violation } from '../api/resource.js';
import type { ResourceManager } from '../core/resource-manager.js';
import { DEFAULT_TOKEN_VALIDITY, issueDataplaneToken } from '../auth/dataplane-tokens.js';
import { TokenError, parseDuration } from '../auth/jwt.js';
import { issueZoneToken, validateZoneTokenRequest } from '../auth/zone-tokens.js';
import { issueUserToken } from '../auth/user-tokens.js';
import { ApiError } from './errors.js';

interface DataplaneTokenBody {
  name?: string;
  mesh?: string;
  tags?: Record<string, string[]>;
  type?: string;
  workload?: string;
  validFor?: string;
}

const PROXY_TYPES = ['', 'dataplane', 'ingress', 'egress'];

export function registerTokenRoutes(app: FastifyInstance, manager: ResourceManager): void {
  app.post('/tokens/dataplane', async (req, reply) => {
    const body = (req.body ?? {}) as DataplaneTokenBody;
    const violations: Violation[] = [];
    if (!body.mesh) violations.push({ field: 'mesh', reason: 'cannot be empty' });
    if (body.type !== undefined && !PROXY_TYPES.includes(body.type)) violations.push({ field: 'type', reason: `${body.type} is not a valid proxy type` });
    let validFor = DEFAULT_TOKEN_VALIDITY;
    if (body.validFor) {
      try {
        validFor = parseDuration(body.validFor);
      } catch (err) {
        violations.push({ field: 'validFor', reason: `is invalid: ${(err as Error).message}` });
      }
    }
    if (body.tags && (typeof body.tags !== 'object' || Object.values(body.tags).some((v) => !Array.isArray(v)))) {
      violations.push({ field: 'tags', reason: 'must map each tag to a list of allowed values' });
    }
    if (violations.length > 0) throw new ApiError(400, 'Invalid request', 'Resource is not valid', violations);
    if (!(await manager.meshExists(body.mesh!))) {
      throw new ApiError(400, 'Invalid request', 'Mesh is not found', [{ field: 'mesh', reason: `mesh of name ${body.mesh} is not found` }]);
    }
    try {
      const token = await issueDataplaneToken(manager.store, {
        mesh: body.mesh!,
        name: body.name,
        tags: body.tags,
        type: body.type,
        workload: body.workload,
        validForSeconds: validFor,
      });
      return reply.type('text/plain').send(token);
    } catch (err) {
      if (err instanceof TokenError) throw new ApiError(400, 'Could not issue a token', err.message);
      throw err;
    }
  });

  app.post('/tokens/zone', async (req, reply) => {
    const body = (req.body ?? {}) as { zone?: string; scope?: unknown; validFor?: string };
    const violations: Violation[] = [];
    if (!body.zone || typeof body.zone !== 'string') violations.push({ field: 'zone', reason: 'cannot be empty' });
    if (body.scope !== undefined) {
      try {
        validateZoneTokenRequest({ zone: 'x', scope: body.scope });
      } catch (err) {
        violations.push({ field: 'scope', reason: (err as Error).message.replace(/^scope: /, '') });
      }
    }
    const validFor = parseValidFor(body.validFor, DEFAULT_TOKEN_VALIDITY, violations);
    if (violations.length > 0) throw new ApiError(400, 'Invalid request', 'Resource is not valid', violations);
    try {
      const token = await issueZoneToken(manager.store, { zone: body.zone!, scope: body.scope as string[] | undefined, validForSeconds: validFor });
      return reply.type('text/plain').send(token);
    } catch (err) {
      if (err instanceof TokenError) throw new ApiError(400, 'Could not issue a token', err.message);
      throw err;
    }
  });

  app.post('/tokens/user', async (req, reply) => {
    const body = (req.body ?? {}) as { name?: string; groups?: unknown; validFor?: string };
    const violations: Violation[] = [];
    if (!body.name || typeof body.name !== 'string') violations.push({ field: 'name', reason: 'cannot be empty' });
    if (body.groups !== undefined && (!Array.isArray(body.groups) || body.groups.some((g) => typeof g !== 'string'))) {
      violations.push({ field: 'groups', reason: 'must be a list of strings' });
    }
    if (!body.validFor) violations.push({ field: 'validFor', reason: 'cannot be empty' });
    const validFor = parseValidFor(body.validFor, 0, violations);
    if (body.validFor && validFor === 0 && !violations.some((v) => v.field === 'validFor')) violations.push({ field: 'validFor', reason: 'cannot be zero' });
    if (violations.length > 0) throw new ApiError(400, 'Invalid request', 'Resource is not valid', violations);
    try {
      const token = await issueUserToken(manager.store, { name: body.name!, groups: body.groups as string[] | undefined, validForSeconds: validFor });
      return reply.type('text/plain').send(token);
    } catch (err) {
      if (err instanceof TokenError) throw new ApiError(400, 'Could not issue a token', err.message);
      throw err;
    }
  });
}

function parseValidFor(text: string | undefined, fallback: number, violations: Violation[]): number {
  if (!text) return fallback;
  try {
    return parseDuration(text);
  } catch (err) {
    violations.push({ field: 'validFor', reason: `is invalid: ${(err as Error).message}` });
    return fallback;
  }
}
