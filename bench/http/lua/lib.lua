-- Shared by the wrk scripts of bench/http: inputs, request bodies, and the machine-readable report.
-- Inputs (written by the seeders): BENCH_IDS lines "<ticket id> <token> <brand id>",
-- BENCH_TOKENS lines "<brand id> <token>". Every request is built once in init().
local M = {}

M.words = {"account","access","login","password","reset","email","invoice","billing","charge","refund",
  "card","payment","declined","order","shipping","delivery","tracking","package","damaged","missing","return",
  "exchange","subscription","cancel","upgrade","plan","error","crash","slow","mobile","app","android","browser",
  "update","sync","export","import","report","dashboard","integration","webhook","notification","settings",
  "profile","address","phone","verify","locked","support","urgent","help","question","feature","request","bug",
  "issue","problem","unable","wrong","duplicate","late","discount","coupon","tax","receipt"}
M.tags = {"billing","login","mobile","refund","shipping","vip","bug","feature","api","password-reset"}

function M.sentence(n)
  local t = {}
  for i = 1, n do t[i] = M.words[math.random(#M.words)] end
  return table.concat(t, " ")
end

-- { {id=, token=, brand=}, ... }
function M.tickets()
  local out = {}
  for line in io.lines(os.getenv("BENCH_IDS")) do
    local id, tok, brand = line:match("^(%S+)%s+(%S+)%s+(%S+)$")
    if id then out[#out + 1] = { id = id, token = tok, brand = brand } end
  end
  return out
end

-- { {brand=, token=}, ... }
function M.brands()
  local out = {}
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    local brand, tok = line:match("^(%S+)%s+(%S+)$")
    if tok then out[#out + 1] = { brand = brand, token = tok } end
  end
  return out
end

function M.auth(token, json)
  local h = { ["Authorization"] = "Bearer " .. token }
  if json then h["Content-Type"] = "application/json" end
  return h
end

-- The request builders, one per path; each returns a ready-to-send request string.
function M.get(t) return wrk.format("GET", "/v1/tickets/" .. t.id, M.auth(t.token)) end

function M.list(b)
  return wrk.format("GET", "/v1/tickets?brand_id=" .. b.brand .. "&status=open&limit=20", M.auth(b.token))
end

function M.search(b)
  local body = string.format('{"query":"%s","mode":"keyword","filters":{"brand_id":"%s"},"limit":20}', M.sentence(2), b.brand)
  return wrk.format("POST", "/v1/tickets/search", M.auth(b.token, true), body)
end

-- ~600-byte bodies shaped like the seeded tickets (subject, description, priority, tags, customer, metadata).
function M.create(b)
  local tg = {}
  local seen = {}
  for k = 1, math.random(0, 3) do
    local tag = M.tags[math.random(#M.tags)]
    if not seen[tag] then seen[tag] = true; tg[#tg + 1] = '"' .. tag .. '"' end
  end
  local prios = {"low", "normal", "normal", "high", "urgent"}
  local body = string.format(
    '{"brand_id":"%s","subject":"%s","description":"%s","priority":"%s","tags":[%s],"customer":{"email":"customer%d@example.com","name":"Casey Jones"},"metadata":{"channel":"web","customer_id":"cust_%010d","locale":"en-US"}}',
    b.brand, M.sentence(math.random(4, 8)), M.sentence(math.random(25, 54)), prios[math.random(#prios)],
    table.concat(tg, ","), math.random(0, 200000), math.random(0, 2000000000))
  return wrk.format("POST", "/v1/tickets", M.auth(b.token, true), body)
end

function M.reply(t)
  local body = string.format('{"author_type":"agent","body":"%s","author":{"email":"agent1@support.example.com","name":"Agent"}}', M.sentence(math.random(15, 35)))
  return wrk.format("POST", "/v1/tickets/" .. t.id .. "/messages", M.auth(t.token, true), body)
end

local changes = {'{"status":"pending"}', '{"status":"open"}', '{"status":"resolved"}',
  '{"priority":"low"}', '{"priority":"normal"}', '{"priority":"high"}', '{"priority":"urgent"}'}
function M.patch(t)
  return wrk.format("PATCH", "/v1/tickets/" .. t.id, M.auth(t.token, true), changes[math.random(#changes)])
end

-- Sets wrk's hooks: init() fills the requests with build(reqs), request() sends them round and round.
local function serve(build)
  local reqs = {}
  local counter = 0
  init = function(args) build(reqs) end
  request = function()
    counter = counter + 1
    return reqs[(counter % #reqs) + 1]
  end
  done = M.report
end

-- One path's script: N requests built from tickets (get, reply, patch) or brands (list, search, create).
function M.script(kind, n)
  serve(function(reqs)
    math.randomseed(os.time())
    local source = (kind == "list" or kind == "search" or kind == "create") and M.brands() or M.tickets()
    for i = 1, n do reqs[i] = M[kind](source[math.random(#source)]) end
  end)
end

-- One path's script over every sampled ticket in turn, in the file's order.
function M.each(kind)
  serve(function(reqs)
    for _, t in ipairs(M.tickets()) do reqs[#reqs + 1] = M[kind](t) end
  end)
end

-- wrk done(): one line of JSON, latencies in ms, and the non-2xx/3xx count.
function M.report(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_s":%.3f,"rps":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"mean_ms":%.3f,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,"bytes":%d}\n',
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, latency.mean / 1000,
    e.connect, e.read, e.write, e.status, e.timeout, summary.bytes))
end

return M
