/**
 * Lua for the Redis consumer status store. Per topic, three keys sharing one hash tag (so a Redis Cluster
 * keeps them on one shard and a script may touch all three):
 *   KEYS[1] nodes: hash node -> JSON of its latest report (app, region, cluster, versions, at)
 *   KEYS[2] seen:  sorted set node -> time of its latest report, for expiry by range
 *   KEYS[3] lag:   hash node -> "<target>|<since>" while the node is behind that target
 * Every instance writes here; the scripts make each update atomic, so two instances reporting on the same
 * node in the wrong order cannot leave an older report on top or reset a lag's start.
 */

/**
 * ARGV: node, at, report JSON, lag target ('' when not behind), lag since, ttl ms.
 * Returns 1 when applied, 0 when the node already has a newer report.
 */
export const RECORD_CONSUMER_LUA = `
local last = redis.call('ZSCORE', KEYS[2], ARGV[1])
if last and tonumber(last) > tonumber(ARGV[2]) then return 0 end
-- A node back after more than the TTL starts afresh, even if no read has swept its old entry yet.
local known = last and tonumber(last) > tonumber(ARGV[2]) - tonumber(ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
if ARGV[4] == '' then
  redis.call('HDEL', KEYS[3], ARGV[1])
else
  local since = ARGV[5]
  local previous = known and redis.call('HGET', KEYS[3], ARGV[1])
  if previous then
    local sep = string.find(previous, '|', 1, true)
    if sep and string.sub(previous, 1, sep - 1) == ARGV[4] then
      local kept = string.sub(previous, sep + 1)
      if tonumber(kept) < tonumber(since) then since = kept end
    end
  end
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[4] .. '|' .. since)
end
-- A topic nobody polls any more disappears entirely, without a sweeper.
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[6]) end
return 1
`;

/**
 * ARGV: cutoff (nodes last seen at or before it are dropped). Returns { nodes hash flat, lag hash flat }
 * for the live nodes.
 */
export const READ_CONSUMERS_LUA = `
local stale = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
for i = 1, #stale, 500 do
  local chunk = { unpack(stale, i, math.min(i + 499, #stale)) }
  redis.call('HDEL', KEYS[1], unpack(chunk))
  redis.call('HDEL', KEYS[3], unpack(chunk))
end
if #stale > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1]) end
return { redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[3]) }
`;
