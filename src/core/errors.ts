// Errors the core raises besides ValidationError (api/) and the store's NotFound/AlreadyExists/Conflict.

export class MeshNotFoundError extends Error {
  constructor(public readonly mesh: string) {
    super(`mesh "${mesh}" does not exist`);
    this.name = 'MeshNotFoundError';
  }
}

/** The request names something that is not a resource kind, or is otherwise malformed. */
export class BadRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadRequestError';
  }
}

/** The operation is not allowed for this kind in this CP mode (read-only kinds, global vs zone). */
export class MethodNotAllowedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MethodNotAllowedError';
  }
}
