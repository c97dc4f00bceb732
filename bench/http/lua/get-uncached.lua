-- wrk script: every seeded ticket in turn (bench:http's get cycles 5,000 random ones), so that
-- a run of it reads tickets no cache of the server holds yet.
local lib = dofile(os.getenv("BENCH_LUA_DIR") .. "/lib.lua")
lib.each("get")
