-- Atomically give a queued conversation to the first agent of a ranked list who can take it.
-- The policy (routing/policy.py) ranks; this script only enforces the invariants: the
-- conversation is still queued in this group, the agent is online, active in the group, not
-- excluded, and under capacity for the conversation's kind. Then it claims: load +1, the
-- conversation leaves the queue, and it becomes an offer (with a deadline) or an assignment.
-- KEYS[1] epoch  KEYS[2] queue(g)  KEYS[3] offers  KEYS[4] cursor(g)  KEYS[5] throughput(g)
-- KEYS[6] conv(c)  KEYS[7] excluded(c)
-- KEYS[8 + 2i], KEYS[9 + 2i] for candidate i: agent(a), heartbeat(a)
-- ARGV[1] c  ARGV[2] g  ARGV[3] 'offer' | 'assign'  ARGV[4] offer deadline (ms)  ARGV[5] now (ms)
-- ARGV[6] expected cursor ('' = do not check, '-' = expect none)
-- ARGV[7] checks: 'a' = must be active in g, 'x' = skip excluded agents
-- ARGV[8..] candidate agent ids, best first
-- Returns one space-separated string (one bulk reply is the cheapest to parse):
--   'ok <agent> <skipped>...' | 'no_agent <skipped>...' | 'not_queued <state>'
--   | 'stale_cursor <cursor>' | 'no_epoch';  each skipped item is '<agent>:<why>'
if redis.call('EXISTS', KEYS[1]) == 0 then return 'no_epoch' end
local c = redis.call('HMGET', KEYS[6], 'state', 'group', 'kind', 'member')
if c[1] ~= 'queued' or c[2] ~= ARGV[2] then return 'not_queued ' .. (c[1] or '-') end
if ARGV[6] ~= '' then
  local cur = redis.call('GET', KEYS[4]) or '-'
  if cur ~= ARGV[6] then return 'stale_cursor ' .. cur end
end
local loadf, maxf = 'tickets', 'max_tickets'
if c[3] == 'chat' then loadf, maxf = 'chats', 'max_chats' end
local check_active = string.find(ARGV[7], 'a', 1, true) ~= nil
local check_excluded = string.find(ARGV[7], 'x', 1, true) ~= nil
local active = 'g:' .. ARGV[2]
local skipped = {}
for i = 8, #ARGV do
  local a = ARGV[i]
  local k = 8 + (i - 8) * 2
  local why = nil
  if check_excluded and redis.call('SISMEMBER', KEYS[7], a) == 1 then
    why = 'excluded'
  elseif redis.call('EXISTS', KEYS[k + 1]) == 0 then
    why = 'offline'
  else
    local v = redis.call('HMGET', KEYS[k], loadf, maxf, active)
    if check_active and not v[3] then
      why = 'inactive'
    elseif tonumber(v[1] or '0') >= tonumber(v[2] or '0') then
      why = 'at_capacity'
    end
  end
  if why == nil then
    redis.call('HINCRBY', KEYS[k], loadf, 1)
    redis.call('HSET', KEYS[k], 'c:' .. ARGV[1], 1)
    redis.call('ZREM', KEYS[2], c[4])
    if ARGV[3] == 'offer' then
      redis.call('HSET', KEYS[6], 'state', 'offered', 'agent', a, 'deadline', ARGV[4])
      redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
    else
      redis.call('HSET', KEYS[6], 'state', 'assigned', 'agent', a, 'deadline', '')
    end
    redis.call('SET', KEYS[4], a)
    redis.call('LPUSH', KEYS[5], ARGV[5])
    redis.call('LTRIM', KEYS[5], 0, 63)
    return table.concat({'ok', a, unpack(skipped)}, ' ')
  end
  skipped[#skipped + 1] = a .. ':' .. why
end
return table.concat({'no_agent', unpack(skipped)}, ' ')
