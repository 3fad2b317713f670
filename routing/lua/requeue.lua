-- Take a conversation away from the agent holding it (offered or assigned) and queue it in
-- group g with a new score: agent lost past grace (front of the queue), agent went offline,
-- or a transfer to a group.
-- KEYS[1] conv(c)  KEYS[2] queue(g)  KEYS[3] offers  KEYS[4] agent(a)  KEYS[5] heartbeat(a)
-- KEYS[6] excluded(c)
-- ARGV[1] c  ARGV[2] agent  ARGV[3] g  ARGV[4] score
-- ARGV[5] '1' = only if the agent is offline  ARGV[6] '1' = exclude the agent from it
-- Returns {'ok', previous state} | {'not_held', state, agent} | {'alive'}
local c = redis.call('HMGET', KEYS[1], 'state', 'agent', 'kind', 'member')
if (c[1] ~= 'offered' and c[1] ~= 'assigned') or c[2] ~= ARGV[2] then
  return {'not_held', c[1] or '', c[2] or ''}
end
if ARGV[5] == '1' and redis.call('EXISTS', KEYS[5]) == 1 then return {'alive'} end
local loadf = 'tickets'
if c[3] == 'chat' then loadf = 'chats' end
redis.call('HINCRBY', KEYS[4], loadf, -1)
redis.call('HDEL', KEYS[4], 'c:' .. ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
if ARGV[6] == '1' then redis.call('SADD', KEYS[6], ARGV[2]) end
redis.call('HSET', KEYS[1], 'state', 'queued', 'agent', '', 'deadline', '', 'group', ARGV[3],
  'score', ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[4], c[4])
return {'ok', c[1]}
