#!/usr/bin/env bash
# Installs every build and test dependency of carpd from Debian 12 packages. Idempotent.
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config clang clang-format clang-tidy
  libssl-dev libmnl-dev libtomlplusplus-dev libcli11-dev nlohmann-json3-dev
  libspdlog-dev libfmt-dev libexpected-dev libcap-dev libsystemd-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # load balancing: the BPF program (clang -target bpf), libbpf, and the kernel UAPI headers
  libbpf-dev linux-libc-dev
  # the Debian package (cpack -G DEB: dpkg-shlibdeps, file), its checks and the man page lint
  dpkg-dev file lintian groff-base init-system-helpers
  # network-namespace tests and the demo
  iproute2 iputils-ping procps psmisc tcpdump tshark python3 python3-scapy ucarp conntrackd
  nftables iptables keepalived   # carpctl doctor reads nft/iptables; its test plants keepalived
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
