"""uwsgi_environ: PATH_INFO decoding and wsgi.url_scheme as uWSGI 2.0 does them (also compared with real uWSGI in
test/server/uwsgi-environ.int.test.ts)."""
import unittest

import support  # noqa: F401
from _kaiser.uwsgi_environ import _walk, decode_path, url_scheme


class DecodePath(unittest.TestCase):
    def test_resolves_dot_segments(self):
        self.assertEqual(decode_path('/a/b/../c'), '/a/c')
        self.assertEqual(decode_path('/a/./b'), '/a/b')
        self.assertEqual(decode_path('/a/b/..'), '/a/')
        self.assertEqual(decode_path('/a/b/.'), '/a/b/')
        self.assertEqual(decode_path('/../../x'), '/x')

    def test_keeps_names_that_only_start_with_dots(self):
        self.assertEqual(decode_path('/.hidden/..b/.../x'), '/.hidden/..b/.../x')

    def test_decodes_percent_escapes_after_the_dot_pass(self):
        self.assertEqual(decode_path('/a%20b/%C3%A9'), '/a b/\xc3\xa9')
        self.assertEqual(decode_path('/%2e%2e/x'), '/../x')
        self.assertEqual(decode_path('/100%%'), '/100%')
        self.assertEqual(decode_path('/bad%zz/%'), '/bad%zz/%')

    def test_drops_the_fragment(self):
        self.assertEqual(decode_path('/a#frag'), '/a')


    def test_a_path_with_nothing_to_decode_comes_back_as_the_walk_would_give_it(self):
        # decode_path skips the character walk for paths without %, #, /. or //: both must agree on every input.
        import random
        rnd = random.Random(15)
        for _ in range(20000):
            raw = ''.join(rnd.choice('/.%#a2F') for _ in range(rnd.randint(1, 9)))
            self.assertEqual(decode_path(raw), _walk(raw), raw)


class UrlScheme(unittest.TestCase):
    def test_https_on_or_1(self):
        self.assertEqual(url_scheme({'HTTPS': 'on'}), 'https')
        self.assertEqual(url_scheme({'HTTPS': '1'}), 'https')
        self.assertEqual(url_scheme({'HTTPS': 'off'}), 'http')
        self.assertEqual(url_scheme({}), 'http')

    def test_uwsgi_scheme_and_forwarded_proto_win_verbatim_the_last_one_first(self):
        self.assertEqual(url_scheme({'HTTPS': 'off', 'UWSGI_SCHEME': 'https'}), 'https')
        self.assertEqual(url_scheme({'HTTP_X_FORWARDED_PROTO': 'https'}), 'https')
        self.assertEqual(url_scheme({'UWSGI_SCHEME': 'http', 'HTTP_X_FORWARDED_PROTO': 'https'}), 'https')
        self.assertEqual(url_scheme({'HTTP_X_FORWARDED_PROTO': 'https', 'UWSGI_SCHEME': 'http'}), 'http')


if __name__ == '__main__':
    unittest.main()
