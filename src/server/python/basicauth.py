"""HTTP basic authentication of the `basicauth` / `basicauth-next` routing actions (issue 15), as uWSGI 2.0's
router_basicauth plugin checks it.

Owns: reading `Authorization: Basic …` and deciding who the client is, against either a `user:password` pair
written in the rule (`basicauth:realm,user:password`; `user:` is a user with an empty password) or an htpasswd file
(`basicauth:realm,/path/to/htpasswd`, read at each request as uWSGI does). uWSGI's file check is kept as it is:
traditional crypt(3) (DES, 13 characters: a longer hash is cut to 13, so `$1$`/`$apr1$`/bcrypt lines never match)
and `{SHA}` lines (base64 of the SHA-1, on a line that ends with a newline); a line without a colon, or a hash
shorter than 13 characters, ends the scan. route_actions.py answers 401 when `Check.user` says no.
"""
import base64
import warnings

_crypt = []


def crypt(word, salt):
    """crypt(3) through the stdlib (deprecated since 3.11, gone in 3.13: then no crypt hash matches)."""
    if not _crypt:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                import crypt as mod
            _crypt.append(mod.crypt)
        except ImportError:
            _crypt.append(None)
    fn = _crypt[0]
    if fn is None:
        return None
    try:
        return fn(word, salt)
    except (ValueError, OSError):
        return None


def htpasswd_user(path, auth):
    """The length of the user name when `auth` (b'user:password') matches a line of the htpasswd file `path`, else
    0 (uWSGI's htpasswd_check)."""
    colon = auth.find(b':')
    if colon < 0:
        return 0
    password = auth[colon + 1:].decode('latin-1')
    try:
        f = open(path, 'rb')
    except OSError:
        return 0
    with f:
        for line in f:
            line = line[:1023]
            colon2 = line.find(b':')
            if colon2 < 0:
                break
            stored = line[colon2 + 1:].decode('latin-1')
            if stored.startswith('{SHA}'):
                import hashlib
                digest = hashlib.sha1(password.encode('latin-1')).digest()
                crypted = '{SHA}' + base64.b64encode(digest).decode() + '\n'
            else:
                if len(stored) < 13:
                    break
                stored = stored[:13]
                crypted = crypt(password, stored)
            if crypted is not None and crypted == stored and auth[:colon] == line[:colon2]:
                return colon
    return 0


class Check:
    """One `basicauth` rule: its credentials (`user:password`, or an htpasswd file when there is no colon)."""

    __slots__ = ('realm', 'credentials', 'user_len', 'next_on_failure')

    def __init__(self, realm, credentials, next_on_failure):
        self.realm = realm
        self.credentials = credentials.encode('latin-1')
        colon = credentials.find(':')
        self.user_len = colon if colon >= 0 else None     # None: an htpasswd file
        self.next_on_failure = next_on_failure

    def user(self, env):
        """None: answer 401; '': go on without a user; else the user name the client proved (REMOTE_USER)."""
        if env.get('REMOTE_USER'):
            return ''
        header = env.get('HTTP_AUTHORIZATION') or ''
        if len(header) <= 7 or not self.credentials:
            return None
        if not header.startswith('Basic '):
            return None
        try:
            auth = base64.b64decode(header[6:].encode('latin-1'))
        except ValueError:
            return None
        if not auth:
            return None
        if self.user_len is None:
            n = htpasswd_user(self.credentials.decode('latin-1'), auth)
            if n > 0:
                return auth[:n].decode('latin-1')
        elif auth == self.credentials:
            # uWSGI sets REMOTE_USER to the user part; an empty user leaves it unset
            return auth[:self.user_len].decode('latin-1')
        return '' if self.next_on_failure else None
