-- An offer comes back (declined, or lapsed): free the reserved slot, exclude the agent from
-- this conversation, and put it back in its queue at its original place.
-- KEYS[1] conv(c)  KEYS[2] queue(g)  KEYS[3] offers  KEYS[4] excluded(c)  KEYS[5] agent(a)
-- ARGV[1] c  ARGV[2] agent  ARGV[3] g  ARGV[4] now (ms) for expiry, '' for a decline
-- Returns {'ok'} | {'not_offered', state, agent} | {'not_due'}
local c = redis.call('HMGET', KEYS[1], 'state', 'agent', 'group', 'deadline', 'kind', 'score',
  'member')
if c[1] ~= 'offered' or c[2] ~= ARGV[2] or c[3] ~= ARGV[3] then
  return {'not_offered', c[1] or '', c[2] or ''}
end
if ARGV[4] ~= '' and tonumber(c[4]) > tonumber(ARGV[4]) then return {'not_due'} end
local loadf = 'tickets'
if c[5] == 'chat' then loadf = 'chats' end
redis.call('HINCRBY', KEYS[5], loadf, -1)
redis.call('HDEL', KEYS[5], 'c:' .. ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[2])
redis.call('HSET', KEYS[1], 'state', 'queued', 'agent', '', 'deadline', '')
redis.call('ZADD', KEYS[2], c[6], c[7])
return {'ok'}
