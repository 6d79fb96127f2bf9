"""The tiny WSGI app standing in for every corpus file's own app (test/corpus/README.md)."""


def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'corpus ok']


# The callables corpus files name: module = x:app, callable = app, mount = /=x:application.
app = application
