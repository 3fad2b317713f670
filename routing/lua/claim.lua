-- Atomically give a queued conversation to the first agent of a ranked list who can take it.
-- The policy (routing/policy.py) ranks; this script only enforces the invariants: the
-- conversation is still queued in this group, the agent is online, active in the group, not
-- excluded, and under capacity for the conversation's kind. Then it claims: load +1, the
-- conversation leaves the queue, and it becomes an offer (with a deadline) or an assignment.
-- KEYS[1] epoch  KEYS[2] conv(c)  KEYS[3] queue(g)  KEYS[4] offers  KEYS[5] cursor(g)
-- KEYS[6] excluded(c)  KEYS[7] throughput(g)
-- KEYS[8 + 4i .. 11 + 4i] for candidate i: agent(a), heartbeat(a), agent_groups(a), agent_convs(a)
-- ARGV[1] c  ARGV[2] g  ARGV[3] 'offer' | 'assign'  ARGV[4] offer deadline (ms)  ARGV[5] now (ms)
-- ARGV[6] expected cursor ('' = do not check, '-' = expect none)
-- ARGV[7] checks: 'a' = must be active in g, 'x' = skip excluded agents
-- ARGV[8..] candidate agent ids, best first
-- Returns {'ok', agent, skipped...} | {'no_agent', skipped...} | {'not_queued', state}
--       | {'stale_cursor', cursor} | {'no_epoch'};  skipped items are '<agent>:<why>'
if redis.call('EXISTS', KEYS[1]) == 0 then return {'no_epoch'} end
local c = redis.call('HMGET', KEYS[2], 'state', 'group', 'kind', 'member')
if c[1] ~= 'queued' or c[2] ~= ARGV[2] then return {'not_queued', c[1] or ''} end
if ARGV[6] ~= '' then
  local cur = redis.call('GET', KEYS[5]) or '-'
  if cur ~= ARGV[6] then return {'stale_cursor', cur} end
end
local loadf, maxf = 'tickets', 'max_tickets'
if c[3] == 'chat' then loadf, maxf = 'chats', 'max_chats' end
local check_active = string.find(ARGV[7], 'a', 1, true) ~= nil
local check_excluded = string.find(ARGV[7], 'x', 1, true) ~= nil
local skipped = {}
for i = 8, #ARGV do
  local a = ARGV[i]
  local k = 8 + (i - 8) * 4
  local why = nil
  if check_excluded and redis.call('SISMEMBER', KEYS[6], a) == 1 then
    why = 'excluded'
  elseif redis.call('EXISTS', KEYS[k + 1]) == 0 then
    why = 'offline'
  elseif check_active and redis.call('SISMEMBER', KEYS[k + 2], ARGV[2]) == 0 then
    why = 'inactive'
  else
    local v = redis.call('HMGET', KEYS[k], loadf, maxf)
    if tonumber(v[1] or '0') >= tonumber(v[2] or '0') then why = 'at_capacity' end
  end
  if why == nil then
    redis.call('HINCRBY', KEYS[k], loadf, 1)
    redis.call('SADD', KEYS[k + 3], ARGV[1])
    redis.call('ZREM', KEYS[3], c[4])
    if ARGV[3] == 'offer' then
      redis.call('HSET', KEYS[2], 'state', 'offered', 'agent', a, 'deadline', ARGV[4])
      redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1])
    else
      redis.call('HSET', KEYS[2], 'state', 'assigned', 'agent', a, 'deadline', '')
    end
    redis.call('SET', KEYS[5], a)
    redis.call('LPUSH', KEYS[7], ARGV[5])
    redis.call('LTRIM', KEYS[7], 0, 63)
    local out = {'ok', a}
    for _, s in ipairs(skipped) do out[#out + 1] = s end
    return out
  end
  skipped[#skipped + 1] = a .. ':' .. why
end
local out = {'no_agent'}
for _, s in ipairs(skipped) do out[#out + 1] = s end
return out
