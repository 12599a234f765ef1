"""Runner.reading: a process's stdout as a stream (`docker save` into `docker load`),
its exit code checked, and its own failure reported before the consumer's."""

import sys

import pytest

from tr4ctl.docker.runner import Runner
from tr4ctl.errors import OperationFailed, Tr4ctlError


class Trace:
    def detail(self, message):
        pass


def producer(script: str) -> list[str]:
    return [sys.executable, "-c", script]


def test_the_stream_is_read_whole_and_a_clean_exit_passes():
    with Runner(Trace()).reading(producer("import sys; sys.stdout.write('x' * 300000)")) as out:
        data = out.read()
    assert data == b"x" * 300000


def test_a_producer_that_fails_after_its_stream_is_reported():
    script = "import sys; sys.stdout.write('partial'); sys.stderr.write('disk gone'); sys.exit(1)"
    with pytest.raises(OperationFailed, match="disk gone"), \
            Runner(Trace()).reading(producer(script)) as out:
        out.read()


def test_when_the_consumer_fails_the_producers_own_failure_is_the_cause():
    script = "import sys; sys.stderr.write('No such image: a:1'); sys.exit(1)"
    with pytest.raises(Tr4ctlError, match="No such image"), \
            Runner(Trace()).reading(producer(script)) as out:
        out.read()
        raise OperationFailed("docker load: unexpected EOF")


def test_when_the_consumer_fails_a_healthy_producer_is_stopped_and_the_consumer_reported():
    script = "import sys, time\nwhile True: sys.stdout.write('y' * 65536); sys.stdout.flush()"
    with pytest.raises(OperationFailed, match="load failed"), \
            Runner(Trace()).reading(producer(script)) as out:
        out.read(10)
        raise OperationFailed("load failed")
