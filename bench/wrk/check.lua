-- POST /applications/{client_id}/token with the tokens of BENCH_TOKENS, in turn: the check
-- endpoint, Basic auth with the app's client id and secret, body {"access_token":"..."}.
-- Expects 200 (see common.lua for the environment it reads and the RESULT line it prints).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "check-variant.lua")("check", 200)
