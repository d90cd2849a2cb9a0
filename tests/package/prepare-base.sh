#!/usr/bin/env bash
# Builds and caches the "fresh Debian 12" image the package test installs the
# .deb into: a debootstrapped bookworm (minbase) imported into podman as
# localhost/corefork-test/debian12-base, with the same apt sources as the
# official debian:12 image (bookworm, bookworm-updates, bookworm-security).
# Needs no image registry, only Debian's archive. Run once, up front (called
# by `.ci/install-deps.sh test`); a no-op when the image exists.
#
#   tests/package/prepare-base.sh [--force]     # --force: rebuild it
#
# Env: COREFORK_DEBIAN_MIRROR (default http://deb.debian.org/debian).
# Installs debootstrap, podman and runc with apt-get if missing. Exits 0 when
# the image is there, 1 with the reason otherwise.
set -euo pipefail

readonly IMAGE=localhost/corefork-test/debian12-base:latest
mirror=${COREFORK_DEBIAN_MIRROR:-http://deb.debian.org/debian}
export PATH=$PATH:/usr/sbin:/sbin

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo -n"

missing=()
for cmd_pkg in debootstrap:debootstrap podman:podman runc:runc; do
  command -v "${cmd_pkg%%:*}" >/dev/null || missing+=("${cmd_pkg##*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
fi

podman_cmd() { $sudo podman --runtime runc "$@"; }

if [ "${1:-}" != --force ] && podman_cmd image exists "$IMAGE"; then
  echo "$IMAGE: present (created $(podman_cmd image inspect --format '{{.Created}}' "$IMAGE"))"
  exit 0
fi

rootfs=$(mktemp -d /tmp/corefork-debian12.XXXXXX)
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() { $sudo rm -rf "$rootfs"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

start=$(date +%s)
echo "debootstrap --variant=minbase bookworm from $mirror (a few minutes)..."
if ! $sudo debootstrap --variant=minbase bookworm "$rootfs" "$mirror" \
    >"$rootfs.log" 2>&1; then
  tail -20 "$rootfs.log" >&2
  rm -f "$rootfs.log"
  echo "debootstrap failed (see above)" >&2
  exit 1
fi
rm -f "$rootfs.log"

# The official image's sources (deb822), so Depends on a library with a
# security update resolves the way it would for a user.
$sudo rm -f "$rootfs/etc/apt/sources.list"
$sudo tee "$rootfs/etc/apt/sources.list.d/debian.sources" >/dev/null <<SOURCES
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
# "Fresh": no package lists and no downloaded .debs, as in debian:12.
$sudo rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb

$sudo tar --numeric-owner -C "$rootfs" -c . |
  podman_cmd import --change 'CMD ["bash"]' - "$IMAGE" >/dev/null
echo "$IMAGE: built in $(($(date +%s) - start)) s ($(podman_cmd image inspect --format '{{.Size}}' "$IMAGE") bytes)"
