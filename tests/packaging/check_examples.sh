#!/bin/sh
# Every example configuration must pass `carpd -n` without an error or a warning.
# Examples that name a pass_file (an absolute path under /etc/carpd) are checked from a
# temporary copy in which each pass_file is a private file next to the copy.
# Usage: check_examples.sh CARPD EXAMPLE...
set -eu

carpd=${1:?usage: check_examples.sh CARPD EXAMPLE...}
shift
[ "$#" -gt 0 ] || { echo "usage: check_examples.sh CARPD EXAMPLE..."; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
n=0
for example in "$@"; do
  n=$((n + 1))
  dir="$tmp/$n"
  mkdir "$dir"
  copy="$dir/$(basename "$example")"
  # A relative pass_file is resolved against the configuration's directory.
  sed -E 's#^(pass_file *= *")[^"]*/([^"/]+)"#\1\2"#' "$example" >"$copy"
  for name in $(sed -nE 's#^pass_file *= *"([^"]+)".*#\1#p' "$copy" | sort -u); do
    (umask 077 && echo "example-passphrase" >"$dir/$name")
  done
  ok=yes
  # Diagnostics go to stderr; stdout only says "OK, N VHIDs".
  output=$("$carpd" -n -f "$copy" 2>&1 >/dev/null) || ok=no
  if [ "$ok" = no ] || [ -n "$output" ]; then
    echo "$output" | sed "s#$copy#$example#g"
    echo "$example: FAILED"
    status=1
  else
    echo "$example: OK"
  fi
done
exit "$status"
