"""The environment variables a workstation sets for the host's tr4ctl when it forwards a
command (plan/remote_call.py), read on the host (remote/session.py, output.py)."""

REMOTE_SESSION = "TR4CTL_REMOTE_SESSION"
EXPECT_VERSION = "TR4CTL_EXPECT_VERSION"
REMOTE_ADDRESS = "TR4CTL_REMOTE_ADDRESS"
# The host's output reaches the workstation's terminal over the session's pipes.
WORKSTATION_TERMINAL = "TR4CTL_WORKSTATION_TERMINAL"
