#!/usr/bin/env bash
# Fetches the Debian s390x kernel of a suite (bookworm, trixie, forky, sid, experimental) once
# into the cache and prints its folder: vmlinuz, kvm.ko and the modules it depends on
# (decompressed, since busybox's insmod hands the raw file to init_module), and a VERSION file
# with the exact package and version.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
suite="$1"
CACHE="${KVM_S390_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kvm-s390-ci}"
# shellcheck source=../lib/debian-s390x.sh
source "$here/../lib/debian-s390x.sh"

# The newest linux-image-<release>-s390x of the suite whose .deb the mirror really serves (a
# suite's lists can name a point release before its files reach the pool). Since 7.x the image
# package is split: the kernel is in linux-binary-<release>, the modules in linux-modules-<release>.
work="$(mktemp -d /tmp/kernel-fetch.XXXXXX)"
trap 'rm -rf "$work"' EXIT
candidates="$(debian_cache "$suite" search '^linux-image-[0-9].*-s390x$' | cut -d' ' -f1 | sort -rV)"
pkg=""
for c in $candidates; do
  rm -rf "$work/debs"
  if debian_download "$suite" "$work/debs" "$c" 2>/dev/null; then pkg="$c"; break; fi
  echo "kernel.sh: $c is listed in $suite but not served; trying an older one" >&2
done
[ -n "$pkg" ] || { echo "kernel.sh: no downloadable linux-image-*-s390x in $suite" >&2; exit 1; }
version="$(debian_version "$suite" "$pkg")"
dir="$CACHE/kernels/$pkg-$version"
if [ -f "$dir/VERSION" ]; then echo "$dir"; exit 0; fi
split="${pkg#linux-image-}"
contents="$(dpkg-deb -c "$work"/debs/*.deb)"
if [[ "$contents" != */vmlinuz-* ]]; then
  debian_download "$suite" "$work/debs" "linux-binary-$split" "linux-modules-$split"
fi
for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
rm -rf "$dir.tmp" && mkdir -p "$dir.tmp/modules"
first() { for f in "$@"; do [ -e "$f" ] && { echo "$f"; return; }; done; }
cp "$(first "$work"/root/boot/vmlinuz-* "$work"/root/usr/lib/modules/*/vmlinuz)" "$dir.tmp/vmlinuz"
moddir="$(first "$work"/root/lib/modules/* "$work"/root/usr/lib/modules/*)"
release="$(basename "$moddir")"

# kvm.ko and, depth first, the modules it names in its modinfo "depends", in load order (the
# packages ship no modules.dep: depmod makes it at install time).
file_of() { find "$moddir/kernel" -name "$1.ko*" | head -1; }
# The "depends=" string of the module's .modinfo section (kmod's modinfo is not on the host).
modinfo_depends() { tr '\0' '\n' <"$1" | sed -n 's/^depends=//p' | head -1 | tr ',' ' '; }
order=()
add() {
  local m="$1" f d
  f="$(file_of "$m")"
  [ -n "$f" ] || { echo "kernel.sh: module $m not found in $pkg" >&2; exit 1; }
  case "$f" in
    *.ko.xz) xz -dc "$f" >"$dir.tmp/modules/$m.ko" ;;
    *.ko.zst) zstd -qdc "$f" >"$dir.tmp/modules/$m.ko" ;;
    *.ko.gz) gzip -dc "$f" >"$dir.tmp/modules/$m.ko" ;;
    *) cp "$f" "$dir.tmp/modules/$m.ko" ;;
  esac
  for d in $(modinfo_depends "$dir.tmp/modules/$m.ko"); do add "$d"; done
  case " ${order[*]-} " in *" $m "*) ;; *) order+=("$m") ;; esac
}
add kvm
printf '%s\n' "${order[@]}" >"$dir.tmp/modules/ORDER"
printf 'suite=%s\npackage=%s\nversion=%s\nrelease=%s\n' "$suite" "$pkg" "$version" "$release" >"$dir.tmp/VERSION"
rm -rf "$dir" && mv "$dir.tmp" "$dir"
echo "$dir"
