// Writes an uncompressed newc cpio archive (the initramfs format the kernel unpacks) from a
// JSON manifest on stdin, since the host has no cpio binary and building device nodes needs no
// root this way. Manifest entries, in order (parents before children):
//   { "path": "bin/busybox", "file": "/abs/source" }             a regular file (mode from source)
//   { "path": "opt/tree", "tree": "/abs/dir", "skip": ["re"] }   a directory copied recursively
//   { "path": "init", "text": "...", "mode": 493 }                a file with the given content
//   { "path": "bin/sh", "symlink": "busybox" }
//   { "path": "dev", "dir": true }
//   { "path": "dev/console", "char": [5, 1] }
// Usage: node initramfs.mjs OUT.cpio < manifest.json
import { closeSync, fstatSync, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const [outPath] = process.argv.slice(2);
const manifest = JSON.parse(readFileSync(0, 'utf8'));
const out = openSync(outPath, 'w');
let offset = 0;
let inode = 1;
const seen = new Set();

function write(buf) {
  writeSync(out, buf);
  offset += buf.length;
}
function pad() {
  const n = (4 - (offset % 4)) % 4;
  if (n) write(Buffer.alloc(n));
}
function header(name, mode, size, rdev = [0, 0]) {
  const fields = [inode++, mode, 0, 0, 1, 0, size, 0, 0, rdev[0], rdev[1], Buffer.byteLength(name) + 1, 0];
  write(Buffer.from('070701' + fields.map((f) => f.toString(16).padStart(8, '0')).join(''), 'ascii'));
  write(Buffer.from(name + '\0'));
  pad();
}
function addDir(name) {
  if (seen.has(name)) return;
  seen.add(name);
  header(name, 0o040755, 0);
}
function addParents(name) {
  const parts = name.split('/');
  for (let i = 1; i < parts.length; i++) addDir(parts.slice(0, i).join('/'));
}
function addBytes(name, mode, bytes) {
  header(name, 0o100000 | mode, bytes.length);
  write(bytes);
  pad();
}
function addFile(name, source) {
  const fd = openSync(source, 'r');
  const { size, mode } = fstatSync(fd);
  header(name, 0o100000 | (mode & 0o7777), size);
  const chunk = Buffer.allocUnsafe(1 << 20);
  for (let done = 0; done < size; ) {
    const n = readSync(fd, chunk, 0, Math.min(chunk.length, size - done), done);
    if (n === 0) throw new Error(`${source} shrank while being archived`);
    write(chunk.subarray(0, n));
    done += n;
  }
  closeSync(fd);
  pad();
}
function addSymlink(name, target) {
  const bytes = Buffer.from(target);
  header(name, 0o120777, bytes.length);
  write(bytes);
  pad();
}
function addTree(name, source, skip) {
  addDir(name);
  for (const entry of readdirSync(source).sort()) {
    const from = join(source, entry);
    const to = `${name}/${entry}`;
    if (skip.some((re) => re.test(to))) continue;
    const st = lstatSync(from);
    if (st.isSymbolicLink()) addSymlink(to, readlinkSync(from));
    else if (st.isDirectory()) addTree(to, from, skip);
    else if (st.isFile()) addFile(to, from);
  }
}

for (const e of manifest) {
  addParents(e.path);
  if (e.dir) addDir(e.path);
  else if (e.file) addFile(e.path, e.file);
  else if (e.tree) addTree(e.path, e.tree, (e.skip ?? []).map((s) => new RegExp(s)));
  else if (e.text !== undefined) addBytes(e.path, e.mode ?? 0o644, Buffer.from(e.text));
  else if (e.symlink) addSymlink(e.path, e.symlink);
  else if (e.char) header(e.path, 0o020600, 0, e.char);
  else throw new Error(`manifest entry without content: ${JSON.stringify(e)}`);
  seen.add(e.path);
}
header('TRAILER!!!', 0, 0);
const tail = (512 - (offset % 512)) % 512;
if (tail) write(Buffer.alloc(tail));
closeSync(out);
console.log(`${outPath}: ${(offset / 2 ** 20).toFixed(1)} MiB, ${inode - 2} entries`);
