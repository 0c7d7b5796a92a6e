#!/usr/bin/env bash
# Installs what the firmware and the cross-target tests need: QEMU 10 (Cortex-M and
# RISC-V system emulators, qemu-user), the aarch64 cross compiler and ARM binutils, gcc
# (for the instruction-counting plugin in tools/qemu-insns), the rustup targets and
# llvm-tools. Idempotent; run as root, on Debian 12 (bookworm) or a derivative.
#
# Elsewhere, install the equivalents with your package manager — QEMU ≥ 9.2 with
# qemu-system-arm and qemu-system-riscv32 (plugin API v4), gcc — and run only the two
# rustup lines below. Ubuntu 24.04: apt install qemu-system-arm qemu-system-misc gcc.
#
# Why not plain `apt-get install qemu-system-arm`: this Debian 12 image already carries
# qemu-utils 10.x from bookworm-backports, and bookworm's own qemu-system 7.2 "Breaks" it,
# so apt would silently remove qemu-utils. QEMU 10 from bookworm-backports installs cleanly.
# The backports list is built from the mirror the machine's apt already uses and passed
# with -o, so /etc/apt is left untouched.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

targets=(thumbv6m-none-eabi thumbv7em-none-eabihf thumbv8m.main-none-eabihf
         riscv32imac-unknown-none-elf aarch64-unknown-linux-gnu)
rustup target add "${targets[@]}" >/dev/null
rustup component add llvm-tools >/dev/null

if command -v qemu-system-arm >/dev/null && command -v qemu-system-riscv32 >/dev/null \
   && command -v qemu-aarch64 >/dev/null && command -v aarch64-linux-gnu-gcc >/dev/null \
   && command -v gcc >/dev/null; then
  exit 0
fi

mirror=$(sed -n 's/^URIs: *\([^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
[ -n "$mirror" ] || mirror=$(awk '$1=="deb" && $3=="bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
[ -n "$mirror" ] || { echo "install-qemu: no Debian mirror found in the apt sources" >&2; exit 1; }
list=$(mktemp)
echo "deb $mirror bookworm-backports main" >"$list"
bpo=(-o "Dir::Etc::sourcelist=$list")

apt-get "${bpo[@]}" update -qq
apt-get "${bpo[@]}" install -y -qq --no-install-recommends -t bookworm-backports \
  qemu-system-arm qemu-system-riscv qemu-user
apt-get update -qq
apt-get install -y -qq --no-install-recommends gcc gcc-aarch64-linux-gnu libc6-dev-arm64-cross \
  binutils-arm-none-eabi
rm -f "$list"
qemu-system-arm --version | head -n1
