// Exponential backoff with jitter for reconnecting to the control plane.

export class Backoff {
  private attempt = 0;

  constructor(
    private readonly initialMs = 250,
    private readonly maxMs = 5000,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next attempt: doubles each time up to the cap, with ±20% jitter. */
  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * 2 ** this.attempt);
    this.attempt++;
    const jittered = base * (0.8 + 0.4 * this.random());
    return Math.round(Math.min(this.maxMs, jittered));
  }

  reset(): void {
    this.attempt = 0;
  }
}
