-- The frequency cap for many messages of one seller, decided in order: at most `most`
-- messages in any window of `window` ms; each message is decided once, and a customer
-- asked twice sees the first answer's write. Same rule as
-- services/quota/domain/frequency_cap.py `decide`.
--
-- The seller's history is kept in hashes by period (a week of `at`, keys.py `cap_period`),
-- customer -> that customer's decisions of the period, each `<s|r><ms>:<length>:<message>`
-- (s sent, r refused, ms the time asked). A customer never messaged (most of a fan-out)
-- costs a field read per period and one field written, no key of its own.
--
-- KEYS: the periods that may hold a decision within two windows of `at`, oldest first.
-- ARGV: at (ms), window (ms), max_messages, the index in KEYS of at's period, keep that
-- period until (ms), then customer_id, message_id of each message.
-- Answers one character per message: a allowed, A allowed before (repeated), c capped,
-- C capped before (repeated).
local at, window, most = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local own, keep_until = tonumber(ARGV[4]), ARGV[5]
local count = (#ARGV - 5) / 2
-- Each customer once (a page may ask about one twice).
local customers, seen = {}, {}
for i = 1, count do
  local c = ARGV[4 + 2 * i]
  if not seen[c] then
    seen[c] = true
    customers[#customers + 1] = c
  end
end

-- Each customer's decisions in the other periods (joined) and in at's period.
local others, mine = {}, {}
local read = {}
for k = 1, #KEYS do
  if redis.call('EXISTS', KEYS[k]) == 1 then
    read[#read + 1] = { k, redis.call('HMGET', KEYS[k], unpack(customers)) }
  end
end
for _, period in ipairs(read) do
  local values = period[2]
  for i = 1, #customers do
    local value = values[i]
    if value then
      local c = customers[i]
      if period[1] == own then
        mine[c] = value
      else
        others[c] = (others[c] or '') .. value
      end
    end
  end
end

-- Is `message` decided already ('A'/'C'), or would a window holding `at` be full?
local function judge(history, message)
  local sent, refused = false, false
  local times = {}
  local pos, n = 1, #history
  while pos <= n do
    local colon = string.find(history, ':', pos + 1, true)
    local after = string.find(history, ':', colon + 1, true)
    local length = tonumber(string.sub(history, colon + 1, after - 1))
    local kind = string.sub(history, pos, pos)
    local ms = tonumber(string.sub(history, pos + 1, colon - 1))
    local id = string.sub(history, after + 1, after + length)
    if kind == 's' then
      if id == message then
        sent = true
      end
      -- Every message a window holding `at` can hold lies in (at - window, at + window).
      if ms > at - window and ms < at + window then
        times[#times + 1] = ms
      end
    elseif id == message then
      refused = true
    end
    pos = after + length + 1
  end
  if sent then
    return 'A'
  end
  if refused then
    return 'C'
  end
  -- The busiest window holding `at` starts at `at` or at a message in (at - window, at].
  local function held(start)
    local held_n = 0
    for _, t in ipairs(times) do
      if t >= start and t < start + window then
        held_n = held_n + 1
      end
    end
    return held_n
  end
  local busiest = held(at)
  for _, t in ipairs(times) do
    if t <= at then
      busiest = math.max(busiest, held(t))
    end
  end
  if busiest >= most then
    return 'c'
  end
  return 'a'
end

-- An entry's head ('s' or 'r', the time, the id's length) is formatted once per kind
-- and length: a page's ids mostly share one length.
local at_ms = string.format('%d', at)
local heads = { s = {}, r = {} }
local function entry(kind, message)
  local length = #message
  local head = heads[kind][length]
  if head == nil then
    head = kind .. at_ms .. ':' .. string.format('%d', length) .. ':'
    heads[kind][length] = head
  end
  return head .. message
end

local answers, written, changed = {}, {}, false
for i = 1, count do
  local c, message = ARGV[4 + 2 * i], ARGV[5 + 2 * i]
  local before, own_before = others[c], mine[c]
  local answer
  if before == nil and own_before == nil then
    -- Never messaged in the periods read (nor earlier in this page).
    answer = most > 0 and 'a' or 'c'
  else
    answer = judge((before or '') .. (own_before or ''), message)
  end
  if answer == 'a' or answer == 'c' then
    if written[c] == nil then
      written[#written + 1] = c
      written[c] = true
    end
    mine[c] = (own_before or '') .. entry(answer == 'a' and 's' or 'r', message)
    changed = true
  end
  answers[i] = answer
end

if changed then
  local fields = {}
  for _, c in ipairs(written) do
    fields[#fields + 1] = c
    fields[#fields + 1] = mine[c]
  end
  redis.call('HSET', KEYS[own], unpack(fields))
  if redis.call('PEXPIRETIME', KEYS[own]) < tonumber(keep_until) then
    redis.call('PEXPIREAT', KEYS[own], keep_until)
  end
end
return table.concat(answers)
