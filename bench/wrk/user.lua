-- GET /user with `Authorization: token <t>`, cycling through BENCH_TOKENS. Expects 200.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local bench = dofile(dir .. "common.lua")

bench.install {
   scenario = "user",
   expect = 200,
   tokens = true,
   build = function(token)
      return wrk.format("GET", "/user", { ["Authorization"] = "token " .. token }, nil)
   end,
}
