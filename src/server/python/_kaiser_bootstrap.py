"""Makes the modules next to this file the package `_kaiser`: the first import of both entry points run as scripts,
start_master.py (a master started on its own) and host.py (the runtime host).

The modules are named after what they do (`http.py`, `config.py`, `log.py`), so the script's directory must not
stay first on sys.path, where it would shadow the stdlib and the application's own modules: it is removed, and the
modules are reached as `_kaiser.http`, `_kaiser.config`, … through a package object registered by hand (no
`__init__.py`, so nothing runs on import). This module's own name cannot clash with an application module.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def register(here=HERE):
    """Registers `here` as the package `_kaiser` and takes it off the front of sys.path."""
    if sys.path and os.path.abspath(sys.path[0] or '.') == here:
        del sys.path[0]
    pkg = type(sys)('_kaiser')     # types.ModuleType, without importing `types` into every master
    pkg.__path__ = [here]
    pkg.__file__ = os.path.join(here, '__init__.py')
    sys.modules['_kaiser'] = pkg
    return pkg


register()
