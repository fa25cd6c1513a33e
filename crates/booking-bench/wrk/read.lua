-- Reads appointments by id: GET /appointment/{id}, the ids taken in turn from the files that
-- book.lua wrote into the directory given as the first argument.
function init(args)
  ids = {}
  local listing = io.popen("cat " .. args[1] .. "/ids-*.txt")
  for line in listing:lines() do ids[#ids + 1] = line end
  listing:close()
  n = math.random(#ids)
end

function request()
  n = n % #ids + 1
  return wrk.format("GET", "/appointment/" .. ids[n])
end
