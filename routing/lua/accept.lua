-- An agent accepts the offer made to them: the offer becomes an assignment (load unchanged,
-- it was reserved when offered).
-- KEYS[1] conv(c)  KEYS[2] offers
-- ARGV[1] c  ARGV[2] agent
-- Returns {'ok'} | {'not_offered', state, agent}
local c = redis.call('HMGET', KEYS[1], 'state', 'agent')
if c[1] ~= 'offered' or c[2] ~= ARGV[2] then return {'not_offered', c[1] or '', c[2] or ''} end
redis.call('HSET', KEYS[1], 'state', 'assigned', 'deadline', '')
redis.call('ZREM', KEYS[2], ARGV[1])
return {'ok'}
