-- wrk script: every seeded ticket in turn (bench:http's get cycles 5,000 random ones), so that
-- a run of it reads tickets no cache of the server holds yet.
local lib = dofile(os.getenv("BENCH_LUA_DIR") .. "/lib.lua")
local reqs = {}
local counter = 0
init = function(args)
  for _, t in ipairs(lib.tickets()) do reqs[#reqs + 1] = lib.get(t) end
end
request = function()
  counter = counter + 1
  return reqs[(counter % #reqs) + 1]
end
done = lib.report
