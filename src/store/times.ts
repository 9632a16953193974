// Times are kept as RFC 3339 UTC with milliseconds in every backend, so a resource reads back the
// same whichever store holds it.
export function normalizeTime(value: string | Date): string {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) throw new RangeError(`invalid time: ${String(value)}`);
  return date.toISOString();
}
