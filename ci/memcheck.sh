#!/usr/bin/env bash
# Valgrind memcheck over the addon: a debug build (-O1 -g) driven through every export with
# good and bad arguments (ci/memcheck-driver.cjs). Fails on any memcheck error or definite
# leak whose stack passes through our code (native/*.cc); V8's own noise is not ours to fix
# and is only counted.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind missing: apt-get install -y valgrind" >&2; exit 1; }
t0=$SECONDS
work="$(mktemp -d /tmp/kvm-s390-memcheck.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cp -a native binding.gyp package.json "$work/"
ln -s "$PWD/node_modules" "$work/node_modules"
nodedir="${npm_config_nodedir:-$(dirname "$(dirname "$(command -v node)")")}"
(cd "$work" && CXXFLAGS="-O1 -g -fno-omit-frame-pointer" npx --no-install node-gyp rebuild --debug --nodedir="$nodedir" >"$work/build.log" 2>&1) ||
  { cat "$work/build.log"; exit 1; }
addon="$work/build/Debug/kvm_s390.node"
log="$work/valgrind.log"
valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
  --num-callers=40 --log-file="$log" node --expose-gc ci/memcheck-driver.cjs "$addon"
# One record per blank-line-separated block; ours if any frame is in native/*.cc.
node - "$log" <<'JS'
const text = require('node:fs').readFileSync(process.argv[2], 'utf8');
const blocks = text.split(/\n==\d+== \n/).map((b) => b.replace(/^==\d+== ?/gm, ''));
const isRecord = (b) => /^(Invalid|Conditional|Use of uninitialised|Syscall param|Mismatched|Source and destination|Argument|\d[\d,]* bytes in [\d,]+ blocks are definitely lost)/m.test(b);
const records = blocks.filter(isRecord);
const ours = records.filter((b) => /native\/[a-z_]+\.(cc|h):\d+|kvm_s390\.node/.test(b));
const summary = (text.match(/ERROR SUMMARY: .*/) ?? ['ERROR SUMMARY: ?'])[0];
console.log(`valgrind: ${summary.replace(/^==\d+== /, '')}; records involving our code: ${ours.length}`);
for (const b of ours) console.log(`---\n${b}`);
process.exitCode = ours.length ? 1 : 0;
JS
mkdir -p reports && cp "$log" reports/memcheck-valgrind.log
echo "ci/memcheck.sh took $((SECONDS - t0)) s"
