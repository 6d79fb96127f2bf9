-- kaiser's Lua WSAPI worker: `lua5.1 dist/workers/lua/worker.lua`, exec'd by the Python master with the worker
-- contract of docs/runtime-protocol.md §3 (KAISER_LISTEN_FDS, KAISER_STATUS_FD, KAISER_LIFE_FD,
-- KAISER_SCOREBOARD_FD/OFFSET, KAISER_CONFIG). Needs luaposix (Debian lua-posix): Lua 5.1 alone has no sockets,
-- poll or signals.
--
-- One process, one poll(2) loop over the inherited listening sockets, the client connections and the life pipe. A
-- request is read without blocking (head and whole body), then the app runs inline and the response is written.
-- Keep-alive and pipelining on HTTP/1.x; the uwsgi protocol answers raw HTTP and closes, as uWSGI does. One request at
-- a time per worker (Lua has no threads), on scoreboard core 0.
--
-- The app file returns the WSAPI app: a function (env → status, headers, iterator), or a table with `run`, as
-- uWSGI's lua plugin takes it. The env has the CGI variables, `input` (read(n | "*a" | "*l")) and `error`.
--
-- Sequence: contract → chdir, env → load the app → {"act":"loaded"} → accept → scoreboard accepting=1 →
-- {"act":"accepting"}; any failure before that is load-failed + exit 22. Signals: SIGHUP graceful (stop accepting,
-- take what is queued, finish, close idle keep-alive connections after 0.5 s, exit 0); SIGTERM/SIGINT exit 0 at once;
-- life-pipe EOF: exit 1 at once. max-requests: retire by itself.
local here = (arg and arg[0] or ''):match('^(.*)/[^/]*$') or '.'
package.path = here .. '/?.lua;' .. package.path

local json = require('kaiser.json')
local status_fd = tonumber(os.getenv('KAISER_STATUS_FD') or '')

local function raw_write(fd, s)
  -- before luaposix is known to be there (reporting its absence), write through /proc
  local f = io.open('/proc/self/fd/' .. fd, 'w')
  if f then f:write(s); f:close() end
end

local function load_failed(msg)
  io.stderr:write(msg, '\n')
  if status_fd then raw_write(status_fd, '{"act":"load-failed","error":' .. json.encode_string(msg) .. '}\n') end
  os.exit(22)
end

local ok_posix, unistd = pcall(require, 'posix.unistd')
if not ok_posix then
  load_failed('lua apps need luaposix: ' .. tostring(unistd):match('^[^\n]*') .. ' (install the Debian package lua-posix)')
end
local sock = require('posix.sys.socket')
local poll = require('posix.poll')
local psignal = require('posix.signal')
local fcntl = require('posix.fcntl')
local ptime = require('posix.time')
local errno = require('posix.errno')
local binary = require('kaiser.binary')
local http = require('kaiser.http')

local write, read, close = unistd.write, unistd.read, unistd.close
local EAGAIN = errno.EAGAIN
local STOP_GRACE = 0.5

local function now()
  local t = ptime.clock_gettime(ptime.CLOCK_MONOTONIC)
  return t.tv_sec + t.tv_nsec / 1e9
end

local function wall()
  local t = ptime.clock_gettime(ptime.CLOCK_REALTIME)
  return t.tv_sec + t.tv_nsec / 1e9
end

local function log(line)
  if line:sub(-1) ~= '\n' then line = line .. '\n' end
  write(2, line)
end

local function send_status(obj)
  if not status_fd then return end
  local parts = {}
  for k, v in pairs(obj) do parts[#parts + 1] = json.encode_string(k) .. ':' .. json.encode_string(v) end
  write(status_fd, '{' .. table.concat(parts, ',') .. '}\n')
end

local function fail_load(msg)
  log(msg)
  send_status({ act = 'load-failed', error = msg })
  unistd._exit(22)
end

-- ── the contract ──────────────────────────────────────────────────────────────────────────────────────────────────
local raw_cfg = os.getenv('KAISER_CONFIG') or ''
local okc, cfg = pcall(function() return raw_cfg ~= '' and json.decode(raw_cfg) or {} end)
if not okc or type(cfg) ~= 'table' then fail_load('KAISER_CONFIG is not valid JSON: ' .. tostring(cfg)) end
local worker_id = tonumber(os.getenv('KAISER_WORKER_ID') or '1') or 1
local timeout = tonumber(cfg['socket-timeout']) or 4
if timeout <= 0 then timeout = 4 end
local bufsize = tonumber(cfg['buffer-size']) or 4096
local max_requests = tonumber(cfg['max-requests']) or 0
local logging = not cfg['disable-logging']
local threads = math.max(1, tonumber(cfg.threads) or 1)

-- the scoreboard slot, written whole at each request start and end through a descriptor of our own (the inherited
-- one shares its file offset with the master and the other workers)
local sb = { requests = 0, exceptions = 0, tx = 0, running = 0, accepting = 0, start = 0, core_requests = 0,
             read_errors = 0, write_errors = 0 }
do
  local fd = tonumber(os.getenv('KAISER_SCOREBOARD_FD') or '')
  sb.offset = tonumber(os.getenv('KAISER_SCOREBOARD_OFFSET') or '0') or 0
  if fd then sb.fd = fcntl.open('/proc/self/fd/' .. fd, fcntl.O_RDWR) end
end
local pad20, pad8 = string.rep('\0', 20), string.rep('\0', 8)
local function sb_flush()
  if not sb.fd then return end
  local avg = sb.requests > 0 and math.floor(sb.running / sb.requests) or 0
  local slot = binary.u64(sb.requests) .. binary.u64(sb.exceptions) .. binary.u64(sb.tx) .. binary.u64(sb.running)
    .. binary.u64(avg) .. binary.u32(sb.accepting) .. pad20 .. binary.f64(sb.start) .. binary.u64(sb.core_requests)
    .. binary.u32(sb.read_errors) .. binary.u32(sb.write_errors) .. pad8
  if not unistd.lseek(sb.fd, sb.offset, unistd.SEEK_SET) or not write(sb.fd, slot) then sb.fd = nil end
end
sb_flush()

local listeners = {}
for item in (os.getenv('KAISER_LISTEN_FDS') or ''):gmatch('[^,]+') do
  local fd, proto = item:match('^(%d+):?(%a*)$')
  fd = tonumber(fd)
  if not fd then fail_load('KAISER_LISTEN_FDS: bad item ' .. item) end
  if proto == '' then proto = 'http' end
  if proto ~= 'http' and proto ~= 'uwsgi' then fail_load('KAISER_LISTEN_FDS: unsupported protocol ' .. proto .. ' on fd ' .. fd) end
  local addr = sock.getsockname(fd)
  if not addr then fail_load('KAISER_LISTEN_FDS: fd ' .. fd .. ' is not a socket') end
  local flags = fcntl.fcntl(fd, fcntl.F_GETFL)
  fcntl.fcntl(fd, fcntl.F_SETFL, flags + (math.floor(flags / fcntl.O_NONBLOCK) % 2 == 0 and fcntl.O_NONBLOCK or 0))
  local tcp = addr.family == sock.AF_INET or addr.family == sock.AF_INET6
  listeners[#listeners + 1] = {
    fd = fd, uwsgi = proto == 'uwsgi', tcp = tcp,
    template = { SCRIPT_NAME = '', QUERY_STRING = '', SERVER_NAME = tcp and addr.addr or (addr.path or ''),
                 SERVER_PORT = tcp and tostring(addr.port) or '' },
  }
end
if #listeners == 0 then fail_load('no listening socket: KAISER_LISTEN_FDS is empty') end
if threads > 1 then log('lua workers serve one request at a time: threads = ' .. threads .. ' is ignored (use processes)') end

-- ── load the app ──────────────────────────────────────────────────────────────────────────────────────────────────
if cfg.chdir then
  local okd, err = unistd.chdir(cfg.chdir)
  if not okd then fail_load('chdir(' .. cfg.chdir .. '): ' .. tostring(err)) end
end
if type(cfg.env) == 'table' then
  local stdlib = require('posix.stdlib')
  for k, v in pairs(cfg.env) do stdlib.setenv(k, tostring(v)) end
end
local file = cfg.lua
if not file then fail_load('no lua given: nothing to load') end
local chunk, lerr = loadfile(file)
if not chunk then fail_load('unable to load Lua app ' .. file .. ': ' .. tostring(lerr)) end
local okr, result = xpcall(chunk, debug.traceback)
if not okr then fail_load('unable to load Lua app ' .. file .. ': ' .. tostring(result)) end
local app = result
if type(result) == 'table' and type(result.run) == 'function' then app = result.run end
if type(app) ~= 'function' then
  fail_load('unable to load Lua app ' .. file .. ': it must return the WSAPI app (a function, or a table with run), not ' .. type(result))
end
log(string.format("WSAPI app 0 (%s) loaded (pid: %d)", file, unistd.getpid()))
send_status({ act = 'loaded' })

-- ── serving ───────────────────────────────────────────────────────────────────────────────────────────────────────
local conns = {}          -- fd → connection
local stopping, stop_time, hup = false, 0, false
local requests, loyal = 0, false
local logbuf, loglen = {}, 0
local life_fd = tonumber(os.getenv('KAISER_LIFE_FD') or '')

psignal.signal(psignal.SIGHUP, function() hup = true end)
psignal.signal(psignal.SIGTERM, function() unistd._exit(0) end)
psignal.signal(psignal.SIGINT, function() unistd._exit(0) end)
psignal.signal(psignal.SIGPIPE, psignal.SIG_IGN)

local function flush_log()
  if loglen > 0 then
    write(2, table.concat(logbuf))
    logbuf, loglen = {}, 0
  end
end

local function close_conn(c)
  conns[c.fd] = nil
  close(c.fd)
end

local function accept_one(l)
  local fd, addr = sock.accept(l.fd)
  if not fd then return false end
  local flags = fcntl.fcntl(fd, fcntl.F_GETFL)
  fcntl.fcntl(fd, fcntl.F_SETFL, flags + (math.floor(flags / fcntl.O_NONBLOCK) % 2 == 0 and fcntl.O_NONBLOCK or 0))
  if l.tcp then sock.setsockopt(fd, sock.IPPROTO_TCP, sock.TCP_NODELAY, 1) end
  conns[fd] = { fd = fd, buf = '', l = l, remote = l.tcp and addr and addr.addr or '',
                rport = l.tcp and addr and tostring(addr.port) or '', last = now() }
  return true
end

local function begin_stop()
  if stopping then return end
  stopping, stop_time = true, now()
  sb.accepting = 0
  sb_flush()
  -- a wakeup may have gone to us alone: take what is queued before we stop listening
  for _, l in ipairs(listeners) do
    for _ = 1, 1024 do if not accept_one(l) then break end end
  end
  for _, l in ipairs(listeners) do close(l.fd) end
  listeners = {}
end

local ctx = {
  timeout = timeout, sb = sb, sb_flush = sb_flush, wall = wall, log = log, pid = unistd.getpid(),
  write_all = function(fd, data)
    local off, len = 1, #data
    while off <= len do
      local n, err, code = write(fd, off == 1 and data or data:sub(off))
      if n then
        off = off + n
      elseif code == EAGAIN then
        local fds = { [fd] = { events = { OUT = true } } }
        if (poll.poll(fds, math.floor(timeout * 1000)) or 0) < 1 then error('client gone: write timeout', 0) end
      else
        error('client gone: ' .. tostring(err), 0)
      end
    end
  end,
}

local function request_log(r)
  local line = string.format('[pid: %d|app: 0|req: %d/%d] %s () {%d vars in %d bytes} [%s] %s %s => generated %d bytes in %d msecs (%s %d) %d headers in %d bytes (1 switches on core 0)\n',
    ctx.pid, requests, requests, r.env.REMOTE_ADDR or '', r.vars, r.head_bytes, os.date('%a %b %d %H:%M:%S %Y', math.floor(r.start)),
    r.env.REQUEST_METHOD, r.env.REQUEST_URI, r.body_bytes, r.msecs, r.env.SERVER_PROTOCOL, r.status, r.headers, r.resp_head_bytes)
  logbuf[#logbuf + 1] = line
  loglen = loglen + #line
  if loglen > 65536 then flush_log() end
end

local function on_readable(c)
  local data, err, code = read(c.fd, 65536)
  if not data then
    if code == EAGAIN then return end
    sb.read_errors = sb.read_errors + 1
    return close_conn(c)
  end
  if data == '' then return close_conn(c) end
  c.buf = c.buf .. data
  c.last = now()
  while #c.buf > 0 do
    local req = c.l.uwsgi and http.parse_uwsgi(c, bufsize, ctx) or http.parse_http(c, bufsize, ctx)
    if not req then return end
    if req.reject then
      http.reject(c, req.reject, ctx)
      log('worker ' .. worker_id .. ': rejected request from ' .. (c.remote ~= '' and c.remote or 'unix') .. ' (' .. req.reject .. ')')
      return close_conn(c)
    end
    if stopping then req.keepalive = false end
    if max_requests > 0 and requests + 1 >= max_requests and not stopping then
      log('worker ' .. worker_id .. ': reached max-requests (' .. max_requests .. '), recycling')
      send_status({ act = 'retiring', reason = 'max-requests' })
      begin_stop()
      req.keepalive = false
    end
    requests = requests + 1
    local r = http.serve(ctx, app, c, req)
    if logging then request_log(r) end
    if not loyal then loyal = true; send_status({ act = 'first-request' }) end
    c.last = now()
    if not r.keep then return close_conn(c) end
    if not conns[c.fd] then return end
  end
end

sb.accepting = 1
sb_flush()
send_status({ act = 'accepting' })

local next_sweep = now() + 1
while true do
  if hup then
    hup = false
    log('gracefully stopping worker ' .. worker_id .. ' (pid: ' .. ctx.pid .. ')')
    begin_stop()
  end
  local fds = {}
  for _, l in ipairs(listeners) do fds[l.fd] = { events = { IN = true } } end
  for fd in pairs(conns) do fds[fd] = { events = { IN = true } } end
  if life_fd then fds[life_fd] = { events = { IN = true } } end
  local n = poll.poll(fds, (loglen > 0 or stopping) and 100 or 1000)
  if n and n > 0 then
    for fd, p in pairs(fds) do
      local rev = p.revents
      if rev and (rev.IN or rev.HUP or rev.ERR) then
        local c = conns[fd]
        if c then
          on_readable(c)
        elseif fd == life_fd then
          flush_log()
          log('UAAAAAAH my master disconnected: i will kill myself !!!')
          unistd._exit(1)
        elseif not stopping then
          for _, l in ipairs(listeners) do if l.fd == fd then accept_one(l) break end end
        end
      end
    end
  end
  if loglen > 0 and (not n or n <= 0 or loglen > 3072) then flush_log() end
  local t = now()
  if stopping or t >= next_sweep then
    next_sweep = t + 1
    for _, c in pairs(conns) do
      local idle = t - ((stopping and c.last < stop_time) and stop_time or c.last)
      if (stopping and #c.buf == 0 and idle >= STOP_GRACE) or idle >= timeout then close_conn(c) end
    end
    if stopping and next(conns) == nil then
      flush_log()
      log('worker ' .. worker_id .. ' (pid: ' .. ctx.pid .. ') finished its requests, goodbye')
      unistd._exit(0)
    end
  end
end
