#!/usr/bin/env python3
"""The listener for scripts/bench.sh: listens on 127.0.0.1 (a free port the kernel picks)
under the process name `bench-mta`, with two worker children that inherit the socket, as a
mail server's master and its smtpd processes do.

Usage: owner.py OUTFILE. Writes "PORT PID CHILD CHILD" to OUTFILE (whole, then renamed into
place) and waits for a signal. The workers exit by themselves when the parent is gone.
"""
import ctypes
import os
import signal
import socket
import sys

PR_SET_NAME = 15


def main():
    out = sys.argv[1]
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    ctypes.CDLL(None).prctl(PR_SET_NAME, b"bench-mta", 0, 0, 0)
    lifeline_read, lifeline_write = os.pipe()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # no zombies when the workers are killed
    workers = []
    for _ in range(2):
        pid = os.fork()
        if pid == 0:
            os.close(lifeline_write)
            os.read(lifeline_read, 1)  # b"" once the parent is gone
            os._exit(0)
        workers.append(pid)
    port = listener.getsockname()[1]
    with open(out + ".tmp", "w") as f:
        f.write(" ".join(str(n) for n in [port, os.getpid()] + workers) + "\n")
    os.rename(out + ".tmp", out)
    signal.pause()


if __name__ == "__main__":
    main()
