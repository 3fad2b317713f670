-- Each queue's length and its oldest arrival, for the metrics scrape (read-only).
-- KEYS[i] queue(g)  ARGV[1] most members read per queue (a longer queue's oldest is that of
-- the members read: the head by score, which is where the longest waits are unless priorities
-- hold them back)
-- Returns {length1, oldest_ms1 or '', length2, ...}
local out = {}
local cap = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  out[#out + 1] = redis.call('ZCARD', key)
  local oldest = nil
  for _, member in ipairs(redis.call('ZRANGE', key, 0, cap - 1)) do
    local at = tonumber(string.match(member, '^(%d+):'))
    if at and (oldest == nil or at < oldest) then oldest = at end
  end
  out[#out + 1] = oldest and tostring(oldest) or ''
end
return out
