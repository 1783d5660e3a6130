#!/usr/bin/env bash
# Makes DEST a copy of the working tree (no .git, build or reports) whose node_modules hold the
# s390x variants of the test runner's native packages, so the project's tests run under an s390x
# Node (qemu-user in ci/s390x.sh, the real-KVM guest in ci/real-kvm). build/ is left out:
# node-gyp-build prefers build/Release over prebuilds whatever its architecture.
set -euo pipefail
cd "$(dirname "$0")/../.."
dest="$1"
mkdir -p "$dest"
tar --exclude=./node_modules --exclude=./build --exclude=./.git --exclude=./reports -cf - . | tar -xf - -C "$dest"
cp -a node_modules "$dest/node_modules"
log="$(mktemp)"
(cd "$dest" && npm install --ignore-scripts --no-audit --no-fund --cpu=s390x --os=linux --libc=glibc >"$log" 2>&1) ||
  { cat "$log"; rm -f "$log"; exit 1; }
rm -rf "$log" "$dest/build"
