// POST /tokens/dataplane: issue a dataplane token (text/plain JWT), Kuma's request shape.
import type { FastifyInstance } from 'fastify';
import type { Violation } from '../api/resource.js';
import type { ResourceManager } from '../core/resource-manager.js';
import { DEFAULT_TOKEN_VALIDITY, issueDataplaneToken } from '../auth/dataplane-tokens.js';
import { TokenError, parseDuration } from '../auth/jwt.js';
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
}
