-- wrk script for the long mixed-load run of bench/http (--soak): reads and writes interleaved,
-- roughly as a helpdesk sees them: 45 % get, 20 % list, 5 % search, 10 % create, 10 % reply, 10 % patch.
local lib = dofile(os.getenv("BENCH_LUA_DIR") .. "/lib.lua")
local reqs = {}
local counter = 0
function init(args)
  math.randomseed(os.time())
  local tickets, brands = lib.tickets(), lib.brands()
  local mix = { get = 45, list = 20, search = 5, create = 10, reply = 10, patch = 10 }
  for kind, weight in pairs(mix) do
    for i = 1, weight * 100 do
      local source = (kind == "list" or kind == "search" or kind == "create") and brands or tickets
      reqs[#reqs + 1] = lib[kind](source[math.random(#source)])
    end
  end
  -- Shuffle so that the kinds interleave.
  for i = #reqs, 2, -1 do
    local j = math.random(i)
    reqs[i], reqs[j] = reqs[j], reqs[i]
  end
end
function request()
  counter = counter + 1
  return reqs[(counter % #reqs) + 1]
end
done = lib.report
