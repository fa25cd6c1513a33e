-- Books slots no other request of the run asks for: wrk's threads take turns through the
-- slots of 20 resources (r0..r19), 16 half-hour slots a day from 09:00, day after day.
-- Arguments: threads, the first day (days after 2040-01-01), and a directory to write the ids
-- of the appointments made (one file per thread), or "-" to write none.
local threads = 0

function setup(thread)
  thread:set("first", threads)
  threads = threads + 1
end

function init(args)
  n = first
  stride = tonumber(args[1]) or 1
  base = os.time({year = 2040, month = 1, day = 1, hour = 12}) + (tonumber(args[2]) or 0) * 86400
  local directory = args[3] or "-"
  if directory == "-" then
    response = nil
  else
    ids = io.open(string.format("%s/ids-%d-%d.txt", directory, tonumber(args[2]) or 0, first), "w")
  end
end

function request()
  local slot = n
  n = n + stride
  local resource = slot % 20
  local rest = math.floor(slot / 20)
  local minute = 9 * 60 + (rest % 16) * 30
  local date = os.date("!%Y-%m-%d", base + math.floor(rest / 16) * 86400)
  local body = string.format(
    '{"client_name":"Load Test","date":"%s","time":"%02d:%02d","resource":"r%d"}',
    date, math.floor(minute / 60), minute % 60, resource)
  return wrk.format("POST", "/schedule", {["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  if status == 201 then
    local id = body:match('"appointment_id":"([^"]+)"')
    if id then ids:write(id, "\n") end
  end
end
