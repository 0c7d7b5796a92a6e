#!/usr/bin/env python3
"""Builds and runs the firmware on every target under QEMU, checks that it passes,
and reports flash (including the embedded host-trained model of part 4), static RAM,
peak stack and run time per part, plus executed
instruction counts of the kernels on the Cortex-M4F.

Usage (from examples/firmware):
    python3 report.py            # run, print the tables, fail if any target fails
    python3 report.py --readme   # also write the tables into ../../README.md

Needs QEMU (../../../shared/tools/install-qemu.sh) and gcc for the counting plugin.
"""
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
PLUGIN_SRC = os.path.abspath(os.path.join(ROOT, "..", "shared", "tools", "qemu-insns", "region_insns.c"))

TARGETS = [
    ("thumbv6m-none-eabi", "Cortex-M0 (microbit, 256 KiB / 16 KiB)"),
    ("thumbv7em-none-eabihf", "Cortex-M4F (mps2-an386, 512 KiB / 128 KiB)"),
    ("thumbv8m.main-none-eabihf", "Cortex-M33 (mps2-an505, 512 KiB / 128 KiB)"),
    ("riscv32imac-unknown-none-elf", "RV32IMAC (virt, 512 KiB / 128 KiB)"),
]


def sh(cmd, **kw):
    return subprocess.run(cmd, cwd=HERE, check=True, text=True, capture_output=True, **kw).stdout


def llvm_tool(name):
    sysroot = sh(["rustc", "--print", "sysroot"]).strip()
    return os.path.join(sysroot, "lib", "rustlib", "x86_64-unknown-linux-gnu", "bin", name)


def runner(target):
    """The QEMU command line of .cargo/config.toml for a target."""
    cfg = open(os.path.join(HERE, ".cargo", "config.toml")).read()
    section = cfg.split(f"[target.{target}]")[1]
    return re.search(r'runner = "([^"]+)"', section).group(1).split()


def sizes(elf):
    out = sh([llvm_tool("llvm-size"), "-A", elf])
    sec = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\.\S+)\s+(\d+)\s+\d+", out, re.M)}
    flash = sum(sec.get(s, 0) for s in (".vector_table", ".text", ".rodata", ".data", ".init", ".trap", ".srodata"))
    ram = sum(sec.get(s, 0) for s in (".data", ".bss", ".uninit", ".sdata", ".sbss"))
    return flash, ram


def run_firmware(target, elf):
    """Runs the image, timing each part by when its closing line arrives."""
    start = time.monotonic()
    proc = subprocess.Popen(runner(target) + [elf], cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    lines, parts, last = [], {}, start
    for line in proc.stdout:
        now = time.monotonic()
        lines.append(line.rstrip())
        m = re.match(r"part (\d) \(([^)]*)\):.*peak stack (\d+) bytes", line)
        if m:
            parts[int(m.group(1))] = (m.group(2), int(m.group(3)), now - last)
            last = now
        m = re.match(r"part (\d) \(([^)]*)\): skipped", line)
        if m:
            parts[int(m.group(1))] = (m.group(2), None, None)
    rc = proc.wait()
    return rc, lines, parts


def instruction_counts(target):
    plugin = os.path.join(HERE, "target", "qemu-insns", "region_insns.so")
    os.makedirs(os.path.dirname(plugin), exist_ok=True)
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-fvisibility=hidden", "-o", plugin, PLUGIN_SRC], check=True)
    sh(["cargo", "build", "--release", "--target", target, "--features", "insns", "--bin", "insns"])
    elf = os.path.join(HERE, "target", target, "release", "insns")
    regions_file = os.path.join(HERE, "target", "qemu-insns", f"{target}.txt")
    cmd = runner(target)
    cmd.insert(cmd.index("-kernel"), "-plugin")
    cmd.insert(cmd.index("-kernel"), f"{plugin},out={regions_file}")
    labels = [l.split()[1:] for l in subprocess.run(cmd + [elf], cwd=HERE, check=True, text=True, capture_output=True).stdout.splitlines() if l.startswith("region ")]
    counts = [int(m.group(1)) for m in re.finditer(r"^region \d+: (\d+) insns", open(regions_file).read(), re.M)]
    calibration = counts[0]
    rows = []
    for (label, work, unit), n in list(zip(labels, counts))[1:]:
        rows.append((label, int(work), unit, n - calibration))
    return rows


def main():
    write_readme = "--readme" in sys.argv
    size_rows, failures = [], []
    for target, board in TARGETS:
        sh(["cargo", "build", "--release", "--target", target, "--bin", "edgegrad-firmware"])
        elf = os.path.join(HERE, "target", target, "release", "edgegrad-firmware")
        flash, ram = sizes(elf)
        rc, lines, parts = run_firmware(target, elf)
        print(f"== {target}: exit {rc}")
        print("\n".join("   " + l for l in lines))
        if rc != 0 or len(parts) != 6:
            failures.append(target)
        size_rows.append((target, board, flash, ram, parts))
    table = ["| target | flash | static RAM | part | peak stack | time under QEMU |", "|---|---|---|---|---|---|"]
    for target, board, flash, ram, parts in size_rows:
        for i in sorted(parts):
            name, stack, secs = parts[i]
            head = f"| {board} | {flash:,} B | {ram:,} B" if i == 1 else "| | |"
            if stack is None:
                table.append(f"{head} | {i}: {name} | skipped: too little RAM | |")
            else:
                table.append(f"{head} | {i}: {name} | {stack:,} B | {secs:.2f} s |")
    insn_rows = instruction_counts("thumbv7em-none-eabihf")
    insns = ["| kernel (Cortex-M4F) | size | instructions | per unit |", "|---|---|---|---|"]
    for label, work, unit, n in insn_rows:
        plural = "s" if work != 1 else ""
        insns.append(f"| {label} | {work:,} {unit}{plural} | {n:,} | {n / work:.2f} per {unit} |")
    report = "\n".join(table) + "\n\n" + "\n".join(insns) + "\n"
    print(report)
    if write_readme:
        path = os.path.join(ROOT, "README.md")
        readme = open(path).read()
        begin, end = "<!-- firmware-report:begin -->", "<!-- firmware-report:end -->"
        pre, rest = readme.split(begin)
        _, post = rest.split(end)
        open(path, "w").write(pre + begin + "\n" + report + end + post)
        print("README.md updated")
    if failures:
        print("FAILED on: " + ", ".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
