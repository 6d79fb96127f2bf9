"""Loading the WSGI application inside a worker (after the fork, so each reload imports
fresh code).

Owns: `chdir`, `env`, `pythonpath`, the CGI and PHP bridges (cgi_app.py, php_app.py), `wsgi-file` (executed as module `uwsgi_file_<mangled
path>` like uWSGI), `module` (`mod` or `mod:callable`), `callable`, `asgi` (`mod:attr`).
"""
import os
import sys


class LoadError(Exception):
    pass


def mangle(path):
    base = path[:-3] if path.endswith('.py') else path
    return 'uwsgi_file_' + ''.join(ch if ch.isalnum() else '_' for ch in base)


def prepare(cfg):
    """Process-wide settings that must precede the import (and that node workers share)."""
    if cfg.get('chdir'):
        os.chdir(cfg['chdir'])
    for k, v in (cfg.get('env') or {}).items():
        os.environ[str(k)] = str(v)


def preload(cfg):
    """In the master, before it forks the workers: imports the CGI or PHP bridge (and subprocess, which both start
    their scripts or php-cgi with), so the workers share those pages instead of each importing a private copy (issue
    19: PSS per vassal). A WSGI app itself is imported after the fork (each reload imports fresh code)."""
    if cfg.get('cgi'):
        from . import cgi_app  # noqa: F401
    elif cfg.get('php-docroot'):
        from . import php_app  # noqa: F401


def load(cfg):
    """Import the app and return its callable; raises on any failure."""
    if cfg.get('cgi'):
        from .cgi_app import CgiApp
        return CgiApp(cfg)
    if cfg.get('php-docroot'):
        from .php_app import PhpApp
        return PhpApp(cfg)
    cwd = os.getcwd()
    paths = [os.path.abspath(p) for p in (cfg.get('pythonpath') or [])]
    for p in reversed(paths + [cwd]):
        if p not in sys.path:
            sys.path.insert(0, p)
    name = cfg.get('callable') or 'application'
    if cfg.get('wsgi-file'):
        path = os.path.abspath(cfg['wsgi-file'])
        if not os.path.isfile(path):
            raise LoadError('failed to open python file %s' % cfg['wsgi-file'])
        d = os.path.dirname(path)
        if d not in sys.path:
            sys.path.insert(len(paths) + 1, d)
        modname = mangle(path)
        with open(path, 'rb') as f:
            code = compile(f.read(), path, 'exec')
        module = type(sys)(modname)
        module.__file__ = path
        module.__builtins__ = __builtins__
        sys.modules[modname] = module
        try:
            exec(code, module.__dict__)
        except BaseException:
            sys.modules.pop(modname, None)
            raise
    elif cfg.get('module'):
        modname, _, attr = str(cfg['module']).partition(':')
        if attr:
            name = attr
        __import__(modname)
        module = sys.modules[modname]
    elif cfg.get('asgi'):
        # uvicorn's MOD:ATTR; without ATTR, `app` (FastAPI, Starlette) or else `application` (Django's asgi.py)
        modname, _, attr = str(cfg['asgi']).partition(':')
        __import__(modname)
        module = sys.modules[modname]
        name = attr or ('app' if hasattr(module, 'app') else 'application')
    else:
        raise LoadError('no app configured (wsgi-file, module or asgi)')
    call = name.endswith('()')
    target = module
    for part in (name[:-2] if call else name).split('.'):
        target = getattr(target, part, None)
        if target is None:
            raise LoadError('callable %r not found in %s' % (name, getattr(module, '__file__', module)))
    if call:
        target = target()
    if not callable(target):
        raise LoadError('%r is not callable' % name)
    return target
