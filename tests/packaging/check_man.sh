#!/bin/sh
# Lints the man pages: groff must render each one without a single warning.
# Usage: check_man.sh PAGE...
set -eu

if ! command -v groff >/dev/null 2>&1; then
  echo "groff not installed (apt-get install groff-base)"
  exit 1
fi
[ "$#" -gt 0 ] || { echo "usage: check_man.sh PAGE..."; exit 1; }

status=0
for page in "$@"; do
  # -ww: every warning; -z: no output, only diagnostics. groff exits 0 after warnings, so any
  # output at all is a failure.
  output=$(groff -man -Tutf8 -ww -z "$page" 2>&1) || status=1
  if [ -n "$output" ]; then
    echo "$output"
    status=1
  fi
  # The NAME line must be what mandb and apropos can read.
  if command -v lexgrog >/dev/null 2>&1 && ! lexgrog "$page" >/dev/null; then
    echo "$page: lexgrog cannot read the NAME section"
    status=1
  fi
  [ "$status" -eq 0 ] && echo "$page: OK"
done
exit "$status"
