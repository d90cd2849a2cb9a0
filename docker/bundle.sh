#!/usr/bin/env bash
# Builds the relocatable corefork bundle:
#
#   OUT/bin/corefork       the binary, debug info stripped, with an
#                          $ORIGIN/../lib rpath (set by CMakeLists.txt)
#   OUT/lib/<soname>       every shared library it needs beyond glibc,
#                          as ldd resolves them on the build machine
#
# Usage: docker/bundle.sh COREFORK_BINARY OUT_DIR
#   e.g. docker/bundle.sh build/corefork build/bundle/opt/corefork
#   (the CMake target `bundle` runs exactly that)
#
# OUT_DIR is emptied first. The `bundle` target then adds the loader and
# glibc and sets PT_INTERP (BundleLoader.cmake, cmake/Packaging.cmake), so
# the bundle runs on any image; see docker/README.md. libstdc++ and libgcc_s are shipped on purpose: a Debian
# 12-based image already has them, but other glibc bases (older, newer,
# distroless/cc-less) may not, or may have an older libstdc++. They are used
# by corefork only: the rpath is not inherited by the workers corefork execs.
#
# After copying, the script checks the result with ldd: every library that is
# not part of glibc must resolve inside OUT/lib, and the binary must run.
set -euo pipefail

die() { echo "bundle.sh: $*" >&2; exit 1; }

[ $# -eq 2 ] || die "usage: $0 COREFORK_BINARY OUT_DIR"
bin=$1
out=$2
[ -x "$bin" ] || die "$bin: not an executable"
command -v ldd >/dev/null || die "ldd not found (package libc-bin)"

# glibc's own libraries (and the kernel's vDSO): copied into the bundle by
# the next step (BundleLoader.cmake) together with its loader, not here.
is_glibc() {
  case "$1" in
    linux-vdso.so.* | linux-gate.so.* | ld-linux*.so.* | ld64.so.*) return 0 ;;
    libc.so.* | libm.so.* | libpthread.so.* | libdl.so.* | librt.so.*) return 0 ;;
    libresolv.so.* | libutil.so.* | libanl.so.* | libnsl.so.*) return 0 ;;
    libmvec.so.* | libBrokenLocale.so.* | libthread_db.so.*) return 0 ;;
    libnss_*.so.* | libc_malloc_debug.so.*) return 0 ;;
  esac
  return 1
}

# "libfoo.so.1 => /path/libfoo.so.1 (0x...)" -> "libfoo.so.1 /path/libfoo.so.1"
# Lines without "=>" are the vDSO and the loader. "not found" is fatal.
ldd_pairs() {
  LD_LIBRARY_PATH='' ldd "$1" | awk '
    /=> not found/ { print "NOTFOUND " $1; next }
    $2 == "=>" && $3 ~ /^\// { print $1, $3 }'
}

pairs=$(ldd_pairs "$bin") || die "ldd $bin failed"
if grep -q '^NOTFOUND ' <<<"$pairs"; then
  die "$bin: missing libraries: $(grep '^NOTFOUND ' <<<"$pairs" | cut -d' ' -f2 | tr '\n' ' ')"
fi

rm -rf "$out"
mkdir -p "$out/bin" "$out/lib"
# strip: the build tree keeps the debug info; the bundle is what ships.
if command -v strip >/dev/null; then
  strip --strip-debug -o "$out/bin/corefork" "$bin"
else
  cp "$bin" "$out/bin/corefork"
fi
chmod 0755 "$out/bin/corefork"
# The listen shim (LD_PRELOAD into workers) sits in lib/, where corefork
# looks for it (BIN/../lib); it needs nothing but the image's libc.
shim="$(dirname "$bin")/libcorefork-listen.so"
[ -f "$shim" ] || die "$shim not found (build the corefork-listen target)"
cp "$shim" "$out/lib/libcorefork-listen.so"
chmod 0644 "$out/lib/libcorefork-listen.so"

shipped=()
while read -r soname path; do
  [ -n "$soname" ] || continue
  is_glibc "$soname" && continue
  # -L: the soname is usually a symlink to the versioned file; ship the file
  # under the name the loader looks for.
  cp -L "$path" "$out/lib/$soname"
  chmod 0644 "$out/lib/$soname"
  shipped+=("$soname")
done <<<"$pairs"

# The check: from the bundle, every non-glibc library resolves under lib/,
# including the ones that only other libraries need (DT_RPATH, not RUNPATH,
# is what makes that work; see CMakeLists.txt).
real_lib=$(cd "$out/lib" && pwd -P)
while read -r soname path; do
  [ -n "$soname" ] || continue
  is_glibc "$soname" && continue
  dir=$(cd "$(dirname "$path")" && pwd -P)
  [ "$dir" = "$real_lib" ] ||
    die "$out/bin/corefork: $soname resolves to $path, not $out/lib (is the \$ORIGIN/../lib rpath missing?)"
done <<<"$(ldd_pairs "$out/bin/corefork")"
"$out/bin/corefork" --version >/dev/null || die "$out/bin/corefork --version failed"

echo "bundle: $out: bin/corefork + ${#shipped[@]} libraries: ${shipped[*]}"
