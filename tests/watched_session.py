"""A stand-in for the host's tr4ctl in a forwarded session (remote/session.py): it starts
the session's watchdog, says "ready", and when the session is lost writes
`cleaned up after <signal>` to the file named by argv[1]. Run as a script by
tests/unit/test_remote_call.py (pipes closing) and tests/stack/test_remote.py (ssh through
sudo, with and without a pty)."""

import sys
import time
from pathlib import Path

from tr4ctl import interrupts
from tr4ctl.remote import session

interrupts.install()
try:
    session.start()
    print("ready", flush=True)
    time.sleep(120)
except KeyboardInterrupt:
    Path(sys.argv[1]).write_text("cleaned up after " + interrupts.signal_name())
    raise SystemExit(143) from None
