-- Move an assigned conversation from one agent to another under the routing rules: the new
-- agent must be online, active in the target group and under capacity. All or nothing.
-- KEYS[1] conv(c)  KEYS[2] agent(old)  KEYS[3] agent(new)  KEYS[4] heartbeat(new)
-- ARGV[1] c  ARGV[2] old agent  ARGV[3] new agent  ARGV[4] target group
-- Returns {'ok'} | {'not_held', state, agent} | {'same_agent'} | {'offline'} | {'inactive'}
--       | {'at_capacity'}
local c = redis.call('HMGET', KEYS[1], 'state', 'agent', 'kind')
if c[1] ~= 'assigned' or c[2] ~= ARGV[2] then return {'not_held', c[1] or '', c[2] or ''} end
if ARGV[2] == ARGV[3] then return {'same_agent'} end
if redis.call('EXISTS', KEYS[4]) == 0 then return {'offline'} end
local loadf, maxf = 'tickets', 'max_tickets'
if c[3] == 'chat' then loadf, maxf = 'chats', 'max_chats' end
local v = redis.call('HMGET', KEYS[3], loadf, maxf, 'g:' .. ARGV[4])
if not v[3] then return {'inactive'} end
if tonumber(v[1] or '0') >= tonumber(v[2] or '0') then return {'at_capacity'} end
redis.call('HINCRBY', KEYS[2], loadf, -1)
redis.call('HDEL', KEYS[2], 'c:' .. ARGV[1])
redis.call('HINCRBY', KEYS[3], loadf, 1)
redis.call('HSET', KEYS[3], 'c:' .. ARGV[1], 1)
redis.call('HSET', KEYS[1], 'agent', ARGV[3], 'group', ARGV[4])
return {'ok'}
