#!/usr/bin/env bash
# Checks that every shared library a binary needs comes from glibc (libc6) or
# from one of the given Debian packages, so the final image's apt-get install
# list cannot fall behind what corefork links. Run in docker/Dockerfile's
# build stage, and by tests/package/run.sh against the .deb's Depends; works
# on any Debian-based system. A package also counts as listed when the list
# names a virtual package it provides.
#
# Usage: docker/check-runtime-packages.sh BINARY "pkg1 pkg2 ..."
# Prints each library and its package; exits 1 naming what is missing.
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 BINARY \"PACKAGES\"" >&2; exit 2; }
bin=$1
allowed=" libc6 $2 "

# The package that owns a library. Debian 12 is half-way through the /usr
# merge: ldd says /lib/..., dpkg may have recorded /lib/... or /usr/lib/...,
# under the soname or the versioned file name. Try each spelling.
owner() {
  local lib=$1 real candidate pkg
  real=$(realpath "$lib")
  for candidate in "$lib" "/usr$lib" "${lib#/usr}" "$real" "${real#/usr}" \
      "$(dirname "$lib")/$(basename "$real")" "/usr$(dirname "$lib")/$(basename "$real")"; do
    pkg=$(dpkg -S "$candidate" 2>/dev/null | head -1 | cut -d: -f1) || true
    [ -n "$pkg" ] && { echo "$pkg"; return 0; }
  done
  echo "?"
}

# The name in the list that stands for package $1: itself, or a virtual
# package it provides (dpkg-shlibdeps may name one: libspdlog1.10-fmt9 is
# provided by libspdlog1.10). Empty when none is listed.
listed_as() {
  local name
  for name in "$1" $(dpkg-query -W -f='${Provides}' "$1" 2>/dev/null |
      tr ',' '\n' | sed 's/(.*//; s/:.*//; s/[[:space:]]//g'); do
    case "$allowed" in *" $name "*) echo "$name"; return 0 ;; esac
  done
}

missing=0
used=" libc6 "
while read -r soname lib; do
  [ -n "$soname" ] || continue
  pkg=$(owner "$lib")
  name=$(listed_as "$pkg")
  used+="$pkg $name "
  if [ "$name" = "$pkg" ]; then
    echo "$soname: $pkg"
  elif [ -n "$name" ]; then
    echo "$soname: $pkg (listed as $name, which it provides)"
  else
    echo "$soname ($lib) comes from package '$pkg', which is not in the list: add it" >&2
    missing=1
  fi
done < <(ldd "$bin" | awk '$2 == "=>" { print $1, $3 }')
# Extra packages are harmless (a few unused MB); say so, to keep the list tidy.
for pkg in $2; do
  case "$used" in
    *" $pkg "*) ;;
    *) echo "note: $bin needs nothing from $pkg; it can leave the list" >&2 ;;
  esac
done
exit "$missing"
