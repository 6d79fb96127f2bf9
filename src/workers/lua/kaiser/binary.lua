-- Little-endian packing for the scoreboard (Lua 5.1 has no string.pack): u32, u64 (exact below 2^53) and the
-- IEEE 754 double of a request's start time.
local M = {}
local char, floor, frexp = string.char, math.floor, math.frexp

function M.u32(n)
  n = floor(n) % 4294967296
  return char(n % 256, floor(n / 256) % 256, floor(n / 65536) % 256, floor(n / 16777216) % 256)
end

function M.u64(n)
  n = floor(n)
  return M.u32(n % 4294967296) .. M.u32(floor(n / 4294967296))
end

function M.f64(x)
  if x == 0 then return string.rep('\0', 8) end
  local sign = 0
  if x < 0 then sign = 1; x = -x end
  local m, e = frexp(x)              -- x = m * 2^e, 0.5 <= m < 1
  local exp = e + 1022                -- biased exponent of 1.m form
  local frac = (m * 2 - 1) * 2 ^ 52   -- the 52 fraction bits, as an integer
  local lo = frac % 4294967296
  local hi = floor(frac / 4294967296) + (exp % 2048) * 1048576 + sign * 2147483648
  return M.u32(lo) .. M.u32(hi)
end

return M
