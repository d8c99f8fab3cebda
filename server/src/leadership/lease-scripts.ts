/**
 * Lua run atomically by Redis, so "is it still mine?" and the change cannot be split by another
 * instance's write. KEYS[1] is the lease key, ARGV[1] the holder id.
 */

/** ARGV[2] = lease ms. 1 when the lease was ours and now runs ARGV[2] ms from now, else 0. */
export const RENEW_LEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`;

/** 1 when the lease was ours and is gone, else 0 (a successor's lease is left alone). */
export const RELEASE_LEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;
