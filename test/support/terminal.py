# Runs a command on a real pseudo-terminal, for tests of interactive commands (flux app exec):
#   python3 terminal.py ROWSxCOLS RESIZED_ROWSxCOLS COMMAND [ARGS...]
# What this process reads on stdin is typed into the terminal; what the terminal shows comes out
# on stdout. SIGUSR1 resizes the terminal to RESIZED (the kernel tells the command by SIGWINCH).
# Exits with the command's exit status.
import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios


def size(text):
    rows, cols = text.split("x")
    return struct.pack("HHHH", int(rows), int(cols), 0, 0)


first, resized, command = size(sys.argv[1]), size(sys.argv[2]), sys.argv[3:]
pid, master = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, first)
    os.execvp(command[0], command)

signal.signal(signal.SIGUSR1, lambda *_: fcntl.ioctl(master, termios.TIOCSWINSZ, resized))
inputs = [master, 0]
while True:
    ready, _, _ = select.select(inputs, [], [])
    if 0 in ready:
        typed = os.read(0, 4096)
        if typed:
            os.write(master, typed)
        else:
            inputs.remove(0)
    if master in ready:
        try:
            shown = os.read(master, 4096)
        except OSError:  # EIO: the command closed the terminal
            shown = b""
        if not shown:
            break
        os.write(1, shown)
        sys.stdout.flush()

_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
