// Kuma's error JSON: {type, status, title, detail, invalid_parameters?, details, causes?}.
// Every failure of the API goes through toApiError so status codes and bodies stay consistent.
import { ValidationError, type Violation } from '../api/resource.js';
import { AlreadyExistsError, ConflictError, NotFoundError } from '../store/store.js';
import { BadRequestError, MeshNotFoundError, MethodNotAllowedError } from '../core/errors.js';

export interface ApiErrorBody {
  type: string;
  status: number;
  title: string;
  detail: string;
  invalid_parameters?: Violation[];
  details: string;
  causes?: { field: string; message: string }[];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly invalidParameters: Violation[] = [],
  ) {
    super(`${title}: ${detail}`);
  }

  body(): ApiErrorBody {
    const body: ApiErrorBody = { type: '/std-errors', status: this.status, title: this.title, detail: this.detail, details: this.detail };
    if (this.invalidParameters.length > 0) {
      body.invalid_parameters = this.invalidParameters;
      body.causes = this.invalidParameters.map((p) => ({ field: p.field, message: p.reason }));
    }
    return body;
  }
}

/** Maps anything thrown while serving a request to an ApiError; `title` says what was being done. */
export function toApiError(err: unknown, title: string): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof ValidationError) return new ApiError(400, title, 'Resource is not valid', err.violations);
  if (err instanceof NotFoundError) return new ApiError(404, title, 'Not found');
  if (err instanceof AlreadyExistsError || err instanceof ConflictError) return new ApiError(409, 'Conflict', err.message);
  if (err instanceof MeshNotFoundError) {
    return new ApiError(400, title, 'Mesh is not found', [{ field: 'mesh', reason: `mesh of name ${err.mesh} is not found` }]);
  }
  if (err instanceof BadRequestError) return new ApiError(400, 'Bad Request', err.message);
  if (err instanceof MethodNotAllowedError) return new ApiError(405, 'Method not allowed', err.message);
  // Fastify's own errors (body parsing, size limit, media type) carry a statusCode.
  const fastifyError = err as { statusCode?: number; message?: string; code?: string };
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return new ApiError(fastifyError.statusCode, statusTitle(fastifyError.statusCode), fastifyError.message ?? 'Bad Request');
  }
  return new ApiError(500, title, 'Internal Server Error');
}

function statusTitle(status: number): string {
  switch (status) {
    case 400:
      return 'Bad Request';
    case 404:
      return 'Not Found';
    case 405:
      return 'Method Not Allowed';
    case 413:
      return 'Request Entity Too Large';
    case 415:
      return 'Unsupported Media Type';
    default:
      return 'Bad Request';
  }
}
