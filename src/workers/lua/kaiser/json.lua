-- A small JSON decoder for KAISER_CONFIG (objects, arrays, strings with escapes, numbers, true/false/null → nil).
local M = {}

local function skip(s, i)
  return s:find('[^ \t\r\n]', i) or #s + 1
end

local escapes = { ['"'] = '"', ['\\'] = '\\', ['/'] = '/', b = '\b', f = '\f', n = '\n', r = '\r', t = '\t' }

local function utf8(cp)
  if cp < 0x80 then return string.char(cp) end
  if cp < 0x800 then return string.char(0xC0 + math.floor(cp / 64), 0x80 + cp % 64) end
  if cp < 0x10000 then
    return string.char(0xE0 + math.floor(cp / 4096), 0x80 + math.floor(cp / 64) % 64, 0x80 + cp % 64)
  end
  return string.char(0xF0 + math.floor(cp / 262144), 0x80 + math.floor(cp / 4096) % 64, 0x80 + math.floor(cp / 64) % 64, 0x80 + cp % 64)
end

local value

local function str(s, i)
  local out, j = {}, i + 1
  while true do
    local c = s:sub(j, j)
    if c == '' then error('unterminated string') end
    if c == '"' then return table.concat(out), j + 1 end
    if c == '\\' then
      local e = s:sub(j + 1, j + 1)
      if e == 'u' then
        local cp = tonumber(s:sub(j + 2, j + 5), 16) or error('bad \\u escape')
        if cp >= 0xD800 and cp < 0xDC00 and s:sub(j + 6, j + 7) == '\\u' then
          local lo = tonumber(s:sub(j + 8, j + 11), 16)
          cp = 0x10000 + (cp - 0xD800) * 1024 + (lo - 0xDC00)
          j = j + 6
        end
        out[#out + 1] = utf8(cp)
        j = j + 6
      else
        out[#out + 1] = escapes[e] or error('bad escape \\' .. e)
        j = j + 2
      end
    else
      local k = s:find('["\\]', j) or #s + 1
      out[#out + 1] = s:sub(j, k - 1)
      j = k
    end
  end
end

-- The items of an object or array, from just after its opening bracket: `item(j)` reads one starting at j and
-- returns where it ends; items are separated by ',' and the list ends at `close`. Returns the index after `close`.
local function items(s, i, close, item)
  i = skip(s, i)
  if s:sub(i, i) == close then return i + 1 end
  while true do
    i = skip(s, item(i))
    local d = s:sub(i, i)
    if d == close then return i + 1 end
    if d ~= ',' then error('expected , or ' .. close .. ' at ' .. i) end
    i = i + 1
  end
end

value = function(s, i)
  i = skip(s, i)
  local c = s:sub(i, i)
  if c == '{' then
    local t = {}
    return t, items(s, i + 1, '}', function(j)
      local k
      k, j = str(s, skip(s, j))
      j = skip(s, j)
      if s:sub(j, j) ~= ':' then error('expected : at ' .. j) end
      t[k], j = value(s, j + 1)
      return j
    end)
  elseif c == '[' then
    local t = {}
    return t, items(s, i + 1, ']', function(j)
      local v
      v, j = value(s, j)
      t[#t + 1] = v
      return j
    end)
  elseif c == '"' then
    return str(s, i)
  elseif s:sub(i, i + 3) == 'true' then return true, i + 4
  elseif s:sub(i, i + 4) == 'false' then return false, i + 5
  elseif s:sub(i, i + 3) == 'null' then return nil, i + 4
  end
  local num = s:match('^-?%d+%.?%d*[eE]?[-+]?%d*', i)
  if not num or num == '' then error('unexpected character at ' .. i) end
  return tonumber(num), i + #num
end

function M.decode(s)
  local v, i = value(s, 1)
  if skip(s, i) <= #s then error('trailing characters at ' .. i) end
  return v
end

function M.encode_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return ({ ['"'] = '\\"', ['\\'] = '\\\\', ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' })[c]
      or string.format('\\u%04x', c:byte())
  end) .. '"'
end

return M
