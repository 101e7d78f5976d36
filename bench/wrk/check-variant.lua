-- check.lua under another label and expected status (used by unknown.lua and malformed.lua).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
return function(scenario, expect)
   local bench = dofile(dir .. "common.lua")
   local client_id = bench.env("BENCH_CLIENT_ID")
   local path = "/applications/" .. client_id .. "/token"
   local headers = {
      ["Authorization"] = bench.basic(client_id, bench.env("BENCH_CLIENT_SECRET")),
      ["Content-Type"] = "application/json",
   }
   bench.install {
      scenario = scenario,
      expect = expect,
      tokens = true,
      build = function(token)
         return wrk.format("POST", path, headers, '{"access_token":"' .. token .. '"}')
      end,
   }
end
