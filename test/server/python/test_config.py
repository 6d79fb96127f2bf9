"""config: KAISER_CONFIG text into a complete config; sockets, chmod-socket and name accessors."""
import json
import os
import unittest
from unittest import mock

import support  # noqa: F401
from _kaiser import config


class Parse(unittest.TestCase):
    def test_every_default_is_filled(self):
        cfg = config.parse('{}')
        for key in config.DEFAULTS:
            self.assertIn(key, cfg)
        self.assertEqual((cfg['processes'], cfg['threads'], cfg['reload-mode']), (1, 1, 'chain'))

    def test_null_takes_the_default_and_unknown_keys_are_kept(self):
        cfg = config.parse(json.dumps({'processes': None, '_name': 'app.ini', '_node': '/usr/bin/node'}))
        self.assertEqual((cfg['processes'], cfg['_name'], cfg['_node']), (1, 'app.ini', '/usr/bin/node'))

    def test_scalars_become_lists_for_multi_options(self):
        cfg = config.parse(json.dumps({'http-socket': ':9090', 'socket': None}))
        self.assertEqual((cfg['http-socket'], cfg['socket']), ([':9090'], []))

    def test_env_as_a_list_of_key_values(self):
        self.assertEqual(config.parse(json.dumps({'env': ['A=1', 'B=x=y', 'junk']}))['env'], {'A': '1', 'B': 'x=y'})
        self.assertEqual(config.parse(json.dumps({'env': 'nonsense'}))['env'], {})

    def test_numbers_are_coerced_and_clamped(self):
        cfg = config.parse(json.dumps({'processes': 0, 'threads': '3', 'buffer-size': 100, 'harakiri': '2.5'}))
        self.assertEqual((cfg['processes'], cfg['threads'], cfg['buffer-size'], cfg['harakiri']), (1, 3, 512, 2.5))
        self.assertEqual(config.parse(json.dumps({'buffer-size': 1 << 20}))['buffer-size'], 65535)

    def test_bad_json_and_non_objects_are_config_errors(self):
        for text in ('{', '[]', '01', '"x"'):
            with self.subTest(text=text):
                with self.assertRaises(config.ConfigError):
                    config.parse(text)

    def test_load_reads_the_environment(self):
        with mock.patch.dict(os.environ, {'KAISER_CONFIG': '{"processes": 4}'}):
            self.assertEqual(config.load()['processes'], 4)


class Accessors(unittest.TestCase):
    def test_socket_specs_in_a_stable_order_without_duplicates(self):
        cfg = config.parse(json.dumps({'socket': ['a:1'], 'http': [':80'], 'http-socket': [':80', ':81']}))
        self.assertEqual(config.socket_specs(cfg), [('http', ':80'), ('http', ':81'), ('uwsgi', 'a:1')])

    def test_chmod_socket_modes(self):
        self.assertIsNone(config.chmod_mode({'chmod-socket': None}))
        self.assertEqual(config.chmod_mode({'chmod-socket': True}), 0o666)
        self.assertEqual(config.chmod_mode({'chmod-socket': ''}), 0o666)
        self.assertEqual(config.chmod_mode({'chmod-socket': '660'}), 0o660)
        with self.assertRaises(config.ConfigError):
            config.chmod_mode({'chmod-socket': 'rw'})

    def test_name(self):
        self.assertEqual(config.name({'_name': 'shop.ini'}), 'shop.ini')
        self.assertEqual(config.name({}), 'kaiser')


class KeyStrings(unittest.TestCase):
    """Issue 13 (mass hosting): a forked master must not hold the runtime host's key strings (their reference counts
    would copy the host's pages into every master); the config is keyed by the strings parsed from its own text."""

    def test_parsed_keys_are_the_texts_own_strings_and_defaults_fill_the_rest(self):
        cfg = config.parse('{"processes": 3, "wsgi-file": null}')
        keys = {k: k for k in cfg}
        default_keys = {k: k for k in config.DEFAULTS}
        self.assertIsNot(keys['processes'], default_keys['processes'])
        self.assertEqual(cfg['processes'], 3)
        self.assertIsNone(cfg['wsgi-file'])
        self.assertEqual(set(cfg) - {'processes', 'wsgi-file'}, set(config.DEFAULTS) - {'processes', 'wsgi-file'})


if __name__ == '__main__':
    unittest.main()
