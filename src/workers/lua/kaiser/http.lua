-- Requests and responses of the Lua WSAPI worker: HTTP/1.x heads and bodies (Content-Length and chunked) and uwsgi
-- packets parsed from a connection's buffer without blocking (nil until the whole request is in), the WSAPI env,
-- calling the app, and writing its answer (Content-Length when the body is one chunk, chunked on HTTP/1.1 otherwise,
-- close on HTTP/1.0; HEAD and bodiless statuses; 500 for an app that raises), with the scoreboard around it.
local M = {}
local find, sub, byte, upper, lower, format = string.find, string.sub, string.byte, string.upper, string.lower, string.format
local concat = table.concat

local HKEY = {}
local function header_key(name)
  local k = HKEY[name]
  if k then return k end
  k = upper(name):gsub('-', '_')
  if k ~= 'CONTENT_TYPE' and k ~= 'CONTENT_LENGTH' then k = 'HTTP_' .. k end
  HKEY[name] = k
  return k
end

local function unescape(s)
  if not find(s, '%', 1, true) then return s end
  return (s:gsub('%%(%x%x)', function(h) return string.char(tonumber(h, 16)) end))
end

local function copy(t)
  local o = {}
  for k, v in pairs(t) do o[k] = v end
  return o
end

function M.parse_http(c, bufsize, ctx)
  local req = c.pending
  if not req then
    if sub(c.buf, 1, 2) == '\r\n' then c.buf = c.buf:gsub('^[\r\n]+', '') end
    local hend = find(c.buf, '\r\n\r\n', 1, true)
    if not hend then
      if #c.buf > bufsize then return { reject = '431 Request Header Fields Too Large' } end
      return nil
    end
    if hend > bufsize then return { reject = '431 Request Header Fields Too Large' } end
    local le = find(c.buf, '\r\n', 1, true)
    local method, uri, proto = sub(c.buf, 1, le - 1):match('^([%a%-]+) (%S+) (HTTP/1%.%d)$')
    if not method then return { reject = '400 Bad Request' } end
    local env = copy(c.l.template)
    local vars = 0
    local pos = le + 2
    while pos < hend do
      local eol = find(c.buf, '\r\n', pos, true)
      local line = sub(c.buf, pos, eol - 1)
      pos = eol + 2
      local colon = find(line, ':', 1, true)
      if not colon or colon == 1 or find(sub(line, colon - 1, colon - 1), '%s') then return { reject = '400 Bad Request' } end
      local key = header_key(sub(line, 1, colon - 1))
      local val = sub(line, colon + 1):match('^[ \t]*(.-)[ \t]*$')
      if env[key] and sub(key, 1, 5) == 'HTTP_' then
        env[key] = env[key] .. (key == 'HTTP_COOKIE' and '; ' or ', ') .. val
      else
        env[key] = val
      end
      vars = vars + 1
    end
    local path = uri
    if byte(path, 1) ~= 47 then -- '/'
      local abs = path:match('^https?://[^/]*(/.*)$')
      if abs then path = abs elseif path:match('^https?://[^/]*$') then path = '/'
      elseif path ~= '*' then return { reject = '400 Bad Request' } end
    end
    local q = find(path, '?', 1, true)
    if q then
      env.QUERY_STRING = sub(path, q + 1)
      path = sub(path, 1, q - 1)
    end
    env.PATH_INFO = unescape(path)
    env.REQUEST_METHOD = method
    env.REQUEST_URI = uri
    env.SERVER_PROTOCOL = proto
    env.REMOTE_ADDR = c.remote
    env.REMOTE_PORT = c.rport
    local conn = lower(env.HTTP_CONNECTION or '')
    local keep
    if proto == 'HTTP/1.1' then keep = not find(conn, 'close', 1, true) else keep = find(conn, 'keep-alive', 1, true) ~= nil end
    req = { env = env, proto = proto, keepalive = keep, vars = vars, head_bytes = hend + 3, pos = hend + 4 }
    local te = env.HTTP_TRANSFER_ENCODING
    if te then
      if lower(te) ~= 'chunked' or env.CONTENT_LENGTH then return { reject = '400 Bad Request' } end
      req.chunks = {}
    elseif env.CONTENT_LENGTH then
      local n = env.CONTENT_LENGTH:match('^%s*(%d+)%s*$')
      if not n then return { reject = '400 Bad Request' } end
      req.length = tonumber(n)
    else
      req.length = 0
    end
    c.pending = req
    if (req.chunks or req.length > 0) and lower(env.HTTP_EXPECT or '') == '100-continue' and #c.buf < req.pos then
      pcall(ctx.write_all, c.fd, 'HTTP/1.1 100 Continue\r\n\r\n')
    end
  end
  return M.finish_body(c, req)
end

function M.finish_body(c, req)
  local buf = c.buf
  local body
  if req.chunks then
    while true do
      local le = find(buf, '\r\n', req.pos, true)
      if not le then return nil end
      local size = tonumber((sub(buf, req.pos, le - 1):match('^%s*(%x+)')) or '', 16)
      if not size then c.pending = nil; return { reject = '400 Bad Request' } end
      if size == 0 then
        local after = le + 2
        if #buf < after + 1 then return nil end
        local stop
        if sub(buf, after, after + 1) == '\r\n' then stop = after + 2
        else
          local t = find(buf, '\r\n\r\n', after, true)
          if not t then return nil end
          stop = t + 4
        end
        c.buf = sub(buf, stop)
        break
      end
      if #buf < le + 1 + size + 2 then return nil end
      req.chunks[#req.chunks + 1] = sub(buf, le + 2, le + 1 + size)
      req.pos = le + 2 + size + 2
    end
    body = concat(req.chunks)
    req.env.CONTENT_LENGTH = tostring(#body)
    req.env.HTTP_TRANSFER_ENCODING = nil
  else
    local total = req.pos + req.length - 1
    if #buf < total then return nil end
    body = req.length > 0 and sub(buf, req.pos, total) or ''
    c.buf = sub(buf, total + 1)
  end
  c.pending = nil
  req.body = body
  return req
end

-- uwsgi packet: u8 modifier1, u16le size, u8 modifier2, then u16le-prefixed key/value pairs; the body follows.
function M.parse_uwsgi(c, bufsize)
  local req = c.pending
  if not req then
    local buf = c.buf
    if #buf < 4 then return nil end
    local size = byte(buf, 2) + byte(buf, 3) * 256
    if size > bufsize then return { reject = 'uwsgi packet too large' } end
    if #buf < 4 + size then return nil end
    local env = copy(c.l.template)
    local pos, stop, vars = 5, 4 + size, 0
    while pos <= stop do
      local kl = byte(buf, pos) + byte(buf, pos + 1) * 256
      local k = sub(buf, pos + 2, pos + 1 + kl)
      pos = pos + 2 + kl
      if pos + 1 > stop then return { reject = 'invalid uwsgi packet' } end
      local vl = byte(buf, pos) + byte(buf, pos + 1) * 256
      env[k] = sub(buf, pos + 2, pos + 1 + vl)
      pos = pos + 2 + vl
      vars = vars + 1
    end
    env.REMOTE_ADDR = env.REMOTE_ADDR or c.remote
    env.REQUEST_METHOD = env.REQUEST_METHOD or 'GET'
    env.SERVER_PROTOCOL = env.SERVER_PROTOCOL or 'HTTP/1.0'
    env.PATH_INFO = env.PATH_INFO or unescape(((env.REQUEST_URI or '/'):match('^[^?]*')))
    env.REQUEST_URI = env.REQUEST_URI or (env.PATH_INFO .. ((env.QUERY_STRING or '') ~= '' and ('?' .. env.QUERY_STRING) or ''))
    env.HTTP_CONTENT_TYPE, env.HTTP_CONTENT_LENGTH = nil, nil
    req = { env = env, proto = env.SERVER_PROTOCOL, keepalive = false, vars = vars, head_bytes = stop, pos = stop + 1,
            length = tonumber((env.CONTENT_LENGTH or ''):match('^%d+$') or '0'), uwsgi = true }
    c.pending = req
  end
  return M.finish_body(c, req)
end

function M.reject(c, status, ctx)
  if not status:match('^%d') then return end
  local body = sub(status, 5)
  pcall(ctx.write_all, c.fd, 'HTTP/1.1 ' .. status .. '\r\nContent-Type: text/plain\r\nContent-Length: ' .. #body
    .. '\r\nConnection: close\r\n\r\n' .. body)
end

-- WSAPI input: read(n) bytes, read("*a") the rest, read("*l") / read() a line.
local Input = {}
Input.__index = Input
function Input:read(fmt)
  local data, pos = self.data, self.pos
  if pos > #data then return nil end
  if type(fmt) == 'number' then
    self.pos = pos + fmt
    return sub(data, pos, pos + fmt - 1)
  elseif fmt == '*a' or fmt == 'a' then
    self.pos = #data + 1
    return sub(data, pos)
  end
  local nl = find(data, '\n', pos, true)
  self.pos = (nl or #data) + 1
  return sub(data, pos, (nl or #data + 1) - 1)
end

local Errors = {}
Errors.__index = Errors
function Errors:write(...) io.stderr:write(...) end

local REASONS = {
  [100] = 'Continue', [101] = 'Switching Protocols', [200] = 'OK', [201] = 'Created', [202] = 'Accepted',
  [204] = 'No Content', [206] = 'Partial Content', [301] = 'Moved Permanently', [302] = 'Found', [303] = 'See Other',
  [304] = 'Not Modified', [307] = 'Temporary Redirect', [308] = 'Permanent Redirect', [400] = 'Bad Request',
  [401] = 'Unauthorized', [403] = 'Forbidden', [404] = 'Not Found', [405] = 'Method Not Allowed', [409] = 'Conflict',
  [410] = 'Gone', [411] = 'Length Required', [413] = 'Request Entity Too Large', [415] = 'Unsupported Media Type',
  [418] = "I'm a teapot", [422] = 'Unprocessable Entity', [429] = 'Too Many Requests',
  [431] = 'Request Header Fields Too Large', [500] = 'Internal Server Error', [501] = 'Not Implemented',
  [502] = 'Bad Gateway', [503] = 'Service Unavailable', [504] = 'Gateway Timeout',
}

local function head(r, status, headers, length)
  local code = tonumber(tostring(status):match('^(%d%d%d)'))
  local line = type(status) == 'string' and status:match('^%d%d%d .+') and status
    or format('%d %s', code, REASONS[code] or 'Unknown')
  local out = { r.proto, ' ', line, '\r\n' }
  local has_len, n = false, 0
  for k, v in pairs(headers) do
    local lk = lower(k)
    if lk == 'content-length' or lk == 'transfer-encoding' then has_len = true end
    local values = type(v) == 'table' and v or { v }
    for _, one in ipairs(values) do
      one = tostring(one):gsub('[\r\n]+', ' ')
      if lk == 'connection' and lower(one) == 'close' then r.keep = false end
      out[#out + 1] = k .. ': ' .. one .. '\r\n'
      n = n + 1
    end
  end
  r.status, r.headers = code, n
  local bodiless = code < 200 or code == 204 or code == 304
  r.no_body = bodiless or r.head_only
  if r.http then
    if not has_len and not bodiless then
      if length then out[#out + 1] = 'Content-Length: ' .. length .. '\r\n'
      elseif r.proto == 'HTTP/1.1' and not r.head_only then out[#out + 1] = 'Transfer-Encoding: chunked\r\n'; r.chunked = true
      elseif not r.head_only then r.keep = false end
    end
    if not r.keep then
      if r.proto == 'HTTP/1.1' then out[#out + 1] = 'Connection: close\r\n' end
    elseif r.proto == 'HTTP/1.0' then
      out[#out + 1] = 'Connection: keep-alive\r\n'
    end
  end
  out[#out + 1] = '\r\n'
  local h = concat(out)
  r.resp_head_bytes = #h
  r.sent = true
  return h
end

local function send(ctx, r, data)
  if r.write_error then return end
  local ok = pcall(ctx.write_all, r.c.fd, data)
  if not ok then r.write_error, r.keep = true, false end
end

local function respond(ctx, r, status, headers, body)
  if type(headers) ~= 'table' or not tonumber(tostring(status):match('^(%d%d%d)') or '') then
    error('invalid WSAPI response: status ' .. tostring(status) .. ', headers ' .. type(headers), 0)
  end
  local nextchunk
  if type(body) == 'function' then nextchunk = body
  elseif type(body) == 'table' then
    local i = 0
    nextchunk = function() i = i + 1; return body[i] end
  elseif type(body) == 'string' then
    local done = false
    nextchunk = function() if done then return nil end done = true; return body end
  elseif body == nil then nextchunk = function() return nil end
  else error('invalid WSAPI response body: ' .. type(body), 0) end
  -- one chunk, then the end: a Content-Length and one write; otherwise stream
  local first = nextchunk()
  local second = first ~= nil and nextchunk() or nil
  if second == nil then
    first = first and tostring(first) or ''
    local h = head(r, status, headers, #first)
    r.body_bytes = r.no_body and 0 or #first
    send(ctx, r, r.no_body and h or h .. first)
    return
  end
  send(ctx, r, head(r, status, headers, nil))
  local chunk = first
  while chunk ~= nil do
    chunk = tostring(chunk)
    if #chunk > 0 and not r.no_body then
      r.body_bytes = r.body_bytes + #chunk
      send(ctx, r, r.chunked and format('%x\r\n%s\r\n', #chunk, chunk) or chunk)
    end
    if second ~= nil then chunk, second = second, nil else chunk = nextchunk() end
  end
  if r.chunked then send(ctx, r, '0\r\n\r\n') end
end

function M.serve(ctx, app, c, req)
  local env = req.env
  env.input = setmetatable({ data = req.body, pos = 1 }, Input)
  env.error = setmetatable({}, Errors)
  local r = { c = c, env = env, proto = req.proto, keep = req.keepalive, http = not req.uwsgi,
              head_only = env.REQUEST_METHOD == 'HEAD', body_bytes = 0, resp_head_bytes = 0, headers = 0, status = 0,
              vars = req.vars, head_bytes = req.head_bytes }
  local sb = ctx.sb
  local t0 = ctx.wall()
  r.start = t0
  sb.start = t0
  sb.requests = sb.requests + 1
  sb.core_requests = sb.core_requests + 1
  ctx.sb_flush()
  local ok, err = xpcall(function()
    local status, headers, body = app(env)
    respond(ctx, r, status, headers, body)
  end, debug.traceback)
  if not ok then
    sb.exceptions = sb.exceptions + 1
    ctx.log(format('[lua] exception in %s %s (pid: %d): %s', env.REQUEST_METHOD, env.REQUEST_URI, ctx.pid, tostring(err)))
    if r.sent then
      r.keep = false -- half a response went out: only closing tells the client
    else
      r.keep = false
      local okr = pcall(respond, ctx, r, 500, { ['Content-Type'] = 'text/plain' }, 'Internal Server Error')
      if not okr then r.keep = false end
    end
  end
  local t1 = ctx.wall()
  r.msecs = math.floor((t1 - t0) * 1000)
  sb.start = 0
  sb.running = sb.running + math.floor((t1 - t0) * 1e6)
  sb.tx = sb.tx + r.resp_head_bytes + r.body_bytes
  if r.write_error then sb.write_errors = sb.write_errors + 1 end
  ctx.sb_flush()
  r.keep = r.keep and not r.write_error
  return r
end

return M
