"""PHP as the app of a forked Python worker: `php-docroot`, `php-index`, `php-allowed-ext`, `php-set`,
`php-ini`, served by php-cgi over FastCGI (fastcgi.py), with uWSGI's php plugin semantics.

Owns: the php-cgi backends (one per request core, each listening on its own abstract unix socket handed
to it as fd 0, `PHP_FCGI_CHILDREN=0` so it serves alone, `PHP_FCGI_MAX_REQUESTS=0` so it never exits on
its own, killed with the worker through PR_SET_PDEATHSIG, restarted when one dies), mapping a URL to a
script (walk of the path segments, `php-index` for directories, `php-allowed-ext` → 403, missing → 404,
confinement to the docroot), the FastCGI parameters (the request's CGI variables plus SCRIPT_FILENAME,
SCRIPT_NAME, PATH_INFO, PATH_TRANSLATED, DOCUMENT_ROOT, REDIRECT_STATUS), and the response: php-cgi's
header block (`Status:`) parsed as CGI, the body streamed.

Harakiri, max-requests, keep-alive and the scoreboard are the request core's (core.py).
"""
import os
import _socket as socket
import subprocess
import time

from . import fastcgi
from . import log
from .cgi_head import head_end as _head_end, parse_head

START_TIMEOUT = 10.0
REALPATH_TTL = 2.0   # seconds a resolved script path is reused (PHP's own realpath cache keeps them 120 s)


class Backend:
    """One php-cgi process and the FastCGI connection to it."""

    def __init__(self, argv, env, name):
        self.argv = argv
        self.env = env
        self.name = name
        # Set by start(), cleared by stop(): the php-cgi process, the socket it accepts on, the FastCGI connection.
        self.proc = self.listener = self.conn = None

    def start(self):
        self.stop()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind('\0kaiser-php-%d-%s-%d' % (os.getpid(), self.name, id(self)))
        self.listener.listen(16)
        self.proc = subprocess.Popen(self.argv, stdin=self.listener.fileno(), env=self.env, close_fds=True,
                                     preexec_fn=_die_with_parent)
        self.conn = self._connect()
        try:
            ok = fastcgi.probe(self.conn, START_TIMEOUT)
        except OSError:
            ok = False
        self.conn.close()
        self.conn = None
        if not ok:
            code = self.proc.poll()
            self.stop()
            raise _load_error('php-cgi (%s) did not start%s' % (' '.join(self.argv),
                              ': exit status %s' % code if code is not None else ' within %g s' % START_TIMEOUT))

    def _connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.listener.getsockname())
        return s

    def connection(self):
        if self.proc is None or self.proc.poll() is not None:
            log.log('php-cgi backend %s is gone (exit %s): restarting it' % (
                self.name, self.proc.returncode if self.proc else None))
            self.start()
        if self.conn is None:
            self.conn = self._connect()
            self.conn.setblocking(False)
        return self.conn

    def drop(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
            self.conn = None

    def stop(self):
        self.drop()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        if self.listener is not None:
            self.listener.close()
            self.listener = None


def _which(name):
    """shutil.which for one command name (shutil would import bz2, lzma and zlib into every PHP worker)."""
    for d in os.environ.get('PATH', os.defpath).split(os.pathsep):
        path = os.path.join(d or '.', name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def _die_with_parent():
    """php-cgi must not outlive its worker (harakiri SIGKILLs the worker, not its children)."""
    import ctypes
    import signal
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG


def _plain(status, text):
    return 'response', status, [('Content-Type', 'text/plain')], [text.encode()]


class PhpApp:
    def __init__(self, cfg):
        root = cfg.get('php-docroot')
        self.docroot = os.path.realpath(root)
        if not os.path.isdir(self.docroot):
            raise _load_error('php-docroot %s: not a directory (%s)' % (root, self.docroot))
        self.index = [str(x) for x in cfg.get('php-index') or []] or ['index.php']
        self.realpaths = {}
        self.allowed = [str(x) for x in cfg.get('php-allowed-ext') or []]
        # php-cgi enforces max_execution_time itself; harakiri (the master's) must strike before this backstop
        hk = float(cfg.get('harakiri') or 0)
        self.timeout = hk + 30.0 if hk else 3600.0
        php = cfg.get('php-cgi-bin') or 'php-cgi'
        path = php if os.path.sep in php else _which(php)
        if not path or not os.access(path, os.X_OK):
            raise _load_error("php apps need php-cgi: cannot run %r; install the Debian package php-cgi, or set "
                              "php-cgi-bin to its path" % php)
        argv = [path]
        if cfg.get('php-ini'):
            argv += ['-c', os.path.abspath(cfg['php-ini'])]
        for item in cfg.get('php-set') or []:
            argv += ['-d', str(item)]
        env = {k: v for k, v in os.environ.items() if not k.startswith('KAISER_')}
        env.update({'PHP_FCGI_CHILDREN': '0', 'PHP_FCGI_MAX_REQUESTS': '0'})
        self.backends = [Backend(argv, env, str(i)) for i in range(max(1, int(cfg.get('threads') or 1)))]
        for b in self.backends:
            b.start()
        log.log('PHP app 0 (php-docroot %s) ready: %d php-cgi backend(s) (%s)' % (
            self.docroot, len(self.backends), path))

    # ── URL → script ──────────────────────────────────────────────────────────────────────────
    def realpath(self, path):
        """os.path.realpath, remembered for REALPATH_TTL: resolving costs an lstat per path component, and a
        deploy that swaps a symlink is seen within seconds."""
        now = time.monotonic()
        hit = self.realpaths.get(path)
        if hit is not None and hit[1] > now:
            return hit[0]
        real = os.path.realpath(path)
        if len(self.realpaths) > 4096:
            self.realpaths.clear()
        self.realpaths[path] = (real, now + REALPATH_TTL)
        return real

    def locate(self, path_info):
        """('script', path, SCRIPT_NAME, extra PATH_INFO), ('redirect', location) for a directory without its
        slash (as uWSGI), or ('response', status, headers, body)."""
        full = self.docroot
        script_name = ''
        extra = ''
        parts = path_info.split('/')
        for i, part in enumerate(parts):
            if not part:
                continue
            nxt = os.path.join(full, part)
            if os.path.isdir(nxt):
                full = nxt
                script_name += '/' + part
                continue
            if not os.path.exists(nxt):
                return _plain('404 Not Found', 'Not Found')
            full = nxt
            script_name += '/' + part
            if i + 1 < len(parts):
                extra = '/' + '/'.join(parts[i + 1:])
            break
        real = self.realpath(full)
        if real != self.docroot and not real.startswith(self.docroot + os.sep):
            log.log('PHP security error: %s is not under %s' % (real, self.docroot))
            return _plain('403 Forbidden', 'Forbidden')
        if os.path.isdir(real):
            if not path_info.endswith('/'):
                return 'redirect', path_info + '/'
            for name in self.index:
                cand = os.path.join(real, name)
                if os.path.isfile(cand):
                    real = cand
                    script_name = script_name.rstrip('/') + '/' + name
                    break
            else:
                return _plain('404 Not Found', 'Not Found')
        return 'script', real, script_name, extra

    # ── the request ───────────────────────────────────────────────────────────────────────────
    def __call__(self, environ, start_response):
        found = self.locate(environ.get('PATH_INFO', ''))
        if found[0] == 'response':
            start_response(found[1], found[2])
            return found[3]
        if found[0] == 'redirect':
            qs = environ.get('QUERY_STRING')
            start_response('301 Moved Permanently', [('Location', found[1] + ('?' + qs if qs else ''))])
            return []
        _, script, script_name, extra = found
        if self.allowed and not any(script.endswith(ext) for ext in self.allowed):
            _, status, headers, body = _plain('403 Forbidden', 'Forbidden')
            start_response(status, headers)
            return body
        params = {k: v for k, v in environ.items() if type(v) is str and k.isupper()}
        params.update({
            'GATEWAY_INTERFACE': 'CGI/1.1', 'SERVER_SOFTWARE': params.get('SERVER_SOFTWARE') or 'kaiser',
            'REDIRECT_STATUS': '200', 'DOCUMENT_ROOT': self.docroot, 'SCRIPT_FILENAME': script,
            'SCRIPT_NAME': script_name, 'PATH_INFO': extra,
        })
        if extra:
            params['PATH_TRANSLATED'] = self.docroot + extra
        inp = environ['wsgi.input']
        chunked = params.pop('HTTP_TRANSFER_ENCODING', None) is not None
        if chunked:
            data = inp.read()       # PHP learns the body's length from CONTENT_LENGTH
            params['CONTENT_LENGTH'] = str(len(data))
            reader = _Once(data).read
        else:
            reader = inp.read if params.get('CONTENT_LENGTH', '0') not in ('', '0') else None
        backend = self.backends[environ.get('uwsgi.core', 0) % len(self.backends)]
        return self.respond(backend, params, reader, start_response)

    def respond(self, backend, params, reader, start_response):
        try:
            conn = backend.connection()
        except Exception as e:
            log.log('PHP: no backend: %s' % e)
            _, status, headers, body = _plain('502 Bad Gateway', 'Bad Gateway')
            start_response(status, headers)
            return body
        ex = fastcgi.Exchange(conn, params, reader, self.timeout)
        events = ex.events()
        out = []          # stdout received so far
        head_at = None    # (end of the header block, start of the body) once seen
        finished = False
        try:
            for kind, data in events:
                if kind == 'stdout':
                    out.append(data)
                    if head_at is None:
                        head_at = _head_end(b''.join(out)) if len(out) > 1 else _head_end(data)
                elif kind == 'batch':
                    if head_at is not None:
                        break     # the head is in; stream the rest unless it all came already
                elif kind == 'stderr':
                    log.log('[php] %s' % data.decode('utf-8', 'replace').rstrip())
                else:
                    finished = True
                    break
        except (fastcgi.BackendGone, TimeoutError) as e:
            backend.drop()
            backend.stop()
            log.log('PHP: %s (%s)' % (e, params.get('SCRIPT_FILENAME')))
            _, status, headers, body = _plain('502 Bad Gateway', 'Bad Gateway')
            start_response(status, headers)
            return body
        data = b''.join(out)
        if head_at is None:
            status, headers = parse_head(data)
            rest = b''
        else:
            status, headers = parse_head(data[:head_at[0]])
            rest = data[head_at[1]:]
        start_response(status, headers)
        if finished:
            return [rest]   # the whole answer: the core sends it with a Content-Length, in one write
        return self.body(backend, events, rest)

    def body(self, backend, events, rest):
        done = False
        try:
            if rest:
                yield rest
            for kind, data in events:
                if kind == 'stdout':
                    yield data
                elif kind == 'stderr':
                    log.log('[php] %s' % data.decode('utf-8', 'replace').rstrip())
                elif kind == 'end':
                    break
            done = True
        except (fastcgi.BackendGone, TimeoutError) as e:
            log.log('PHP: %s mid-response' % e)
            raise
        finally:
            if not done:
                # the client left (or the backend failed) mid-response: this connection is out of step
                backend.drop()
                backend.stop()


class _Once:
    def __init__(self, data):
        self.data = data

    def read(self, n):
        out, self.data = self.data[:n], self.data[n:]
        return out


def _load_error(msg):
    from .loader import LoadError
    return LoadError(msg)
