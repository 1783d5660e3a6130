// Drives every export of the addon (good and bad arguments) for ci/memcheck.sh. Plain CJS so
// valgrind runs node on it without the test runner.
const { openSync } = require('node:fs');
const addon = require(process.argv[2]);

const junk = [undefined, null, 'x', -1, 1.5, NaN, 2 ** 53, -1n, 2n ** 64n, {}, [], Symbol('s'), () => 0, new Uint16Array(64), new ArrayBuffer(64)];
const detached = () => {
  const u = new Uint8Array(64);
  structuredClone(u.buffer, { transfer: [u.buffer] });
  return u;
};
let thrown = 0;
let returned = 0;
const devNull = openSync('/dev/null', 'r+');
for (let round = 0; round < 3; round++) {
  for (const [name, fn] of Object.entries(addon)) {
    if (typeof fn !== 'function') continue;
    for (let pos = 0; pos < 6; pos++) {
      for (const bad of [...junk, detached()]) {
        const args = [devNull, new Uint8Array(64), null, null, 1, 0];
        args[pos] = bad;
        try {
          const r = fn(...args);
          if (r && typeof r === 'object' && typeof r.unmap === 'function') r.unmap();
          returned++;
        } catch {
          thrown++;
        }
      }
    }
  }
}
// The memop path with real buffers, the C loop, skeys, sregs, irq state on a non-KVM fd.
const desc = new Uint8Array(64);
new DataView(desc.buffer).setUint32(16, 16, true);
const buf = new Uint8Array(16);
for (let i = 0; i < 1000; i++) addon.memop(devNull, desc, buf, new Uint8Array(16));
addon.memopLoop(devNull, desc, buf, null, 1000);
addon.memopStructForTest(devNull, desc, buf, null);
addon.getSkeys(devNull, 0n, 4, new Uint8Array(4), 0);
addon.setSkeys(devNull, 0n, new Uint8Array(4), 0);
addon.getSregs(devNull, new Uint8Array(192));
addon.setSregs(devNull, new Uint8Array(192));
addon.getIrqState(devNull, new Uint8Array(72 * 4));
addon.setIrqState(devNull, new Uint8Array(72));
addon.encodeMemOpForTest(1n, 2n, 3, 4, 5n, 6, 7, 8n, 9);
for (let i = 0; i < 5; i++) addon.abi();
// Mappings: explicit unmap, double unmap, use after unmap, and ones left to the GC.
for (let i = 0; i < 50; i++) {
  const m = addon.mmapGuest(1n << 20n);
  m.writeU64(0, 1n);
  m.readU64(0);
  m.writeU32(8, 2);
  m.readU32(8);
  if (i % 2) {
    m.unmap();
    m.unmap();
    try {
      m.readU64(0);
    } catch {
      thrown++;
    }
  }
}
addon.setUserMemoryRegion(devNull, 0, 0, 0, addon.mmapGuest(1 << 20));
addon.close(devNull);
if (global.gc) global.gc();
console.log(`memcheck driver: ${thrown} typed throws, ${returned} calls returned`);
