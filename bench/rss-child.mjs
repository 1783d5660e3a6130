// Run by bench/run.mjs as `node --expose-gc bench/rss-child.mjs`, alone in its process so the
// RSS figures are not mixed with the other benchmarks' garbage. Prints one JSON line.
//
// "Touching" a page = one 1-byte ABSOLUTE_WRITE into it through the public vm.memop, which
// makes the model allocate that 4 KiB page (the cost a guest pays for a page it has written).
// The touched pages are every (1/fraction)-th page of the guest, spread over the whole 1 TiB.
import { openBackend, MEMOP } from '../dist/index.js';

const TIB = 1n << 40n;
const PAGE = 4096;
const fraction = Number(process.env.BENCH_TOUCH_FRACTION ?? 0.01);

function settle() {
  globalThis.gc();
  globalThis.gc();
  return process.memoryUsage();
}

const backend = openBackend({ kind: 'emulated' });
const before = settle();
const t0 = process.hrtime.bigint();
const vm = backend.createVm({ memorySize: TIB });
const createNs = Number(process.hrtime.bigint() - t0);
const untouched = settle();

const pages = Number(TIB / BigInt(PAGE));
const stride = Math.round(1 / fraction);
const buf = Uint8Array.of(0xa5);
const desc = { op: MEMOP.ABSOLUTE_WRITE, gaddr: 0n, size: 1, buf };
let touchedPages = 0;
const t1 = process.hrtime.bigint();
for (let pfn = 0; pfn < pages; pfn += stride) {
  desc.gaddr = BigInt(pfn * PAGE + (pfn % PAGE));
  if (vm.memop(desc) !== 0) throw new Error(`touching page ${pfn} failed`);
  touchedPages++;
}
const touchNs = Number(process.hrtime.bigint() - t1);
const touched = settle();
// Read one back so the pages are known to be live until after the measurement.
const check = new Uint8Array(1);
vm.memop({ op: MEMOP.ABSOLUTE_READ, gaddr: BigInt(stride * PAGE + (stride % PAGE)), size: 1, buf: check });
if (check[0] !== 0xa5) throw new Error('touched byte not read back');

process.stdout.write(
  JSON.stringify({
    memorySize: Number(TIB),
    createNs,
    rssBefore: before.rss,
    rssUntouched: untouched.rss,
    rssTouched: touched.rss,
    heapUsedTouched: touched.heapUsed,
    arrayBuffersTouched: touched.arrayBuffers,
    touchedPages,
    touchedBytes: touchedPages * PAGE,
    touchNs,
    fraction,
  }) + '\n',
);
vm.close();
backend.close();
