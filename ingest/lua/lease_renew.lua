-- Extend a lease only if we still hold it.
-- KEYS[1] lease key
-- ARGV[1] our token, ARGV[2] new TTL in ms
-- Returns 1 if renewed, 0 if the lease is held by someone else or expired.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
