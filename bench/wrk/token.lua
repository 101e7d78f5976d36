-- The token endpoint (bench/token-endpoint): one form-encoded POST per prepared line (an
-- authorization code, a refresh token, a device code), each line sent once; every answer's
-- body is read and classified. Used for grantd and oidc-provider alike.
--
-- Environment:
--   BENCH_LINES   file of prepared codes or tokens, one a line; the threads share it out
--                 (thread t sends lines t, t+T, ...); a thread that runs out starts over, and
--                 the reused lines then get error answers, which count as bad
--   BENCH_PATH    the token endpoint's path
--   BENCH_BODY    the form body, with %s where the line goes (already URL-safe)
--   BENCH_OK      comma-separated strings; an answer whose body holds one of them is good,
--                 counted under that string (e.g. "access_token" or
--                 "authorization_pending,slow_down")
--   BENCH_SAVE    optional file prefix: each thread appends the access tokens it got to
--                 PREFIX.<thread> (the bench checks afterwards that each is committed)
--   BENCH_SCENARIO  a label for the RESULT line
--
-- done() prints one line:
--   RESULT {"scenario":..,"requests":..,"duration_s":..,"requests_per_sec":..,"good_per_sec":..,
--           "good":..,"bad":..,"answers":{..},"p50_ms":..,"p99_ms":..,"errors":..,"ok":true|false}
-- ok is false if any answer was bad, any status was not 200 or any socket error happened.

local function env(name, default)
   local value = os.getenv(name)
   if value == nil or value == "" then
      if default == nil then
         io.stderr:write("bench/wrk/token.lua: " .. name .. " is required\n")
         os.exit(2)
      end
      return default
   end
   return value
end

local threads = {}
local next_tid = 0

function setup(thread)
   thread:set("tid", next_tid)
   next_tid = next_tid + 1
   table.insert(threads, thread)
end

local requests_list, index = {}, 1
local wanted = {}
local save = nil

function init(args)
   tid = tid or 0
   counts = {}
   bad = 0
   bad_sample = nil
   local total = tonumber(env("BENCH_THREADS", "1"))
   local path = env("BENCH_PATH")
   local body = env("BENCH_BODY")
   local headers = "Host: 127.0.0.1\r\nAccept: application/json\r\n"
      .. "Content-Type: application/x-www-form-urlencoded\r\n"
   local n = 0
   for line in io.lines(env("BENCH_LINES")) do
      if line ~= "" then
         if n % total == tid then
            local form = string.format(body, line)
            requests_list[#requests_list + 1] = "POST " .. path .. " HTTP/1.1\r\n" .. headers
               .. "Content-Length: " .. #form .. "\r\n\r\n" .. form
         end
         n = n + 1
      end
   end
   if #requests_list == 0 then
      io.stderr:write("bench/wrk/token.lua: no lines for thread " .. tid .. "\n")
      os.exit(2)
   end
   for s in string.gmatch(env("BENCH_OK"), "[^,]+") do wanted[#wanted + 1] = s end
   local prefix = os.getenv("BENCH_SAVE")
   if prefix and prefix ~= "" then save = io.open(prefix .. "." .. tid, "w") end
end

function request()
   local req = requests_list[index]
   index = index + 1
   if index > #requests_list then index = 1 end
   return req
end

function response(status, headers, body)
   local kind = nil
   if status == 200 then
      for _, s in ipairs(wanted) do
         if string.find(body, s, 1, true) then kind = s break end
      end
   end
   if kind then
      counts[kind] = (counts[kind] or 0) + 1
      if save and kind == "access_token" then
         local token = string.match(body, '"access_token":"([^"]+)"')
         if token then save:write(token, "\n") end
      end
   else
      bad = bad + 1
      if not bad_sample then bad_sample = status .. " " .. string.sub(body, 1, 200) end
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   local socket_errors = e.connect + e.read + e.write + e.timeout
   local seconds = summary.duration / 1e6
   local totals, good, bad_total, sample = {}, 0, 0, nil
   for _, thread in ipairs(threads) do
      local c = thread:get("counts")
      if type(c) == "table" then
         for k, n in pairs(c) do
            totals[k] = (totals[k] or 0) + n
            good = good + n
         end
      end
      bad_total = bad_total + (thread:get("bad") or 0)
      sample = sample or thread:get("bad_sample")
   end
   local parts = {}
   for k, n in pairs(totals) do parts[#parts + 1] = string.format('"%s":%d', k, n) end
   table.sort(parts)
   local ok = good > 0 and bad_total == 0 and socket_errors == 0 and e.status == 0
   io.write(string.format(
      'RESULT {"scenario":"%s","requests":%d,"duration_s":%.3f,"requests_per_sec":%.1f,' ..
      '"good_per_sec":%.1f,"good":%d,"bad":%d,"answers":{%s},"p50_ms":%.3f,"p99_ms":%.3f,' ..
      '"errors":%d,"non_2xx":%d,"ok":%s}\n',
      env("BENCH_SCENARIO", "token"), summary.requests, seconds, summary.requests / seconds,
      good / seconds, good, bad_total, table.concat(parts, ","),
      latency:percentile(50) / 1000, latency:percentile(99) / 1000,
      socket_errors, e.status, ok and "true" or "false"))
   if not ok then
      io.stderr:write(string.format(
         "\n!!! BENCH FAILURE in %s: %d good, %d bad answers, %d socket errors; first bad: %s\n\n",
         env("BENCH_SCENARIO", "token"), good, bad_total, socket_errors, tostring(sample)))
   end
end
