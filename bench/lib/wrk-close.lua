-- wrk -s bench/lib/wrk-close.lua: every request says "Connection: close", so wrk opens a
-- new connection per request against both servers.  uWSGI's --http-socket closes after
-- every response anyway (no keep-alive without Content-Length / http11-socket), while
-- kaiser keeps connections alive: with this script both sides do the same work per request.
wrk.headers["Connection"] = "close"
