# Sourced by CI scripts: Debian s390x packages fetched with a private apt state, so the host's
# dpkg database and apt lists are untouched. Facts: ../shared/notes/s390x-under-emulation.md.
#   debian_mirror                       the mirror the machine's apt already uses
#   debian_apt SUITE ARGS...            apt-get for s390x packages of SUITE (state under $CACHE/apt-SUITE)
#   debian_cache SUITE ARGS...          apt-cache over the same state
#   debian_download SUITE DIR PKG...    the .debs of PKG... alone (no dependencies) into DIR
#   debian_depends_on SUITE PKG         the first package PKG depends on (a metapackage's target)
#   debian_version SUITE PKG            the candidate version of PKG
# Needs CACHE set by the caller.

debian_mirror() {
  local m
  m="$(sed -n 's/^URIs: *\(http[^ ]*debian\)\/\{0,1\}$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)"
  [ -n "$m" ] || m="$(sed -n 's/^deb \(\[[^]]*\] \)\{0,1\}\(http[^ ]*debian\)\/\{0,1\} .*/\2/p' /etc/apt/sources.list 2>/dev/null | head -1)"
  echo "${m:-http://deb.debian.org/debian}"
}

_debian_apt_opts() {
  local a="$CACHE/apt-$1"
  echo "-o Dir::State::Status=$a/status -o Dir::State::Lists=$a/lists -o Dir::Cache=$a/cache" \
    "-o Dir::Etc::SourceList=$a/etc/sources.list -o Dir::Etc::SourceParts=/nonexistent" \
    "-o APT::Architecture=s390x -o APT::Architectures::=s390x -o Debug::NoLocking=1" \
    "-o APT::Install-Recommends=false -o APT::Sandbox::User=root"
}

# Lists are refreshed once per day per suite: a cache older than that may name .debs the mirror
# no longer has.
debian_apt() {
  local suite="$1"; shift
  local a="$CACHE/apt-$suite"
  if [ ! -f "$a/updated" ] || [ -n "$(find "$a/updated" -mmin +1440 2>/dev/null)" ]; then
    mkdir -p "$a/lists/partial" "$a/cache/archives/partial" "$a/etc"
    : >"$a/status"
    echo "deb [arch=s390x signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(debian_mirror) $suite main" >"$a/etc/sources.list"
    # shellcheck disable=SC2046
    apt-get $(_debian_apt_opts "$suite") update -qq >&2
    touch "$a/updated"
  fi
  # shellcheck disable=SC2046
  apt-get $(_debian_apt_opts "$suite") "$@"
}

debian_download() {
  local suite="$1" dir="$2"; shift 2
  mkdir -p "$dir"
  (cd "$dir" && debian_apt "$suite" download "$@" >&2)
}

debian_cache() {
  local suite="$1"; shift
  debian_apt "$suite" check >/dev/null 2>&1 || true # refreshes the lists when due
  # shellcheck disable=SC2046
  apt-cache $(_debian_apt_opts "$suite") "$@"
}

debian_depends_on() {
  debian_cache "$1" depends "$2" 2>/dev/null | sed -n 's/^ *Depends: *\([^ <]*\).*/\1/p' | head -1
}

debian_version() {
  debian_cache "$1" policy "$2" 2>/dev/null | sed -n 's/^ *Candidate: *//p'
}

# An s390x root with Debian forky's Node.js and every library it needs (usr-merged), made once;
# prints its path. Used by qemu-user (ci/s390x.sh) and inside the real-KVM guest (ci/real-kvm).
debian_node_sysroot() {
  local sysroot="$CACHE/sysroot-forky-s390x" work deb
  if [ ! -x "$sysroot/usr/bin/node" ]; then
    work="$CACHE/apt-forky-node"
    rm -rf "$work" "$sysroot.tmp"
    mkdir -p "$work/cache/archives/partial" "$sysroot.tmp"
    debian_apt forky -o Dir::Cache="$work/cache" install -y -qq --download-only nodejs >/dev/null
    for deb in "$work"/cache/archives/*.deb; do dpkg -x "$deb" "$sysroot.tmp"; done
    [ -e "$sysroot.tmp/lib" ] || ln -s usr/lib "$sysroot.tmp/lib"
    rm -rf "$sysroot" "$work"
    mv "$sysroot.tmp" "$sysroot"
    echo "sysroot: $(du -sh "$sysroot" | cut -f1) from the Debian forky nodejs packages of $(debian_mirror)" >&2
  fi
  echo "$sysroot"
}

# A static s390x busybox (the guest's /init and shell), made once; prints its path.
debian_busybox() {
  local dir="$CACHE/busybox-s390x" work
  if [ ! -x "$dir/busybox" ]; then
    work="$(mktemp -d /tmp/busybox-fetch.XXXXXX)"
    debian_download forky "$work" busybox-static
    dpkg-deb -x "$work"/*.deb "$work/root"
    mkdir -p "$dir"
    cp "$work/root/bin/busybox" "$dir/busybox.tmp" 2>/dev/null || cp "$work/root/usr/bin/busybox" "$dir/busybox.tmp"
    mv "$dir/busybox.tmp" "$dir/busybox"
    rm -rf "$work"
  fi
  echo "$dir/busybox"
}
