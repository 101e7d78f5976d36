-- POST /authorizations with Basic login:password (argon2 on every request), scopes ["repo"]
-- and a note unique per request (run id, thread, counter) so that none collide. Expects 201.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local bench = dofile(dir .. "common.lua")

local headers = {
   ["Authorization"] = bench.basic(bench.env("BENCH_LOGIN"), bench.env("BENCH_PASSWORD")),
   ["Content-Type"] = "application/json",
}
local run_id = bench.env("BENCH_RUN_ID", tostring(os.time()))

bench.install {
   scenario = "create",
   expect = 201,
   dynamic = function(tid, n)
      local body = string.format('{"scopes":["repo"],"note":"bench %s-%d-%d"}', run_id, tid, n)
      return wrk.format("POST", "/authorizations", headers, body)
   end,
}
