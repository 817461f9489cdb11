#!/usr/bin/env python3
"""A synthetic busy host for scripts/bench.sh: COUNT idle processes that each hold about
DESCRIPTORS open file descriptors (files, pipes and unix sockets, like a busy server).

Usage: busy_host.py COUNT DESCRIPTORS PIDFILE. Writes one PID per line to PIDFILE (the
parent first; written whole, then renamed into place) and waits for a signal. Every child
blocks on a pipe whose only writer is the parent, so when the parent dies, for whatever
reason, the children see end-of-file and exit on their own. The benchmark script still
kills every recorded PID on exit; nothing here ever kills by name.
"""
import os
import signal
import socket
import sys


def open_descriptors(count):
    """Opens about `count` descriptors of mixed kinds and returns them (kept alive)."""
    held = []
    while len(held) < count:
        kind = len(held) % 5
        if kind in (0, 1):
            held.append(open("/dev/null", "rb"))
        elif kind == 2:
            held.extend(socket.socketpair())
        else:
            held.extend(os.pipe())
    return held


def main():
    count, descriptors, pidfile = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    # The baseline interpreter holds 3 descriptors plus the lifeline pipe.
    held = open_descriptors(max(descriptors - 5, 0))
    lifeline_read, lifeline_write = os.pipe()
    # Children that exit are reaped by the kernel at once, so none lingers as a zombie.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    children = []
    for _ in range(count):
        pid = os.fork()
        if pid == 0:
            os.close(lifeline_write)
            os.read(lifeline_read, 1)  # returns b"" once the parent is gone
            os._exit(0)
        children.append(pid)
    with open(pidfile + ".tmp", "w") as out:
        out.write("\n".join(str(p) for p in [os.getpid()] + children) + "\n")
    os.rename(pidfile + ".tmp", pidfile)
    signal.pause()  # until the benchmark kills us (by PID)
    del held


if __name__ == "__main__":
    main()
