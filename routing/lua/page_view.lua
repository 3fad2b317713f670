-- A page view (realtime.visits.Visits.record), socket's or beacon's, in one round trip:
-- counted against the visitor's per-second limit (past it: nothing stored, nil returned),
-- then written to the visit; a visit beginning also gets its start fields, whether it is a
-- returning one (the history marker present) and a fresh history marker. A repeat (the page
-- a beacon reported, told again by the socket that followed) of a live visit only says the
-- visitor is still there: not another page, its time on the page goes on, and not counted
-- (the socket's own bucket bounds how often it may say so).
-- KEYS: 1 rate counter, 2 visit hash, 3 history marker, 4 arrivals zset, 5 seen zset
-- ARGV: 1 views per second, 2 now ms, 3 idle ms, 4 retention s, 5 visitor id, 6 repeat (0/1),
--       7 n (view field/value pairs that follow), then the pairs, then the start pairs
local live = redis.call('EXISTS', KEYS[2]) == 1
local again = live and ARGV[6] == '1'
if not again then
  local count = redis.call('INCR', KEYS[1])
  if count == 1 then
    redis.call('EXPIRE', KEYS[1], 1)
  end
  if count > tonumber(ARGV[1]) then
    return false
  end
end
local view_end = 7 + 2 * tonumber(ARGV[7])
if not live then
  local start = {'ret', redis.call('EXISTS', KEYS[3])}
  for i = view_end + 1, #ARGV do
    start[#start + 1] = ARGV[i]
  end
  redis.call('HSET', KEYS[2], unpack(start))
  redis.call('INCR', KEYS[3])
  redis.call('EXPIRE', KEYS[3], ARGV[4])
end
if not again then
  redis.call('HSET', KEYS[2], unpack(ARGV, 8, view_end))
  redis.call('HINCRBY', KEYS[2], 'n', 1)
end
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[4], 'NX', ARGV[2], ARGV[5])
redis.call('ZADD', KEYS[5], ARGV[2], ARGV[5])
redis.call('PEXPIRE', KEYS[4], 2 * tonumber(ARGV[3]))
redis.call('PEXPIRE', KEYS[5], 2 * tonumber(ARGV[3]))
return redis.call('HGETALL', KEYS[2])
