-- Put a conversation in its group's queue, once.
-- KEYS[1] epoch   KEYS[2] conv(c)   KEYS[3] queue(g)
-- ARGV[1] c  ARGV[2] g  ARGV[3] channel  ARGV[4] kind  ARGV[5] score  ARGV[6] member
-- ARGV[7] priority  ARGV[8] sla (s, '' = none)  ARGV[9] arrival (s)  ARGV[10] skills JSON
-- Returns {'ok', rank} | {'exists', state} | {'no_epoch'}
if redis.call('EXISTS', KEYS[1]) == 0 then return {'no_epoch'} end
local state = redis.call('HGET', KEYS[2], 'state')
if state then return {'exists', state} end
redis.call('HSET', KEYS[2], 'state', 'queued', 'group', ARGV[2], 'channel', ARGV[3],
  'kind', ARGV[4], 'agent', '', 'deadline', '', 'score', ARGV[5], 'member', ARGV[6],
  'priority', ARGV[7], 'sla', ARGV[8], 'arrival', ARGV[9], 'skills', ARGV[10])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[6])
return {'ok', redis.call('ZRANK', KEYS[3], ARGV[6])}
