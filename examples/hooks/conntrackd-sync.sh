#!/bin/sh
# carpd hook: keeps conntrackd's connection-tracking state in step with CARP, so that the
# connections of a stateful firewall survive a failover (conntrackd in FTFW or ALARM sync
# mode on both hosts; see conntrackd.conf(5)).
#
# The steps are conntrack-tools' own recipe for keepalived, doc/sync/primary-backup.sh by
# Pablo Neira Ayuso (Debian: /usr/share/doc/conntrackd/examples/sync/primary-backup.sh),
# with carpd's states in place of keepalived's:
#   MASTER  (primary)  -c commit the external cache (the peer's connections) into the kernel
#                      -f flush the internal and external caches
#                      -R resynchronise the internal cache with the kernel table
#                      -B send a bulk update to the backups
#   BACKUP  (backup)   -t shorten the kernel's conntrack timers (drops stale entries)
#                      -n ask the master for a resynchronisation
#   INIT    (fault)    -t
# Unlike the recipe, a conntrackd that is not running is reported, not started here: run it
# as its own service (systemctl enable --now conntrackd).
#
# Install:
#   install -m 755 conntrackd-sync.sh /etc/carpd/hooks.d/50-conntrackd
#   hooks_dir = "/etc/carpd/hooks.d"          # in [global] of carpd.toml
# carpd runs it as `50-conntrackd <vhid>@<interface> <STATE>` with CARP_STATE,
# CARP_OLD_STATE, CARP_VHID, CARP_INTERFACE and CARP_REASON in its environment; what it
# prints goes to carpd's log.
#
# conntrackd holds one table for the whole host, but every VHID calls this hook. When the
# VHIDs of a host always move together (one preempting gateway pair: a link down demotes
# the host and hands over every VHID), act on one of them only: set SYNC_ON below, for
# example to "1@eth0". Empty: every VHID (the commands are then repeated, which is harmless).
#
# carpd gives hooks a fixed environment, so change the settings here, or from a wrapper:
#   #!/bin/sh
#   CONNTRACKD=/opt/bin/conntrackd exec /etc/carpd/conntrackd-sync.sh "$@"

CONNTRACKD=${CONNTRACKD:-/usr/sbin/conntrackd}
CONNTRACKD_CONFIG=${CONNTRACKD_CONFIG:-/etc/conntrackd/conntrackd.conf}
SYNC_ON=${SYNC_ON:-}

subsystem=$1                      # <vhid>@<interface>
state=${2:-$CARP_STATE}           # INIT, BACKUP or MASTER

if [ -n "$SYNC_ON" ] && [ "$subsystem" != "$SYNC_ON" ]; then
  exit 0
fi

failed=0
# One conntrackd request; a failure is reported and the next step still runs, as in the
# recipe: a partial resync is better than none.
ct() {
  if ! "$CONNTRACKD" -C "$CONNTRACKD_CONFIG" "$@"; then
    echo "conntrackd $*: failed" >&2
    failed=1
  fi
}

case "$state" in
  MASTER)
    ct -c
    ct -f
    ct -R
    ct -B
    ;;
  BACKUP)
    if ! "$CONNTRACKD" -C "$CONNTRACKD_CONFIG" -s >/dev/null; then
      echo "conntrackd is not running: connections will not survive a failover" >&2
      exit 1
    fi
    ct -t
    ct -n
    ;;
  INIT)
    ct -t
    ;;
  *)
    echo "usage: $0 <vhid>@<interface> INIT|BACKUP|MASTER" >&2
    exit 2
    ;;
esac
exit "$failed"
