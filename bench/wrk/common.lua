-- Shared by every bench/wrk scenario script (loaded with dofile from the script's directory).
--
-- Configuration comes from the environment (wrk's Lua has os.getenv):
--   BENCH_TOKENS         file of tokens, one a line (check/user/unknown/malformed scripts)
--   BENCH_CLIENT_ID      the app's client id  (check-style scripts: Basic auth and the path)
--   BENCH_CLIENT_SECRET  the app's client secret
--   BENCH_LOGIN          user login    (create/list: Basic auth)
--   BENCH_PASSWORD       user password (create/list)
--   BENCH_EXPECT         the status every response must have (default: the script's own)
--   BENCH_SCENARIO       a label copied into the RESULT line
--   BENCH_VERIFY=1       count every response's status (slower: wrk then parses each
--                        response); the bench uses it for warm-up only
--   BENCH_RUN_ID         makes create's notes unique across runs on the same database
--
-- done() prints one line on stdout:
--   RESULT {"scenario":..,"requests_per_sec":..,"p50_ms":..,"p99_ms":..,"errors":..,"non_2xx":..,"ok":true|false,...}
-- where non_2xx counts statuses > 399 (wrk's summary.errors.status) and errors the socket errors
-- and timeouts. A scenario that expects 2xx and sees any non-2xx or socket error prints a loud
-- FAIL line on stderr and "ok":false.

local M = {}

function M.env(name, default)
   local value = os.getenv(name)
   if value == nil or value == "" then
      if default == nil then
         io.stderr:write("bench/wrk: environment variable " .. name .. " is required\n")
         os.exit(2)
      end
      return default
   end
   return value
end

function M.read_lines(path)
   local file, err = io.open(path, "r")
   if not file then
      io.stderr:write("bench/wrk: cannot open " .. path .. ": " .. tostring(err) .. "\n")
      os.exit(2)
   end
   local lines = {}
   for line in file:lines() do
      line = line:gsub("%s+$", "")
      if line ~= "" then lines[#lines + 1] = line end
   end
   file:close()
   if #lines == 0 then
      io.stderr:write("bench/wrk: " .. path .. " holds no tokens\n")
      os.exit(2)
   end
   return lines
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

function M.base64(data)
   local out = {}
   for i = 1, #data, 3 do
      local a, b, c = data:byte(i, i + 2)
      local n = a * 65536 + (b or 0) * 256 + (c or 0)
      local c1 = math.floor(n / 262144) % 64
      local c2 = math.floor(n / 4096) % 64
      local c3 = math.floor(n / 64) % 64
      local c4 = n % 64
      out[#out + 1] = B64:sub(c1 + 1, c1 + 1) .. B64:sub(c2 + 1, c2 + 1)
         .. (b and B64:sub(c3 + 1, c3 + 1) or "=") .. (c and B64:sub(c4 + 1, c4 + 1) or "=")
   end
   return table.concat(out)
end

function M.basic(user, password)
   return "Basic " .. M.base64(user .. ":" .. password)
end

-- Installs setup/init/request/response/done as globals.
--   scenario         default label
--   expect           default expected status
--   build(token)     returns a complete request string for one token (pre-built in init), or
--   dynamic(tid, n)  returns a request string built per request (n counts this thread's requests)
--   tokens           true when the script cycles through BENCH_TOKENS
function M.install(spec)
   local threads = {}
   local next_tid = 0

   function setup(thread)
      thread:set("tid", next_tid)
      next_tid = next_tid + 1
      table.insert(threads, thread)
   end

   local requests_list, count, index, sent = nil, 0, 1, 0

   function init(args)
      tid = tid or 0
      statuses = {}
      if spec.tokens then
         local tokens = M.read_lines(M.env("BENCH_TOKENS"))
         requests_list = {}
         for i, token in ipairs(tokens) do requests_list[i] = spec.build(token) end
         count = #requests_list
         -- Every thread starts somewhere else in the list (golden-ratio spacing).
         local frac = (tid * 0.6180339887498949) % 1
         index = math.floor(frac * count) + 1
      end
      if os.getenv("BENCH_VERIFY") ~= "1" then response = nil end
   end

   function request()
      if requests_list then
         local req = requests_list[index]
         index = index + 1
         if index > count then index = 1 end
         return req
      end
      sent = sent + 1
      return spec.dynamic(tid, sent)
   end

   function response(status, headers, body)
      statuses[status] = (statuses[status] or 0) + 1
   end

   function done(summary, latency, requests)
      local expect = tonumber(M.env("BENCH_EXPECT", tostring(spec.expect)))
      local scenario = M.env("BENCH_SCENARIO", spec.scenario)
      local e = summary.errors
      local socket_errors = e.connect + e.read + e.write + e.timeout
      local seconds = summary.duration / 1e6
      local rps = summary.requests / seconds
      -- Status counts, when BENCH_VERIFY=1 made the threads keep them.
      local counts, unexpected, verified = {}, 0, false
      for _, thread in ipairs(threads) do
         local s = thread:get("statuses")
         if type(s) == "table" then
            for code, n in pairs(s) do
               verified = true
               counts[code] = (counts[code] or 0) + n
               if code ~= expect then unexpected = unexpected + n end
            end
         end
      end
      local ok
      if expect < 400 then
         ok = summary.requests > 0 and e.status == 0 and socket_errors == 0
      else
         ok = summary.requests > 0 and e.status == summary.requests and socket_errors == 0
      end
      if verified and unexpected > 0 then ok = false end
      local parts = {}
      for code, n in pairs(counts) do parts[#parts + 1] = string.format('"%d":%d', code, n) end
      table.sort(parts)
      io.write(string.format(
         'RESULT {"scenario":"%s","expect":%d,"requests":%d,"duration_s":%.3f,' ..
         '"requests_per_sec":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,' ..
         '"mean_ms":%.3f,"max_ms":%.3f,"bytes":%d,"errors":%d,"errors_connect":%d,' ..
         '"errors_read":%d,"errors_write":%d,"errors_timeout":%d,"non_2xx":%d,' ..
         '"statuses":%s,"ok":%s}\n',
         scenario, expect, summary.requests, seconds, rps,
         latency:percentile(50) / 1000, latency:percentile(90) / 1000,
         latency:percentile(99) / 1000, latency.mean / 1000, latency.max / 1000,
         summary.bytes, socket_errors, e.connect, e.read, e.write, e.timeout, e.status,
         verified and ("{" .. table.concat(parts, ",") .. "}") or "null",
         ok and "true" or "false"))
      if not ok then
         io.stderr:write(string.format(
            "\n!!! BENCH FAILURE in %s: expected every response to be %d; %d requests, " ..
            "%d with status > 399, %d socket errors/timeouts%s\n\n",
            scenario, expect, summary.requests, e.status, socket_errors,
            verified and (", statuses {" .. table.concat(parts, ",") .. "}") or ""))
      end
   end
end

return M
