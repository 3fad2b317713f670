-- A conversation stops occupying routing (resolved, closed, pending on the customer, or the
-- visitor left the queue): free the agent's slot if held, drop it from queue and offers.
-- KEYS[1] conv(c)  KEYS[2] queue(g)  KEYS[3] offers  KEYS[4] excluded(c)  KEYS[5] agent(a)
-- ARGV[1] c  ARGV[2] expected agent ('' if none)  ARGV[3] expected group
-- Returns {'ok', previous state} | {'unknown'} | {'moved'} (re-read and retry)
local c = redis.call('HMGET', KEYS[1], 'state', 'agent', 'group', 'kind', 'member')
if not c[1] then return {'unknown'} end
if (c[2] or '') ~= ARGV[2] or c[3] ~= ARGV[3] then return {'moved'} end
if c[1] == 'queued' then
  redis.call('ZREM', KEYS[2], c[5])
else
  local loadf = 'tickets'
  if c[4] == 'chat' then loadf = 'chats' end
  redis.call('HINCRBY', KEYS[5], loadf, -1)
  redis.call('HDEL', KEYS[5], 'c:' .. ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
end
redis.call('DEL', KEYS[1], KEYS[4])
return {'ok', c[1]}
