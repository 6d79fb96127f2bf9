"""basicauth: user:password rules and htpasswd files as uWSGI's router_basicauth checks them (crypt(3) DES lines,
{SHA} lines, the 13-character cut, basicauth-next)."""
import base64
import hashlib
import os
import tempfile
import unittest

import support  # noqa: F401
from _kaiser import basicauth
from _kaiser.basicauth import Check, htpasswd_user


def auth(pair):
    return {'HTTP_AUTHORIZATION': 'Basic ' + base64.b64encode(pair).decode()}


class Pair(unittest.TestCase):
    def test_user_and_password(self):
        c = Check('r', 'serena:alessandro', False)
        self.assertEqual(c.user(auth(b'serena:alessandro')), 'serena')
        self.assertIsNone(c.user(auth(b'serena:wrong')))
        self.assertIsNone(c.user({}))
        self.assertIsNone(c.user({'HTTP_AUTHORIZATION': 'Bearer abcdefgh'}))

    def test_user_without_password(self):
        self.assertEqual(Check('r', 'roberta:', False).user(auth(b'roberta:')), 'roberta')

    def test_empty_credentials_never_pass(self):
        self.assertIsNone(Check('r', '', False).user(auth(b'a:b')))

    def test_next_on_failure_only_with_credentials(self):
        c = Check('r', 'a:b', True)
        self.assertEqual(c.user(auth(b'a:c')), '')
        self.assertIsNone(c.user({}))

    def test_already_authenticated(self):
        self.assertEqual(Check('r', 'a:b', False).user({'REMOTE_USER': 'nginx-user'}), '')


class File(unittest.TestCase):
    def setUp(self):
        fd, self.path = tempfile.mkstemp()
        os.close(fd)
        self.addCleanup(os.unlink, self.path)

    def write(self, text):
        with open(self.path, 'w') as f:
            f.write(text)

    def test_des_and_sha_lines(self):
        des = basicauth.crypt('alessandro', 'ab')
        sha = '{SHA}' + base64.b64encode(hashlib.sha1(b'pw2').digest()).decode()
        self.write('serena:%s\nkratos:%s\n' % (des, sha))
        self.assertEqual(htpasswd_user(self.path, b'serena:alessandro'), 6)
        self.assertEqual(htpasswd_user(self.path, b'kratos:pw2'), 6)
        self.assertEqual(htpasswd_user(self.path, b'serena:pw2'), 0)
        self.assertEqual(htpasswd_user(self.path, b'nobody'), 0)
        self.assertEqual(Check('r', self.path, False).user(auth(b'kratos:pw2')), 'kratos')

    def test_md5_crypt_never_matches_as_in_uwsgi(self):
        self.write('u:%s\n' % basicauth.crypt('pw', '$1$abcdefgh$'))
        self.assertEqual(htpasswd_user(self.path, b'u:pw'), 0)

    def test_a_line_without_colon_ends_the_scan(self):
        self.write('junk\nserena:%s\n' % basicauth.crypt('x', 'ab'))
        self.assertEqual(htpasswd_user(self.path, b'serena:x'), 0)

    def test_missing_file(self):
        self.assertEqual(htpasswd_user('/nonexistent/htpasswd', b'a:b'), 0)


if __name__ == '__main__':
    unittest.main()
