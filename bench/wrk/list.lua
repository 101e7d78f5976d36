-- GET /authorizations (the first page, 30 entries) with Basic login:password: argon2 on every
-- request. Expects 200.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local bench = dofile(dir .. "common.lua")

local headers = {
   ["Authorization"] = bench.basic(bench.env("BENCH_LOGIN"), bench.env("BENCH_PASSWORD")),
}
local req = nil

bench.install {
   scenario = "list",
   expect = 200,
   dynamic = function()
      req = req or wrk.format("GET", "/authorizations", headers, nil)
      return req
   end,
}
