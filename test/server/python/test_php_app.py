"""php_app: the PHP bridge's load-time checks (its requests are covered end to end with a real php-cgi in
test/workers/plugins/)."""
import os
import unittest

import support
from support import temp_dir
from _kaiser import php_app


class Load(unittest.TestCase):
    def test_a_docroot_that_is_not_a_directory_fails_the_load(self):
        with self.assertRaises(Exception) as caught:
            php_app.PhpApp(support.make_config(php_docroot='/no/such/docroot'))
        self.assertIn('php-docroot', str(caught.exception))

    def test_a_missing_php_cgi_names_the_debian_package(self):
        d = temp_dir(self)
        with self.assertRaises(Exception) as caught:
            php_app.PhpApp(support.make_config(php_docroot=d, php_cgi_bin=os.path.join(d, 'no-php-cgi')))
        self.assertIn('php-cgi', str(caught.exception))


if __name__ == '__main__':
    unittest.main()
