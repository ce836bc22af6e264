#!/bin/sh
# Installs a released odoo-ci binary, checked against the release's SHA256SUMS.
#
#   curl -fsSL https://raw.githubusercontent.com/acme/odoo-ci/v0.1.0/install.sh | sh -s -- v0.1.0
#
# Arguments: the version (a release tag, e.g. v0.1.0) and the folder to install into
# (default: ~/.local/bin). Pin the version (and this script's URL) to a tag or a commit:
# the binary is then exactly the one the release's checksums name.
# ODOO_CI_RELEASES overrides where releases are downloaded from
# (default https://github.com/acme/odoo-ci/releases/download).
set -eu

version=${1:?usage: install.sh VERSION [DIR]}
dir=${2:-"$HOME/.local/bin"}
releases=${ODOO_CI_RELEASES:-https://github.com/acme/odoo-ci/releases/download}

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64 | Linux-amd64) target=x86_64-unknown-linux-musl ;;
  Linux-aarch64 | Linux-arm64) target=aarch64-unknown-linux-musl ;;
  *)
    echo "odoo-ci: no released binary for $(uname -s) $(uname -m); build from source: cargo install --locked --git https://github.com/acme/odoo-ci --tag $version" >&2
    exit 2
    ;;
esac

archive="odoo-ci-$target.tar.gz"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 3 -o "$2" "$1"
  else
    wget -q -O "$2" "$1"
  fi
}

fetch "$releases/$version/$archive" "$work/$archive"
fetch "$releases/$version/SHA256SUMS" "$work/SHA256SUMS"
expected=$(awk -v f="$archive" '$2 == f || $2 == "*" f { print $1 }' "$work/SHA256SUMS")
actual=$(sha256sum "$work/$archive" | awk '{ print $1 }')
if [ -z "$expected" ] || [ "$expected" != "$actual" ]; then
  echo "odoo-ci: $archive does not match the release's SHA256SUMS (expected ${expected:-nothing}, got $actual): not installed" >&2
  exit 1
fi
tar -xzf "$work/$archive" -C "$work"
mkdir -p "$dir"
install -m 0755 "$work/odoo-ci" "$dir/odoo-ci"
echo "odoo-ci $version installed in $dir"
