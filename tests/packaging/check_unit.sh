#!/bin/sh
# Checks packaging/systemd/carpd.service: the hardening that the daemon relies on is present,
# and, when systemd-analyze is installed, that systemd accepts every line without a warning.
# Usage: check_unit.sh UNIT_FILE [CARPD_BINARY [CARPCTL_BINARY]]
set -eu

unit=${1:?usage: check_unit.sh UNIT_FILE [CARPD_BINARY [CARPCTL_BINARY]]}
carpd=${2:-/bin/true}
carpctl=${3:-/bin/true}
status=0

# Lines whose loss would change how carpd runs or weaken the sandbox.
required='Type=notify
ExecStartPre=/usr/sbin/carpd -n -f /etc/carpd/carpd.toml
ExecStart=/usr/sbin/carpd -f /etc/carpd/carpd.toml
ExecReload=/usr/sbin/carpctl reload
Restart=on-failure
WatchdogSec=10s
LimitNOFILE=65536
CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN
AmbientCapabilities=
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths=/var/lib/carpd /run/carpd /proc/sys/net
RuntimeDirectory=carpd
StateDirectory=carpd
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
PrivateMounts=yes
ProtectHostname=yes
UMask=0077
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6 AF_PACKET
RestrictNamespaces=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
RestrictRealtime=no
SystemCallArchitectures=native
SystemCallFilter=@system-service'

echo "$required" | while IFS= read -r line; do
  if ! grep -qxF -- "$line" "$unit"; then
    echo "$unit: missing line: $line"
    exit 1
  fi
done || status=1

if command -v systemd-analyze >/dev/null 2>&1; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  # verify insists that the binaries exist; the unit names the installed path.
  sed "s#/usr/sbin/carpctl#$carpctl#g; s#/usr/sbin/carpd#$carpd#g" "$unit" >"$tmp/carpd.service"
  # --man=no: the pages are installed with the package, not on the build machine.
  # systemd-analyze exits 0 after warnings such as "Unknown key", so any output fails.
  output=$(systemd-analyze verify --man=no "$tmp/carpd.service" 2>&1) || status=1
  if [ -n "$output" ]; then
    echo "$output" | sed "s#$tmp/carpd.service#$unit#g"
    status=1
  fi
  # The exposure score must not regress: 2.8 since PrivateDevices, PrivateMounts,
  # ProtectHostname and UMask (3.2 before). --threshold counts in tenths.
  if ! systemd-analyze security --offline=true --threshold=28 "$tmp/carpd.service" >/dev/null 2>&1; then
    echo "$unit: systemd-analyze security exposure above 2.8:"
    systemd-analyze security --offline=true "$tmp/carpd.service" 2>&1 | tail -n 1
    status=1
  fi
else
  echo "systemd-analyze not installed: checked the required lines only"
fi

[ "$status" -eq 0 ] && echo "$unit: OK"
exit "$status"
