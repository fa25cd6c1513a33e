-- A booking page's flow: hold a slot (POST /holds), then book it with the hold's token
-- (POST /schedule with "hold"). Slots as in book.lua, none asked for twice; each wrk thread
-- keeps the tokens its holds answered and books one of them at its next request, so about
-- half the requests are holds and half bookings. Arguments: threads, the first day (days after
-- 2040-01-01). The server needs BOOKING_MAX_HOLDS_PER_CLIENT=0 (all requests come from one
-- address). Used by hand (docs/performance.md, "Holds"):
--   wrk -t2 -c64 -d6s -s crates/booking-bench/wrk/hold-book.lua URL -- 2 DAY
local threads = 0

function setup(thread)
  thread:set("first", threads)
  threads = threads + 1
end

function init(args)
  n = first
  stride = tonumber(args[1]) or 1
  base = os.time({year = 2040, month = 1, day = 1, hour = 12}) + (tonumber(args[2]) or 0) * 86400
  held = {}
end

function request()
  local ready = table.remove(held)
  if ready then
    local body = string.format(
      '{"client_name":"Load Test","date":"%s","time":"%s","resource":"%s","hold":"%s"}',
      ready.date, ready.time, ready.resource, ready.token)
    return wrk.format("POST", "/schedule", {["Content-Type"] = "application/json"}, body)
  end
  local slot = n
  n = n + stride
  local rest = math.floor(slot / 20)
  local minute = 9 * 60 + (rest % 16) * 30
  local body = string.format('{"date":"%s","time":"%02d:%02d","resource":"r%d"}',
    os.date("!%Y-%m-%d", base + math.floor(rest / 16) * 86400),
    math.floor(minute / 60), minute % 60, slot % 20)
  return wrk.format("POST", "/holds", {["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  local token = body:match('"token":"([^"]+)"')
  if status == 201 and token then
    -- The hold's slot, from its answer (requests of the thread's connections interleave).
    local hold = {token = token}
    hold.date = body:match('"date":"([^"]+)"')
    hold.time = body:match('"time":"([^"]+)"')
    hold.resource = body:match('"resource":"([^"]+)"')
    if hold.date and hold.time and hold.resource then table.insert(held, hold) end
  end
end
