"""bench/per-connection.py's no-framework app (APPS=plain): a fixed JSON answer with its length, so what a run
measures is the server's own path per connection (accept, read, environ, response, close), not a framework's."""


def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', '17')])
    return [b'{"hello":"plain"}']
