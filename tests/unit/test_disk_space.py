import shutil

import pytest

from tr4ctl.actions.backup.location import check_space
from tr4ctl.errors import OperationFailed
from tr4ctl.plan.disk_space import MIN_FREE_BYTES, FreeSpace, tightest

GIB = 1024**3


def test_the_tightest_place_is_the_one_judged():
    space = tightest({"/srv/project": 40 * GIB, "/var/lib/docker": 2 * GIB})
    assert space == FreeSpace("/var/lib/docker", 2 * GIB)
    assert space.low


def test_no_warning_while_there_is_room():
    assert FreeSpace("/", MIN_FREE_BYTES).warning() is None


def test_the_warning_names_how_much_is_free_where_and_the_fix():
    warning = FreeSpace("/var/lib/docker", 512 * 1024**2).warning()
    assert warning is not None
    assert "512.0 MiB free at /var/lib/docker" in warning
    assert "under 3.0 GiB" in warning and "docker system prune" in warning


def test_a_backup_that_would_not_fit_refuses_naming_what_it_needs(tmp_path):
    free = shutil.disk_usage(tmp_path).free
    with pytest.raises(OperationFailed) as caught:
        check_space(tmp_path, free, "backup")  # staging and archive: twice the data
    assert "needs about" in caught.value.message and str(tmp_path) in caught.value.message
    assert "nothing was changed" in caught.value.hint
    assert list(tmp_path.iterdir()) == []
