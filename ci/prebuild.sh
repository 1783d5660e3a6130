#!/usr/bin/env bash
# Builds the committed prebuild for one architecture with prebuildify (N-API, stripped) and
# records the source hash next to it.
#   bash ci/prebuild.sh x64     native build on an x86_64 host
#   bash ci/prebuild.sh s390x   cross build with s390x-linux-gnu-g++ (apt-get install g++-s390x-linux-gnu)
# Node-API headers are architecture-neutral: the host's (/usr/include/node) serve both builds.
set -euo pipefail
cd "$(dirname "$0")/.."
arch="${1:?usage: ci/prebuild.sh x64|s390x}"
nodedir="${npm_config_nodedir:-}"
if [ -z "$nodedir" ]; then
  nodedir="$(dirname "$(dirname "$(command -v node)")")"
fi
[ -f "$nodedir/include/node/node_api.h" ] || { echo "no Node headers under $nodedir/include/node (set npm_config_nodedir)" >&2; exit 1; }
export npm_config_nodedir="$nodedir"
started=$(date +%s.%N)
# A build/ left by node-gyp or cmake-js would not disturb prebuildify, but node-gyp-build
# prefers build/Release over prebuilds/: prebuildify cleans it for us.
case "$arch" in
  x64)
    npx prebuildify --napi --strip --arch=x64 --platform=linux
    ;;
  s390x)
    command -v s390x-linux-gnu-g++ >/dev/null || { echo "s390x-linux-gnu-g++ missing: apt-get install -y g++-s390x-linux-gnu" >&2; exit 1; }
    CC=s390x-linux-gnu-gcc CXX=s390x-linux-gnu-g++ LINK=s390x-linux-gnu-g++ AR=s390x-linux-gnu-ar \
      npx prebuildify --napi --strip --strip-bin=s390x-linux-gnu-strip --arch=s390x --platform=linux
    ;;
  *)
    echo "unknown arch $arch" >&2
    exit 1
    ;;
esac
rm -rf build
out="prebuilds/linux-$arch"
node ci/source-hash.mjs > "$out/SOURCES.sha256"
node ci/check-elf.mjs "$out"/*.node "$arch"
ls -l "$out"
echo "prebuild linux-$arch took $(echo "$(date +%s.%N) - $started" | bc) s"
