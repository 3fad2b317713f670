-- Charge one request to every counter of its mail budget, or to none of them.
-- KEYS[i]   counter i (a string holding a count; expires at the end of its window)
-- ARGV[2i-1] limit of counter i, ARGV[2i] its window in seconds
-- Returns {0, 0} when every counter had room and each was incremented (a new counter starts
-- its window), else {i, ttl}: the first counter at its limit and the seconds until it resets.
for i, key in ipairs(KEYS) do
  local count = tonumber(redis.call('GET', key) or '0')
  if count >= tonumber(ARGV[2 * i - 1]) then
    local ttl = redis.call('TTL', key)
    if ttl < 0 then
      -- A counter without expiry would block forever: give it back its window.
      redis.call('EXPIRE', key, ARGV[2 * i])
      ttl = tonumber(ARGV[2 * i])
    end
    return {i, ttl}
  end
end
for i, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then
    redis.call('EXPIRE', key, ARGV[2 * i])
  end
end
return {0, 0}
