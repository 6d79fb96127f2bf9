/**
 * Reads a file a tenant may control (a vassal file, a defaults file) the one safe way: the name is opened once,
 * with O_NOFOLLOW|O_NONBLOCK|O_NOCTTY, and everything known about the file (type, size, owner, inode, mtime) comes
 * from `fstat` on that descriptor, and the content from reads on that same descriptor. So:
 *
 * - a FIFO cannot block a thread of libuv's pool (O_NONBLOCK; and a FIFO is never read), a device (`/dev/zero`) or
 *   a directory is never read, a file over `maxBytes` is never read, and one that grows after fstat is cut at
 *   `maxBytes + 1` bytes and reported as too large;
 * - a symlink swap between "who owns it" and "what does it say" is impossible: owner and content are one file.
 *
 * A symlink is followed (uWSGI follows symlinks in the vassal directory, and operators link vassal files in from
 * their apps) but by hand, so that the descriptor is the final target's: the link is `lstat`ed, its target resolved
 * with `realpath`, the target `lstat`ed (anything but a regular file is reported without being opened, so a link to
 * a device never opens it), then opened with O_NOFOLLOW. The link's own owner is reported beside the target's, so
 * tyrant mode can refuse a link whose owner does not own the target (directory-source.ts). A link whose target
 * does not exist counts as missing, as in uWSGI (its glob skips a name it cannot stat).
 */
import {constants, type Stats} from 'node:fs';
import {lstat, open, realpath} from 'node:fs/promises';
import {BoundedRead} from './bounded-read.js';
import type {FileStat, FileType, ReadOnce} from './system.js';

const FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY; // libuv adds O_CLOEXEC

/** The type of a file from its stat. */
export function fileTypeOf(st: Stats): FileType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isFIFO()) return 'fifo';
  if (st.isCharacterDevice()) return 'character-device';
  if (st.isBlockDevice()) return 'block-device';
  if (st.isSocket()) return 'socket';
  if (st.isSymbolicLink()) return 'symlink';
  return 'other';
}

function fileStatOf(st: Stats): FileStat {
  return {ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, uid: st.uid, gid: st.gid, isFile: st.isFile(), type: fileTypeOf(st)};
}

const codeOf = (error: unknown): string => (error as NodeJS.ErrnoException).code ?? String(error);

/** Opens `path` once and reads it from that descriptor (see the module header). Never throws. */
export async function readOnce(path: string, maxBytes: number): Promise<ReadOnce> {
  let target = path;
  let link: {uid: number; gid: number} | undefined;
  try {
    const named = await lstat(path);
    if (named.isSymbolicLink()) {
      link = {uid: named.uid, gid: named.gid};
      target = await realpath(path);
      const final = await lstat(target);
      // Never open what is not a regular file: opening a device can have effects of its own.
      if (!final.isFile()) return {kind: 'opened', stat: fileStatOf(final), link};
    } else if (!named.isFile()) {
      return {kind: 'opened', stat: fileStatOf(named)};
    }
  } catch (error) {
    const code = codeOf(error);
    // No such name, or a dangling symlink: missing (the unlink event, if any, follows).
    return code === 'ENOENT' || code === 'ENOTDIR' ? {kind: 'missing'} : {kind: 'failed', code};
  }
  let handle;
  try {
    handle = await open(target, FLAGS);
  } catch (error) {
    const code = codeOf(error);
    // Replaced by a symlink (ELOOP) or removed since the lstat: report what a second look finds.
    return code === 'ENOENT' ? {kind: 'missing'} : {kind: 'failed', code};
  }
  try {
    const st = fileStatOf(await handle.stat());
    if (st.type !== 'file' || st.size > maxBytes) return {kind: 'opened', stat: st, ...(link ? {link} : {})};
    // Reads until EOF, at most one byte past the limit: a file that grew after fstat is read whole or caught.
    const into = new BoundedRead(maxBytes, st.size + 1);
    for (let room = into.room(); room !== undefined; room = into.room()) {
      if (!into.took((await handle.read(room, 0, room.length, into.length)).bytesRead)) break;
    }
    return {kind: 'opened', stat: {...st, size: Math.max(st.size, into.length)}, ...(link ? {link} : {}), text: into.bytes};
  } catch (error) {
    return {kind: 'failed', code: codeOf(error)};
  } finally {
    await handle.close().catch(() => undefined);
  }
}
