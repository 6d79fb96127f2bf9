"""The shared-memory scoreboard (docs/runtime-protocol.md §3, "Scoreboard").

Owns: the memfd (fallback: an unlinked file under /dev/shm), its layout, the worker-side
writers (struct.pack_into on the shared mmap, no syscall per request) and the master-side
readers used for stats, harakiri and loyalty.

Layout (little-endian): a 64-byte header (b'KSB1', u32 threads, u32 slots), then `slots`
worker slots of 64 + threads * 32 bytes. The master hands each worker a slot offset; a
generation has 2 * processes slots so a replacement never shares a slot with the worker it
replaces.
"""
import mmap
import os
import struct

HEADER = 64
WORKER = 64
CORE = 32
_W = struct.Struct('<QQQQQI')      # requests, exceptions, tx, running_time_us, avg_rt_us, accepting
_C = struct.Struct('<dQII')        # request_start, requests, read_errors, write_errors


class Scoreboard:
    def __init__(self, slots, threads):
        self.slots = slots
        self.threads = threads
        self.slot_size = WORKER + threads * CORE
        self.size = HEADER + slots * self.slot_size
        self.fd = _create(self.size)
        self.mm = mmap.mmap(self.fd, self.size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        self.mm[0:12] = b'KSB1' + struct.pack('<II', threads, slots)
        self.free = list(range(slots))

    def offset(self, slot):
        return HEADER + slot * self.slot_size

    def take(self):
        slot = self.free.pop(0)
        off = self.offset(slot)
        self.mm[off:off + self.slot_size] = bytes(self.slot_size)
        return slot

    def give_back(self, slot):
        if slot not in self.free:
            self.free.append(slot)

    def worker(self, slot):
        """-> (requests, exceptions, tx, running_time_us, avg_rt_us, accepting)"""
        return _W.unpack_from(self.mm, self.offset(slot))

    def core(self, slot, core):
        """-> (request_start, requests, read_errors, write_errors)"""
        return _C.unpack_from(self.mm, self.offset(slot) + WORKER + core * CORE)

    def close(self):
        try:
            self.mm.close()
        except (BufferError, ValueError):
            pass
        try:
            os.close(self.fd)
        except OSError:
            pass


def _create(size):
    try:
        fd = os.memfd_create('kaiser-scoreboard', 0)  # not CLOEXEC: exec'd workers inherit it by pass_fds
    except (AttributeError, OSError):
        import tempfile
        d = '/dev/shm' if os.path.isdir('/dev/shm') else None
        fd, path = tempfile.mkstemp(prefix='kaiser-scoreboard-', dir=d)
        os.unlink(path)
    os.set_inheritable(fd, False)
    os.ftruncate(fd, size)
    return fd


class SlotWriter:
    """Worker side: counters of one worker slot and its cores."""

    __slots__ = ('mm', 'off', 'requests', 'exceptions', 'tx', 'running', 'avg_rt', 'accepting')

    def __init__(self, mm, off):
        self.mm = mm
        self.off = off
        self.requests = 0
        self.exceptions = 0
        self.tx = 0
        self.running = 0
        self.avg_rt = 0
        self.accepting = 0

    def core_off(self, core):
        return self.off + WORKER + core * CORE

    def set_accepting(self, v):
        self.accepting = 1 if v else 0
        self.flush()

    def flush(self):
        try:
            _W.pack_into(self.mm, self.off, self.requests, self.exceptions, self.tx, self.running, self.avg_rt,
                         self.accepting)
        except (ValueError, TypeError):
            pass
