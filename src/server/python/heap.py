"""Giving the master's freed C heap back to the kernel before it forks workers (issues 17 and 19: PSS per vassal).

Starting a master leaves ~0.6 MB of freed blocks in glibc's heap (the .pyc files its imports read, the config text):
freed, but still dirty pages of the master, and a forked worker's allocations soon copy the pages around them. glibc
returns free pages inside the heap only when asked (`malloc_trim`); ctypes is the stdlib's way to ask. Elsewhere
(musl, no ctypes) this does nothing.

The runtime host calls `prepare()` before it forks: ctypes and the bound `malloc_trim` then live in pages every forked
master and worker shares with it, where importing ctypes and binding the function in each of them cost ~70 kB of
private memory per process (issue 13: mass-hosting PSS, /proc/PID/smaps_rollup before and after each step).

An ASGI vassal's master and worker do not trim (`trim_where_it_pays`): once kaiser's modules load from .pyc files
there is little freed heap left to return, and importing ctypes for it cost a 1-worker FastAPI vassal 0.31 MB more
private memory than it saved (issue 17, bench/asgi-pss-ab.py: bench/results/asgi-pss-ab.20261207-1912.txt, -1919.txt).
"""

_malloc_trim = None   # the bound C function, once prepared


def prepare():
    """Imports ctypes and binds malloc_trim once, so that later `trim()` calls (in this process or a forked one)
    only call it. False where it cannot be had."""
    global _malloc_trim
    if _malloc_trim is None:
        try:
            import ctypes
            _malloc_trim = ctypes.CDLL(None).malloc_trim
        except (ImportError, OSError, AttributeError):
            _malloc_trim = False
    return _malloc_trim is not False


def trim():
    """malloc_trim(0): hands the heap's free pages back to the kernel. True when it could be asked."""
    if not prepare():
        return False
    _malloc_trim(0)
    return True


def trim_where_it_pays(cfg):
    """`trim()` in the processes of a vassal where it pays: all but ASGI ones. True when the heap was trimmed."""
    if cfg.get('asgi'):
        return False
    return trim()
