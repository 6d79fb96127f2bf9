"""Giving the master's freed C heap back to the kernel before it forks workers (issues 17 and 19: PSS per vassal).

Starting a master leaves ~0.6 MB of freed blocks in glibc's heap (the .pyc files its imports read, the config text):
freed, but still dirty pages of the master, and a forked worker's allocations soon copy the pages around them. glibc
returns free pages inside the heap only when asked (`malloc_trim`); ctypes is the stdlib's way to ask. Elsewhere
(musl, no ctypes) this does nothing.
"""


def trim():
    """malloc_trim(0): hands the heap's free pages back to the kernel. True when it could be asked."""
    try:
        import ctypes
        ctypes.CDLL(None).malloc_trim(0)
    except (ImportError, OSError, AttributeError):
        return False
    return True
