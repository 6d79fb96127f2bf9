"""CGI (RFC 3875) as the app of a forked Python worker: `cgi = [MOUNT=]DIR` (or a script), with
uWSGI's cgi plugin semantics (plugins/cgi/cgi_plugin.c) so its configs behave the same.

Owns: mapping a URL to a script (longest mountpoint, walk of the path segments, index files for
directory URLs, 301 to add a slash, realpath confinement to the docroot), `cgi-allowed-ext` (403),
`cgi-helper` (`.ext=command`), the script's environment (the request variables over the worker's
environment, GATEWAY_INTERFACE, SERVER_SOFTWARE, REDIRECT_STATUS, SCRIPT_NAME, SCRIPT_FILENAME,
PATH_INFO, PATH_TRANSLATED, DOCUMENT_ROOT), the ISINDEX argv of RFC 3875 §4.4, feeding the request
body on stdin, parsing the script's header block (`Status:`, `Location:` without a status = 302),
streaming its output, and `cgi-timeout` (uWSGI's default 60 s between two reads of the output; the
script is killed and, before any output, the client gets 504).

The request core (core.py) does the HTTP/uwsgi side: keep-alive, framing (Content-Length when the
script sends one, else chunked), harakiri and the scoreboard.
"""
import os
import select
import subprocess
import sys

from . import log
from .cgi_head import head_end as _head_end, parse_head

VERSION = '2.0.21'   # SERVER_SOFTWARE says uWSGI/…: scripts that check it keep working
HEAD_LIMIT = 65536   # uWSGI's cgi-buffer-size: the header block must fit


class Mount:
    __slots__ = ('prefix', 'path', 'is_file')

    def __init__(self, prefix, path):
        self.prefix = prefix     # URL prefix ('' for the default entry)
        self.path = path         # realpath of the directory or script
        self.is_file = not os.path.isdir(path)


def _plain(status, text):
    body = text.encode()
    return status, [('Content-Type', 'text/plain')], [body]


class CgiApp:
    """The WSGI callable serving every `cgi` entry of the config."""

    def __init__(self, cfg):
        self.mounts = []
        self.default = None
        for item in cfg.get('cgi') or []:
            prefix, eq, path = str(item).partition('=')
            if not eq:
                prefix, path = '', prefix
            real = os.path.realpath(path)
            if not os.path.exists(real):
                raise _load_error('cgi %s: no such file or directory (%s)' % (item, real))
            m = Mount(prefix, real)
            if prefix:
                self.mounts.append(m)
            else:
                self.default = m
        self.index = [str(x) for x in cfg.get('cgi-index') or []]
        self.allowed = [str(x) for x in cfg.get('cgi-allowed-ext') or []]
        self.helpers = []
        for item in cfg.get('cgi-helper') or []:
            ext, eq, cmd = str(item).partition('=')
            if not eq or not cmd:
                raise _load_error('cgi-helper %r: expected EXT=COMMAND' % item)
            self.helpers.append((ext, cmd))
        self.timeout = float(cfg.get('cgi-timeout') or 0) or 60.0
        self.base_env = {k: v for k, v in os.environ.items() if not k.startswith('KAISER_')}

    # ── URL → script ──────────────────────────────────────────────────────────────────────────
    def locate(self, path_info):
        """(mount, script path, SCRIPT_NAME base length, extra PATH_INFO) or a ready response tuple."""
        best, discard = None, 0
        for m in self.mounts:
            if path_info.startswith(m.prefix) and len(m.prefix) > discard:
                best, discard = m, len(m.prefix)
                if m.prefix.endswith('/'):
                    discard -= 1
        if best is None:
            best, discard = self.default, 0
        if best is None:
            return _plain('404 Not Found', 'Not Found')
        if best.is_file:
            return best, best.path, discard, path_info[discard:]
        rel = path_info[discard:]
        full = best.path
        extra = None
        parts = rel.split('/')
        # walk the segments: the first one that is not a directory is the script, the rest is PATH_INFO
        for i, part in enumerate(parts):
            if not part:
                continue
            nxt = os.path.join(full, part)
            try:
                isdir = os.path.isdir(nxt)
                if not isdir and not os.path.exists(nxt):
                    return _plain('404 Not Found', 'Not Found')
            except (OSError, ValueError):
                return _plain('404 Not Found', 'Not Found')
            full = nxt
            if not isdir:
                rest = '/'.join(parts[i + 1:])
                if i + 1 < len(parts):
                    extra = '/' + rest
                break
        real = os.path.realpath(full)
        if real != best.path and not real.startswith(best.path + os.sep):
            log.log('CGI security error: %s is not under %s' % (real, best.path))
            return _plain('403 Forbidden', 'Forbidden')
        if os.path.isdir(real):
            if not path_info.endswith('/'):
                return ('301 Moved Permanently', [('Location', None)], [])
            for name in self.index:
                cand = os.path.join(real, name)
                if os.access(cand, os.R_OK):
                    real = cand
                    break
            else:
                return _plain('404 Not Found', 'Not Found')
        return best, real, discard, extra

    def helper(self, script):
        for ext, cmd in self.helpers:
            if script.endswith(ext):
                return cmd
        return None

    # ── the request ───────────────────────────────────────────────────────────────────────────
    def __call__(self, environ, start_response):
        path_info = environ.get('PATH_INFO', '')
        found = self.locate(path_info)
        if len(found) == 3:
            status, headers, body = found
            if status.startswith('301'):
                qs = environ.get('QUERY_STRING')
                headers = [('Location', path_info + '/' + ('?' + qs if qs else ''))]
            start_response(status, headers)
            return body
        mount, script, discard, extra = found
        if self.allowed and not any(script.endswith(ext) for ext in self.allowed):
            start_response(*_plain('403 Forbidden', 'Forbidden')[:2])
            return [b'Forbidden']
        helper = None if mount.is_file else self.helper(script)
        if helper is None and not os.access(script, os.X_OK):
            log.log('CGI: %s is not executable' % script)
            start_response(*_plain('403 Forbidden', 'Forbidden')[:2])
            return [b'Forbidden']
        if 'HTTP_TRANSFER_ENCODING' in environ:
            # RFC 3875 §4.1.2: a script learns the body's length from CONTENT_LENGTH, so a chunked body is read first
            data = environ['wsgi.input'].read()
            environ['CONTENT_LENGTH'] = str(len(data))
            environ['wsgi.input'] = _Buffered(data)
            del environ['HTTP_TRANSFER_ENCODING']
        env = self.environ(environ, mount, script, discard, extra)
        argv = [helper, script] if helper else [script]
        qs = environ.get('QUERY_STRING', '')
        if qs and '=' not in qs:
            argv += [_unquote_arg(a) for a in qs.split('+') if a]
        return self.run(argv, env, environ, start_response, os.path.dirname(script) if not mount.is_file else None)

    def environ(self, environ, mount, script, discard, extra):
        env = dict(self.base_env)
        for k, v in environ.items():
            if type(v) is str and k.isupper():
                env[k] = v
        env.setdefault('GATEWAY_INTERFACE', 'CGI/1.1')
        env.setdefault('SERVER_SOFTWARE', 'uWSGI/' + VERSION)
        env.setdefault('REDIRECT_STATUS', '200')
        if extra:
            env['PATH_INFO'] = extra
            env['PATH_TRANSLATED'] = (mount.path if not mount.is_file else os.path.dirname(mount.path)) + extra
        else:
            env.pop('PATH_INFO', None)
            env.pop('PATH_TRANSLATED', None)
        path_info = environ.get('PATH_INFO', '')
        if mount.is_file:
            env.setdefault('DOCUMENT_ROOT', os.getcwd())
            env.setdefault('SCRIPT_FILENAME', script)
            if discard > 1:
                env['SCRIPT_NAME'] = path_info[:discard]
        else:
            env.setdefault('DOCUMENT_ROOT', mount.path)
            env.setdefault('SCRIPT_FILENAME', script)
            env['SCRIPT_NAME'] = path_info[:discard] + script[len(mount.path):]
        return env

    def run(self, argv, env, environ, start_response, cwd):
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=cwd,
                                    close_fds=True, bufsize=0)
        except OSError as e:
            log.log('CGI: cannot run %s: %s' % (' '.join(argv), e))
            start_response(*_plain('500 Internal Server Error', 'Internal Server Error')[:2])
            return [b'Internal Server Error']
        return self.respond(proc, environ, start_response)

    def respond(self, proc, environ, start_response):
        out = proc.stdout.fileno()
        inp = environ['wsgi.input']
        try:
            head, rest = self.read_head(proc, out, inp, environ)
        except _Timeout:
            _kill(proc)
            log.log('CGI timeout !!! (%s)' % proc.args[-1])
            start_response(*_plain('504 Gateway Timeout', 'Gateway Timeout')[:2])
            return [b'Gateway Timeout']
        if head is None:
            _kill(proc)
            log.log('invalid CGI output !!! (%s)' % proc.args[-1])
            start_response(*_plain('500 Internal Server Error', 'Internal Server Error')[:2])
            return [b'Internal Server Error']
        status, headers = parse_head(head)
        start_response(status, headers)
        return self.body(proc, out, rest, start_response)

    def read_head(self, proc, out, inp, environ):
        """Feed the request body to stdin while reading stdout until the header block ends."""
        stdin = proc.stdin.fileno()
        os.set_blocking(stdin, False)
        length = environ.get('CONTENT_LENGTH')
        todo = b''
        body_left = int(length) if length and length.isdigit() else (-1 if 'HTTP_TRANSFER_ENCODING' in environ else 0)
        if body_left == 0:
            proc.stdin.close()
            stdin = None
        buf = b''
        poller = select.poll()
        poller.register(out, select.POLLIN)
        if stdin is not None:
            poller.register(stdin, select.POLLOUT)
        while True:
            end = _head_end(buf)
            if end is not None:
                if stdin is not None:
                    self.finish_input(proc, inp, todo, body_left)
                return buf[:end[0]], buf[end[1]:]
            if len(buf) > HEAD_LIMIT:
                return None, b''
            events = poller.poll(self.timeout * 1000)
            if not events:
                raise _Timeout()
            for fd, ev in events:
                if fd == out:
                    d = os.read(out, 65536)
                    if not d:
                        return None, b''
                    buf += d
                elif stdin is not None:
                    if not todo and body_left != 0:
                        want = 65536 if body_left < 0 else min(body_left, 65536)
                        todo = inp.read(want)
                        if not todo:
                            body_left = 0
                        elif body_left > 0:
                            body_left -= len(todo)
                    try:
                        n = os.write(stdin, todo) if todo else 0
                        todo = todo[n:]
                    except BlockingIOError:
                        pass
                    except OSError:
                        todo, body_left = b'', 0
                    if not todo and body_left == 0:
                        poller.unregister(stdin)
                        proc.stdin.close()
                        stdin = None

    def finish_input(self, proc, inp, todo, body_left):
        """The script answered before reading all of the body: give it the rest (it may still read)."""
        try:
            os.set_blocking(proc.stdin.fileno(), True)
            while todo or body_left != 0:
                if todo:
                    proc.stdin.write(todo)
                want = 65536 if body_left < 0 else min(body_left, 65536)
                todo = inp.read(want) if body_left != 0 else b''
                if not todo:
                    break
                if body_left > 0:
                    body_left -= len(todo)
        except OSError:
            pass
        try:
            proc.stdin.close()
        except OSError:
            pass

    def body(self, proc, out, rest, start_response):
        finished = False
        sent = bool(rest)
        try:
            if rest:
                yield rest
            poller = select.poll()
            poller.register(out, select.POLLIN)
            while True:
                if not poller.poll(self.timeout * 1000):
                    log.log('CGI timeout !!! (%s)' % proc.args[-1])
                    if sent:
                        raise _Timeout()   # mid-body: the connection is closed under the client
                    # nothing of the body went out, so neither did the head (PEP 3333): answer 504 instead
                    try:
                        raise _Timeout()
                    except _Timeout:
                        start_response('504 Gateway Timeout', [('Content-Type', 'text/plain')], sys.exc_info())
                    yield b'Gateway Timeout'
                    break
                d = os.read(out, 65536)
                if not d:
                    finished = True
                    break
                sent = True
                yield d
        finally:
            if finished:
                proc.stdout.close()
                proc.wait()
            else:
                _kill(proc)   # the client left, or the script timed out


class _Timeout(Exception):
    pass


class _Buffered:
    """A request body already read (a chunked one)."""

    def __init__(self, data):
        self.data = data

    def read(self, n=-1):
        if n is None or n < 0:
            n = len(self.data)
        out, self.data = self.data[:n], self.data[n:]
        return out


def _kill(proc):
    try:
        proc.kill()
    except OSError:
        pass
    for f in (proc.stdin, proc.stdout):
        try:
            if f:
                f.close()
        except OSError:
            pass
    try:
        proc.wait()
    except OSError:
        pass


def _unquote_arg(a):
    from .http import unquote
    return unquote(a)


def _load_error(msg):
    from .loader import LoadError
    return LoadError(msg)
