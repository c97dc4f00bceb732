-- wrk script for the "search" path of bench/http (requests built by lib.lua).
local lib = dofile(os.getenv("BENCH_LUA_DIR") .. "/lib.lua")
lib.script("search", 5000)
