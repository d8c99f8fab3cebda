/**
 * Delay before retry number `attempt` (0 = first retry): exponential from `baseMs`, capped at `maxMs`,
 * with full jitter so many publishers retrying after one outage do not arrive in lockstep. Pure: the
 * random source is a parameter.
 */
export function retryDelayMs(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(ceiling * Math.min(Math.max(random(), 0), 1));
}
