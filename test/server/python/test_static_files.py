"""static_files: static-map / static-map2 / check-static lookups (realpath under the directory, static-safe,
static-index, static-skip-ext, GET/HEAD only) and the answers (headers in uWSGI's order, 304, HEAD, Expires,
gzip variants); also compared with real uWSGI in test/server/uwsgi-static.int.test.ts."""
import os
import shutil
import tempfile
import unittest

import support  # noqa: F401
from _kaiser import static_files
from _kaiser.static_files import StaticFiles, http_date, mime_type, parse_http_date
from _kaiser.wsgi import FileWrapper


class Tree(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)
        self.root = os.path.join(self.dir, 'static')
        self.outside = os.path.join(self.dir, 'secret')
        for d in (self.root, os.path.join(self.root, 'sub'), self.outside):
            os.makedirs(d, exist_ok=True)
        self.write('static/a.css', 'body{}')
        self.write('static/sub/index.html', '<p>')
        self.write('static/skip.py', 'x')
        self.write('secret/key.txt', 'secret')
        os.symlink(os.path.join(self.outside, 'key.txt'), os.path.join(self.root, 'link.txt'))
        os.utime(os.path.join(self.root, 'a.css'), (1000000000, 1000000000))

    def write(self, rel, text):
        with open(os.path.join(self.dir, rel), 'w') as f:
            f.write(text)

    def files(self, **cfg):
        base = {'static-map': ['/static=' + self.root], 'static-index': ['index.html'], 'static-skip-ext': ['.py']}
        base.update({k.replace('_', '-'): v for k, v in cfg.items()})
        return StaticFiles(base)

    def env(self, path, method='GET', **kw):
        e = {'PATH_INFO': path, 'REQUEST_METHOD': method, 'REQUEST_URI': path}
        e.update(kw)
        return e

    def found(self, files, path, **kw):
        f = files.find(self.env(path, **kw))
        return None if f is None else os.path.relpath(f.path, self.dir)


class Finding(Tree):
    def test_maps_and_index(self):
        s = self.files()
        self.assertEqual(self.found(s, '/static/a.css'), 'static/a.css')
        env = self.env('/static/sub')
        self.assertEqual(os.path.relpath(s.find(env).path, self.dir), 'static/sub/index.html')
        self.assertEqual(env['PATH_INFO'], '/static/sub/index.html')
        self.assertIsNone(self.found(s, '/static/missing'))
        self.assertIsNone(self.found(s, '/other/a.css'))
        self.assertIsNone(self.found(s, '/static/'))      # a directory without its index file

    def test_no_escape_by_dots_or_symlinks_unless_safe(self):
        s = self.files()
        self.assertIsNone(self.found(s, '/static/../secret/key.txt'))
        self.assertIsNone(self.found(s, '/static/link.txt'))
        safe = self.files(static_safe=[self.outside])
        self.assertEqual(self.found(safe, '/static/link.txt'), 'secret/key.txt')

    def test_sibling_directory_with_the_same_prefix_is_outside(self):
        os.makedirs(self.root + '-old')
        self.write('static-old/x.txt', 'x')
        self.assertIsNone(self.found(self.files(), '/static/../static-old/x.txt'))

    def test_methods_and_skipped_extensions(self):
        s = self.files()
        self.assertIsNone(self.found(s, '/static/a.css', method='POST'))
        self.assertEqual(self.found(s, '/static/a.css', method='HEAD'), 'static/a.css')
        self.assertIsNone(self.found(s, '/static/skip.py'))

    def test_map2_check_static_and_file_maps(self):
        s = StaticFiles({'static-map2': ['/static=' + self.dir]})
        self.assertEqual(self.found(s, '/static/a.css'), 'static/a.css')
        s = StaticFiles({'check-static': [self.root]})
        self.assertEqual(self.found(s, '/a.css'), 'static/a.css')
        s = StaticFiles({'static-map': ['/favicon.ico=' + os.path.join(self.root, 'a.css')]})
        self.assertEqual(self.found(s, '/favicon.ico'), 'static/a.css')

    def test_missing_directory_and_no_options(self):
        self.assertIsNone(self.found(StaticFiles({'static-map': ['/s=/nonexistent/dir']}), '/s/x'))
        self.assertIsNone(StaticFiles.from_config({}))


class Answering(Tree):
    def serve(self, files, path, **kw):
        env = self.env(path, **kw)
        got = {}

        def start_response(status, headers):
            got['status'], got['headers'] = status, headers
        body = files.serve(env, files.find(env), start_response)
        if isinstance(body, FileWrapper):
            data = b''.join(body)
            body.close()
        else:
            data = b''.join(body)
        return got['status'], got['headers'], data

    def test_headers_in_uwsgi_order(self):
        s = self.files(static_expires=['\\.css$ 60'], static_expires_type=['text/css=3600'])
        status, headers, body = self.serve(s, '/static/a.css')
        self.assertEqual(status, '200 OK')
        self.assertEqual([k for k, _ in headers], ['Expires', 'Content-Type', 'Expires', 'Content-Length',
                                                   'Last-Modified'])
        self.assertEqual(dict(headers)['Content-Type'], 'text/css')
        self.assertEqual(headers[-1][1], 'Sun, 09 Sep 2001 01:46:40 GMT')
        self.assertEqual(body, b'body{}')

    def test_not_modified_and_head(self):
        s = self.files()
        self.assertEqual(self.serve(s, '/static/a.css', HTTP_IF_MODIFIED_SINCE='Sun, 09 Sep 2001 01:46:40 GMT')[:2],
                         ('304 Not Modified', []))
        self.assertEqual(self.serve(s, '/static/a.css', HTTP_IF_MODIFIED_SINCE='Sun, 09 Sep 2001 01:46:39 GMT')[0],
                         '200 OK')
        status, headers, body = self.serve(s, '/static/a.css', method='HEAD')
        self.assertEqual((status, dict(headers)['Content-Length'], body), ('200 OK', '6', b''))

    def test_gzip_variant(self):
        self.write('static/a.css.gz', 'GZ')
        s = self.files(static_gzip_all=True)
        status, headers, body = self.serve(s, '/static/a.css', HTTP_ACCEPT_ENCODING='gzip, deflate')
        self.assertEqual((dict(headers)['Content-Encoding'], dict(headers)['Content-Type'], body),
                         ('gzip', 'text/css', b'GZ'))
        self.assertEqual(self.serve(s, '/static/a.css')[2], b'body{}')


class Helpers(unittest.TestCase):
    def test_mime_types_and_dates(self):
        self.assertEqual(mime_type('/x/a.css'), 'text/css')
        self.assertIsNone(mime_type('/x/noext'))
        self.assertIsNone(mime_type('/x/a.unknown-ext'))
        self.assertEqual(parse_http_date(http_date(1000000000)), 1000000000)
        self.assertEqual(parse_http_date('yesterday'), 0)
        self.assertEqual(static_files._under('/a/b', '/a'), True)
        self.assertEqual(static_files._under('/ab', '/a'), False)


if __name__ == '__main__':
    unittest.main()
