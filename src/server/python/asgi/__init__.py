"""The ASGI 3.0 server of a kaiser worker (`asgi = "module:app"`): one asyncio event loop per forked worker.

Modules: `server` (the worker's loop: accept, limits, sweep, retire), `accounting` (scoreboard and request
log), `lifespan`, `head` (HTTP/1.1 request heads), `body` (request body framing), `http_cycle` (one HTTP
request's receive/send), `http_conn` (an HTTP/1.1 connection: keep-alive, pipelining), `uwsgi_conn` (the
uwsgi protocol), `ws_frames` (RFC 6455 framing) and `ws_session` (one websocket's receive/send).
Stdlib only: the app's own packages (FastAPI, Starlette, Django…) are the app's.
"""
