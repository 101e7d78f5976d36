-- The check endpoint with tokens that are well-formed (valid checksum) but not stored
-- (BENCH_TOKENS from bench/gen-tokens.py): grantd must look them up and answer 404.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "check-variant.lua")("unknown", 404)
