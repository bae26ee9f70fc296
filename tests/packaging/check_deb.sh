#!/bin/sh
# Builds the Debian package with CPack and checks its whole life on this host: lintian has no
# error, `dpkg -i` puts every file in place, the installed carpd accepts its default file and
# becomes MASTER of a one-VHID group in a network namespace (started without systemd), and
# `dpkg -r` then `dpkg -P` leave nothing behind. Uninstalls on failure too.
# Root only: exits 77 (CTest SKIP_RETURN_CODE) otherwise, or when a carpd package is already
# installed here (the test never replaces someone else's installation).
# Usage: check_deb.sh BUILD_DIR
set -eu

build=${1:?usage: check_deb.sh BUILD_DIR}
build=$(cd "$build" && pwd)

skip() {
  echo "SKIP: $*"
  exit 77
}
[ "$(id -u)" -eq 0 ] || skip "needs root (dpkg -i, network namespaces)"
for tool in cmake cpack dpkg dpkg-deb dpkg-shlibdeps lintian ip; do
  command -v "$tool" >/dev/null 2>&1 || skip "$tool not installed (scripts/setup.sh)"
done
if dpkg-query -W -f='${Status}' carpd 2>/dev/null | grep -q 'installed\|config-files'; then
  skip "a carpd package is already installed on this host"
fi

tmp=$(mktemp -d)
ns="carpd-deb-$$"
carpd_pid=""
installed=no
fail() {
  echo "FAIL: $*"
  exit 1
}
cleanup() {
  status=$?
  set +e
  if [ -n "$carpd_pid" ] && kill -0 "$carpd_pid" 2>/dev/null; then
    kill -KILL "$carpd_pid"
    wait "$carpd_pid" 2>/dev/null
  fi
  ip netns delete "$ns" 2>/dev/null
  if [ "$installed" = yes ]; then
    echo "cleanup: purging the test installation"
    dpkg -P carpd >/dev/null 2>&1
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# 1. Build the package into a directory of its own, from up-to-date binaries.
echo "== cpack -G DEB"
cmake --build "$build" --target carpd carpctl carpd_package_files >"$tmp/build.log" 2>&1 ||
  { cat "$tmp/build.log"; fail "cannot build carpd, carpctl and the package files"; }
cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/pkg" >"$tmp/cpack.log" 2>&1 ||
  { cat "$tmp/cpack.log"; fail "cpack"; }
deb=$(ls "$tmp"/pkg/carpd_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || { cat "$tmp/cpack.log"; fail "no carpd_*.deb built"; }
echo "built $(basename "$deb")"
dpkg-deb --field "$deb" Package Version Architecture Depends

depends=$(dpkg-deb --field "$deb" Depends)
for lib in libc6 libssl3 libmnl0 libcap2 libsystemd0; do
  echo "$depends" | grep -q "$lib" || fail "Depends lacks $lib (shlibdeps): $depends"
done

# 2. lintian at its default level: no error. Warnings are reported, not fatal.
echo "== lintian"
lintian --allow-root "$deb" >"$tmp/lintian.log" 2>&1 || true
cat "$tmp/lintian.log"
if grep -q '^E:' "$tmp/lintian.log"; then fail "lintian reports errors"; fi
echo "lintian: $(grep -c '^W:' "$tmp/lintian.log" || true) warnings, no error"

# 3. Install.
echo "== dpkg -i"
installed=yes
dpkg -i "$deb" || fail "dpkg -i"
for f in /usr/sbin/carpd /usr/sbin/carpctl /lib/systemd/system/carpd.service \
  /usr/share/man/man8/carpd.8.gz /usr/share/man/man8/carpctl.8.gz \
  /usr/share/man/man5/carpd.toml.5.gz /usr/share/doc/carpd/copyright \
  /usr/share/doc/carpd/changelog.gz /usr/share/doc/carpd/examples/unicast.toml \
  /usr/share/doc/carpd/examples/two-node-gateway/host-a.toml /etc/carpd/carpd.toml \
  /usr/share/doc/carpd/README.md.gz /usr/share/doc/carpd/examples/systemd/carpd-balancing.conf; do
  [ -f "$f" ] || fail "missing after install: $f"
done
[ -d /var/lib/carpd ] || fail "missing after install: /var/lib/carpd"
[ "$(stat -c %a /var/lib/carpd)" = 700 ] || fail "/var/lib/carpd is not 0700"
dpkg-query -W -f='${Conffiles}\n' carpd | grep -q '/etc/carpd/carpd.toml' ||
  fail "/etc/carpd/carpd.toml is not a conffile"
gzip -t /usr/share/man/man8/carpd.8.gz || fail "carpd.8.gz is not gzip"
gzip -t /usr/share/doc/carpd/README.md.gz || fail "README.md.gz is not gzip"
[ ! -e /usr/share/doc/carpd/README.md ] || fail "README.md is installed uncompressed"
/usr/sbin/carpd --version | grep -q '^carpd ' || fail "carpd --version"
/usr/sbin/carpd -n -f /etc/carpd/carpd.toml || fail "carpd -n rejects the shipped carpd.toml"

# 4. The installed carpd, without systemd, in a namespace: MASTER of a lone VHID.
echo "== carpd in namespace $ns"
ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link add eth0 type veth peer name eth1
ip -n "$ns" link set eth1 up
ip -n "$ns" link set eth0 up
ip -n "$ns" addr add 192.0.2.11/24 dev eth0
cat >"$tmp/carpd.toml" <<EOF
[global]
log_level = "debug"

[[vhid]]
interface = "eth0"
vhid = 1
pass = "package-test"
addresses = ["192.0.2.1/24"]
EOF
ip netns exec "$ns" /usr/sbin/carpd -f "$tmp/carpd.toml" >"$tmp/carpd.log" 2>&1 &
carpd_pid=$!
state=""
i=0
while [ $i -lt 100 ]; do
  kill -0 "$carpd_pid" 2>/dev/null || { cat "$tmp/carpd.log"; fail "carpd exited"; }
  state=$(/usr/sbin/carpctl status 2>/dev/null || true)
  case "$state" in *"vhid 1 MASTER"*) break ;; esac
  sleep 0.1
  i=$((i + 1))
done
echo "carpctl status: $state"
case "$state" in *"eth0 vhid 1 MASTER"*) ;; *) cat "$tmp/carpd.log"; fail "not MASTER after 10 s" ;; esac
# On the VHID's macvlan (vmac = true), not on eth0 itself.
ip -n "$ns" -4 addr show | grep -q 'inet 192.0.2.1/24' || fail "virtual address not added"
kill -TERM "$carpd_pid"
wait "$carpd_pid" || fail "carpd did not stop cleanly on SIGTERM"
carpd_pid=""

# 5. Remove: the binaries go, the conffile stays; purge: nothing is left.
echo "== dpkg -r"
dpkg -r carpd || fail "dpkg -r"
for f in /usr/sbin/carpd /usr/sbin/carpctl /lib/systemd/system/carpd.service \
  /usr/share/man/man8/carpd.8.gz /usr/share/doc/carpd; do
  [ ! -e "$f" ] || fail "still there after dpkg -r: $f"
done
[ -f /etc/carpd/carpd.toml ] || fail "dpkg -r removed the conffile (only purge may)"
echo "== dpkg -P"
dpkg -P carpd || fail "dpkg -P"
installed=no
for f in /etc/carpd /var/lib/carpd /run/carpd /etc/systemd/system/multi-user.target.wants/carpd.service \
  /etc/systemd/system/carpd.service /var/lib/systemd/deb-systemd-helper-enabled/carpd.service.dsh-also \
  /var/lib/systemd/deb-systemd-helper-masked/carpd.service; do
  [ ! -e "$f" ] && [ ! -L "$f" ] || fail "still there after dpkg -P: $f"
done
if dpkg-query -W carpd >/dev/null 2>&1; then fail "dpkg still knows carpd after purge"; fi
echo "OK: built, linted, installed, ran as MASTER, removed and purged"
