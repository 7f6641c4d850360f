"""The two Lua scripts of the Valkey backend: one reserve, one settle, each atomic and one
round trip. They mirror ``producers.limits.rules`` (a randomized test compares their answers);
time is the server's (``TIME``), so every gateway shares one clock.

Keys per rate subject: a sorted set of admitted calls by time (``log``), a hash of each call's
tokens plus ``_sum`` (``tok``), a sorted set of slots by lease expiry (``par``). Keys per budget
counter: a hash of settled micro-USD per bucket plus ``total`` and ``next_expiry`` (``spend``), a
hash of each reservation plus ``_sum`` (``res``) and a sorted set of reservation leases
(``resz``).
"""

from __future__ import annotations

__all__ = ["RESERVE", "SETTLE"]

_PRELUDE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local W = 60
local function num(v) return tonumber(v) or 0 end
local function prune_budget(h, rh, rz, window_s)
  if window_s > 0 then
    local ne = tonumber(redis.call('HGET', h, 'next_expiry'))
    if ne and ne <= now then
      local width = window_s / 60
      local edge = now - window_s
      local fields = redis.call('HGETALL', h)
      local total = num(redis.call('HGET', h, 'total'))
      local oldest = nil
      for i = 1, #fields, 2 do
        local f = fields[i]
        if string.sub(f, 1, 1) == 'b' then
          local b = tonumber(string.sub(f, 2))
          if (b + 1) * width <= edge then
            total = total - tonumber(fields[i + 1])
            redis.call('HDEL', h, f)
          elseif oldest == nil or b < oldest then
            oldest = b
          end
        end
      end
      redis.call('HSET', h, 'total', total)
      if oldest then
        redis.call('HSET', h, 'next_expiry', (oldest + 1) * width + window_s)
      else
        redis.call('HDEL', h, 'next_expiry')
      end
    end
  end
  local gone = redis.call('ZRANGEBYSCORE', rz, '-inf', now)
  if #gone > 0 then
    local freed = 0
    for _, c in ipairs(gone) do
      freed = freed + num(redis.call('HGET', rh, c))
      redis.call('HDEL', rh, c)
    end
    redis.call('HINCRBY', rh, '_sum', -freed)
    redis.call('ZREMRANGEBYSCORE', rz, '-inf', now)
  end
end
"""

RESERVE = (
    _PRELUDE
    + """
-- ARGV: call, tokens, n_rates, n_budgets,
--   per rate: rpm, tpm, max_parallel, lease_s (-1 = none),
--   per budget: limit, cost, floor, window_s, ends_at, lease_s
local call = ARGV[1]
local tokens = tonumber(ARGV[2])
local nr = tonumber(ARGV[3])
local nb = tonumber(ARGV[4])
local bk = 3 * nr
local ba = 4 + 4 * nr
for i = 0, nr - 1 do
  local log, tok, par = KEYS[1 + 3 * i], KEYS[2 + 3 * i], KEYS[3 + 3 * i]
  local old = redis.call('ZRANGEBYSCORE', log, '-inf', now - W)
  if #old > 0 then
    local freed = 0
    for _, c in ipairs(old) do
      freed = freed + num(redis.call('HGET', tok, c))
      redis.call('HDEL', tok, c)
    end
    redis.call('HINCRBY', tok, '_sum', -freed)
    redis.call('ZREMRANGEBYSCORE', log, '-inf', now - W)
  end
  redis.call('ZREMRANGEBYSCORE', par, '-inf', now)
  if redis.call('ZSCORE', log, call) then return {1, tostring(now)} end
end
for j = 0, nb - 1 do
  local h, rh, rz = KEYS[bk + 1 + 3 * j], KEYS[bk + 2 + 3 * j], KEYS[bk + 3 + 3 * j]
  prune_budget(h, rh, rz, tonumber(ARGV[ba + 4 + 6 * j]))
  if redis.call('ZSCORE', rz, call) then return {1, tostring(now)} end
end
for i = 0, nr - 1 do
  local log, tok, par = KEYS[1 + 3 * i], KEYS[2 + 3 * i], KEYS[3 + 3 * i]
  local rpm = tonumber(ARGV[5 + 4 * i])
  local tpm = tonumber(ARGV[6 + 4 * i])
  local maxp = tonumber(ARGV[7 + 4 * i])
  if rpm >= 0 and redis.call('ZCARD', log) >= rpm then
    local first = redis.call('ZRANGE', log, 0, 0, 'WITHSCORES')
    return {0, 'rpm', i, tostring(tonumber(first[2]) + W - now)}
  end
  if tpm >= 0 then
    local sum = num(redis.call('HGET', tok, '_sum'))
    if sum + tokens > tpm then
      local retry = W
      if tokens <= tpm then
        local entries = redis.call('ZRANGE', log, 0, -1, 'WITHSCORES')
        local freed = 0
        for k = 1, #entries, 2 do
          freed = freed + num(redis.call('HGET', tok, entries[k]))
          if sum - freed + tokens <= tpm then
            retry = tonumber(entries[k + 1]) + W - now
            break
          end
        end
      end
      return {0, 'tpm', i, tostring(retry)}
    end
  end
  if maxp >= 0 and redis.call('ZCARD', par) >= maxp then
    return {0, 'parallel', i, '0'}
  end
end
for j = 0, nb - 1 do
  local h, rh = KEYS[bk + 1 + 3 * j], KEYS[bk + 2 + 3 * j]
  local a = ba + 6 * j
  local limit, cost, floor = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local window_s, ends_at = tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5])
  local spent = math.max(num(redis.call('HGET', h, 'total')), floor)
  local reserved = num(redis.call('HGET', rh, '_sum'))
  if spent + reserved + cost > limit then
    local retry = W
    if spent + cost <= limit then
      retry = 0
    elseif window_s > 0 and redis.call('HEXISTS', h, 'next_expiry') == 1 then
      retry = tonumber(redis.call('HGET', h, 'next_expiry')) - now
    elseif ends_at > 0 then
      retry = ends_at - now
    end
    return {0, 'budget', j, tostring(retry), spent, reserved}
  end
end
for i = 0, nr - 1 do
  local log, tok, par = KEYS[1 + 3 * i], KEYS[2 + 3 * i], KEYS[3 + 3 * i]
  local maxp = tonumber(ARGV[7 + 4 * i])
  local lease = tonumber(ARGV[8 + 4 * i])
  redis.call('ZADD', log, now, call)
  redis.call('HSET', tok, call, tokens)
  redis.call('HINCRBY', tok, '_sum', tokens)
  local ttl = math.ceil((W + lease) * 1000) + 1000
  redis.call('PEXPIRE', log, ttl)
  redis.call('PEXPIRE', tok, ttl)
  if maxp >= 0 then
    redis.call('ZADD', par, now + lease, call)
    redis.call('PEXPIRE', par, ttl)
  end
end
for j = 0, nb - 1 do
  local rh, rz = KEYS[bk + 2 + 3 * j], KEYS[bk + 3 + 3 * j]
  local a = ba + 6 * j
  local cost, lease = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 6])
  redis.call('ZADD', rz, now + lease, call)
  redis.call('HSET', rh, call, cost)
  redis.call('HINCRBY', rh, '_sum', cost)
  local ttl = math.ceil(lease * 1000) + 1000
  redis.call('PEXPIRE', rz, ttl)
  redis.call('PEXPIRE', rh, ttl)
end
return {1, tostring(now)}
"""
)

SETTLE = (
    _PRELUDE
    + """
-- KEYS[1]: the call's settled marker; then 3 keys per rate subject, 3 per budget counter.
-- ARGV: call, tokens, n_rates, n_budgets, marker_ttl_s,
--   per budget: window_s, ends_at, amount
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[5]) then return 0 end
local call = ARGV[1]
local tokens = tonumber(ARGV[2])
local nr = tonumber(ARGV[3])
local nb = tonumber(ARGV[4])
for i = 0, nr - 1 do
  local tok, par = KEYS[3 + 3 * i], KEYS[4 + 3 * i]
  local held = redis.call('HGET', tok, call)
  if held then
    redis.call('HSET', tok, call, tokens)
    redis.call('HINCRBY', tok, '_sum', tokens - tonumber(held))
  end
  redis.call('ZREM', par, call)
end
local bk = 1 + 3 * nr
for j = 0, nb - 1 do
  local h, rh, rz = KEYS[bk + 1 + 3 * j], KEYS[bk + 2 + 3 * j], KEYS[bk + 3 + 3 * j]
  local window_s, ends_at = tonumber(ARGV[6 + 3 * j]), tonumber(ARGV[7 + 3 * j])
  local cost = tonumber(ARGV[8 + 3 * j])
  prune_budget(h, rh, rz, window_s)
  local held = redis.call('HGET', rh, call)
  if held then
    redis.call('HDEL', rh, call)
    redis.call('HINCRBY', rh, '_sum', -tonumber(held))
    redis.call('ZREM', rz, call)
  end
  if cost > 0 then
    local bucket = 0
    local ttl = 0
    if window_s > 0 then
      local width = window_s / 60
      bucket = math.floor(now / width)
      if redis.call('HEXISTS', h, 'next_expiry') == 0 then
        redis.call('HSET', h, 'next_expiry', (bucket + 1) * width + window_s)
      end
      ttl = window_s + width
    else
      ttl = math.max(ends_at - now, 0) + 86400
    end
    redis.call('HINCRBY', h, 'b' .. bucket, cost)
    redis.call('HINCRBY', h, 'total', cost)
    redis.call('PEXPIRE', h, math.ceil(ttl * 1000))
  end
end
return 1
"""
)
