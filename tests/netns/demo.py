#!/usr/bin/env python3
"""Live demo: two carpd hosts share 192.0.2.1 and 2001:db8::1; the MASTER dies; the BACKUP
takes over while a client pings. Everything runs in throw-away network namespaces.

usage: demo.py [--build DIR]
"""

import argparse
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

BOLD, DIM, GREEN, RED, YELLOW, RESET = "\033[1m", "\033[2m", "\033[32m", "\033[31m", "\033[33m", \
    "\033[0m"
if not sys.stdout.isatty() or os.environ.get("NO_COLOR"):
    BOLD = DIM = GREEN = RED = YELLOW = RESET = ""


def say(text=""):
    print(text, flush=True)


def step(n, title):
    say()
    say(f"{BOLD}[{n}] {title}{RESET}")


def indent(text, prefix="      "):
    return "\n".join(prefix + ln for ln in text.rstrip("\n").splitlines())


def colour_state(line):
    return (line.replace("MASTER", f"{GREEN}MASTER{RESET}")
            .replace("BACKUP", f"{YELLOW}BACKUP{RESET}").replace("INIT", f"{RED}INIT{RESET}"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", help="build directory holding src/app/carpd and src/cli/carpctl")
    args = ap.parse_args()
    if args.build:
        os.environ["CARPD_BUILD_DIR"] = os.path.abspath(args.build)

    import carpnet
    from carpnet import Segment, config, vhid_block, wait_until, skip_reason
    from carpwire import vmac

    why = skip_reason(need_binaries=True)
    if why:
        say(f"demo cannot run: {why}")
        return 2
    carpnet.cleanup_stale()
    carpd, carpctl = carpnet.find_binaries()

    say(f"{BOLD}carpd live demo{RESET}: two Linux hosts, one virtual address, CARP between them")
    say(f"{DIM}carpd   {carpd}\ncarpctl {carpctl}{RESET}")
    with Segment(hosts=2) as s:
        v4, v6 = s.vip4(1), s.vip6(1)
        step(1, "The lab: one Ethernet segment built from network namespaces")
        rows = [
            "                  client c",
            f"          {s.ip4('c')}/24  {s.ip6('c')}/64",
            "                     |",
            "   ========== switch: Linux bridge br0 (multicast snooping off) ==========",
            "              |                                  |",
            "             h1                                 h2",
            f"   {s.ip4('h1') + '/24':<14} {s.ip6('h1') + '/64':<18} {s.ip4('h2') + '/24':<14} "
            f"{s.ip6('h2') + '/64'}",
            f"   eth0 {s.mac('h1'):<28}eth0 {s.mac('h2')}",
            "",
            f"   shared by h1 and h2: VHID 1 = {v4}/24 + {v6}/64, virtual MAC {vmac(1)}",
        ]
        say("\n".join(rows))

        step(2, "The configurations (identical except advskew: lower skew = preferred MASTER)")
        cfg = {h: config(vhid_block(1, skew), log_level="info")
               for h, skew in (("h1", 0), ("h2", 100))}
        for h in ("h1", "h2"):
            say(f"   {h}: carpd -f carpd.toml")
            say(DIM + indent(cfg[h]) + RESET)
        say(f"   {DIM}(control_socket and state_dir are filled in per host by the harness){RESET}")

        step(3, "Start carpd on both hosts and let CARP elect a MASTER")
        t0 = time.monotonic()
        d = {"h2": s.start_carpd("h2", cfg["h2"]), "h1": s.start_carpd("h1", cfg["h1"])}
        say(f"   both start as BACKUP and listen on 224.0.0.18 / ff02::12; the first whose")
        say(f"   master-down timer (3 x (advbase + advskew/256) s) fires becomes MASTER ...")
        try:
            s.wait_roles({"h1": "MASTER", "h2": "BACKUP"}, timeout=20)
        except AssertionError as e:
            say(f"{RED}   election did not settle: {e}{RESET}")
            s.dump_logs(20)
            return 1
        say(f"   elected after {time.monotonic() - t0:.1f} s")
        for h in ("h1", "h2"):
            say(f"   {h}$ carpctl status")
            say(indent(colour_state(d[h].status_text()), "        "))

        if shutil.which("tshark"):
            say()
            say("   what the wire shows (tshark on the client, 3 s):")
            cap = s.tshark("c", 3)
            for p in cap.packets()[:4]:
                src = p["ip.src"] or p["ipv6.src"]
                ck = {"1": "good", "0": "BAD"}.get(p["carp.checksum.status"], "?")
                say(f"        {p['eth.src']} {src:>15} > CARPv{p['carp.version']} "
                    f"vhid {p['carp.vhid']} advbase {p['carp.adver_int']} "
                    f"advskew {p['carp.advskew']} demote {p['carp.demotion']} "
                    f"ttl {p['ip.ttl'] or p['ipv6.hlim']} checksum {ck}")

        step(4, "The client uses the virtual address")
        ok4 = wait_until(lambda: s.client_ping(v4), 5, what="ping")
        ok6 = wait_until(lambda: s.client_ping(v6), 5, what="ping6")
        say(f"   c$ ping {v4}: {'ok' if ok4 else 'FAILED'}      c$ ping {v6}: "
            f"{'ok' if ok6 else 'FAILED'}")
        say(f"   c$ ip neigh: {v4} lladdr {s.client_neigh(v4)}, {v6} lladdr {s.client_neigh(v6)}")
        say(f"   {DIM}the client learned the virtual MAC, not h1's own {s.mac('h1')}: "
            f"after a failover its cache stays valid{RESET}")

        step(5, "Disaster: the MASTER loses power (no goodbye, no bow-out)")
        pr = s.prober(v4).start()
        time.sleep(1.0)
        tk = time.time()
        tm = time.monotonic()
        s.link_down("h1")
        d["h1"].kill9()
        say(f"   h1$ kill -9 {d['h1'].pid}  + h1's cable pulled (switch port down)   "
            f"{DIM}(the client keeps pinging {v4} every 10 ms){RESET}")
        last = None
        while time.monotonic() - tm < 15:
            st = s.states()
            line = "  ".join(f"{h}: {st[h] or '(dead)'}" for h in ("h1", "h2"))
            if line != last:
                say(f"   t+{time.monotonic() - tm:4.1f} s   {colour_state(line)}")
                last = line
            if st["h2"] == "MASTER":
                break
            time.sleep(0.05)
        if s.states()["h2"] != "MASTER":
            say(f"{RED}   h2 did not take over{RESET}")
            s.dump_logs(30)
            return 1
        took = time.monotonic() - tm
        wait_until(lambda: s.client_ping(v4), 10, what="client reaches the address")
        time.sleep(0.5)
        r = pr.stop()
        back = r.back_at
        say(f"   h2 MASTER {took:.2f} s after the power cut "
            f"{DIM}(the master-down interval for advbase 1, advskew 100 is 3 + 100/256 = 3.4 s "
            f"(FreeBSD) to 3 x (1 + 100/256) = 4.2 s (OpenBSD)){RESET}")
        say(f"   client outage: {BOLD}{r.max_gap_ms:.0f} ms{RESET} without replies "
            f"({r.sent} pings sent, {r.received} answered"
            + (f"; answers again {1000 * (back - tk):.0f} ms after the power cut" if back else "")
            + ")")
        say(f"   c$ ip neigh: {v4} lladdr {s.client_neigh(v4)}  {DIM}(unchanged: the virtual MAC "
            f"moved to h2 with a gratuitous ARP){RESET}")

        step(6, "After the failover")
        say("   h2$ carpctl status")
        say(indent(colour_state(d["h2"].status_text()), "        "))
        st = d["h2"].status()["stats"]
        say(f"   {DIM}h2 counters: " + ", ".join(f"{k} {v}" for k, v in st.items() if v) + RESET)
        say(f"   h1$ carpctl status  {DIM}-> nothing: carpd is gone with the power{RESET}")

        step(7, "Clean up: every namespace and process of the demo is removed")
    say(f"\n{GREEN}{BOLD}demo finished: failover worked, outage {r.max_gap_ms:.0f} ms{RESET}")
    return 0 if r.recovered else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted; cleaned up", file=sys.stderr)
        sys.exit(130)
