-- wrk script for the "create" path of bench/http (requests built by lib.lua).
local lib = dofile(os.getenv("BENCH_LUA_DIR") .. "/lib.lua")
lib.script("create", 5000)
