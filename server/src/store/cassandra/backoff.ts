/**
 * Delay before retry `attempt` (0, 1, 2, …) of a contended lightweight transaction: uniformly random in
 * [0, min(capMs, baseMs·2^attempt)] ("full jitter"), so instances that collided do not collide again in
 * lockstep. Pure given `random`.
 */
export function jitteredBackoff(
  attempt: number,
  policy: { readonly baseMs: number; readonly capMs: number },
  random: () => number,
): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, attempt));
  const unit = Math.min(Math.max(random(), 0), 1 - Number.EPSILON);
  return Math.floor(unit * (ceiling + 1));
}
