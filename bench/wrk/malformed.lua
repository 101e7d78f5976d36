-- The check endpoint with tokens whose checksum is wrong (BENCH_TOKENS from
-- `bench/gen-tokens.py --bad-checksum`): grantd can refuse them, 404, without any lookup.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "check-variant.lua")("malformed", 404)
