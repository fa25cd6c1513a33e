-- Cancels appointments by id: POST /cancel/{id}, each wrk thread taking every other id (two
-- threads) from the files that book.lua wrote into the directory given as the first argument,
-- so each id is canceled once while there are ids left (then answers turn 409). Used by hand
-- (docs/performance.md, "Cancels"):
--   wrk -t2 -c64 -d3s --latency -s crates/booking-bench/wrk/cancel.lua URL -- IDS_DIRECTORY
local threads = 0
function setup(thread)
  thread:set("first", threads)
  threads = threads + 1
end
function init(args)
  ids = {}
  local listing = io.popen("cat " .. args[1] .. "/ids-*.txt")
  for line in listing:lines() do ids[#ids + 1] = line end
  listing:close()
  n = first
end
function request()
  local id = ids[(n % #ids) + 1]
  n = n + 2
  return wrk.format("POST", "/cancel/" .. id)
end
