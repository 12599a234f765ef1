"""How a table fits a terminal: the pure decisions of plan/table_fit.py."""

from __future__ import annotations

from tr4ctl.plan.table_fit import fit_table, middle_cut

STATUS_COLUMNS = ["service", "state", "health", "ports", "image", "env"]
STATUS_ROWS = [
    ["chroma", "running", "healthy", "-", "tr4ctl-local/chroma:1.5.9", "dev"],
    ["backend", "running", "healthy", "-", "tr4ction/backend:817a34e29040", "dev"],
    ["nginx", "running", "healthy", "127.0.0.1:8080->80/tcp, 127.0.0.1:8443->443/tcp",
     "tr4ctl-local/nginx:1.22-bookworm", "dev"],
    ["certbot-renew", "running", "healthy", "-", "tr4ctl-local/certbot:5.8.0", "dev"],
]


def rendered_width(fitted) -> int:
    """What Rich's default box takes: 3 columns per column plus one."""
    widths = [max([len(c), *(len(row[i]) for row in fitted.rows)])
              for i, c in enumerate(fitted.columns)]
    widths = [fitted.prose_widths.get(i, w) for i, w in enumerate(widths)]
    return sum(widths) + 3 * len(widths) + 1


def test_a_table_that_fits_is_left_alone():
    fitted = fit_table(STATUS_COLUMNS, STATUS_ROWS, 200)
    assert fitted.fits and not fitted.notes and not fitted.shortened
    assert fitted.rows == STATUS_ROWS


def test_shared_values_go_to_the_title_first_then_the_bind_address():
    fitted = fit_table(STATUS_COLUMNS, STATUS_ROWS, 120)
    assert fitted.notes == ["health=healthy"]  # the widest shared column, and enough
    assert fitted.kept == [0, 1, 3, 4, 5]
    assert not fitted.shortened and rendered_width(fitted) <= 120
    narrow = fit_table(STATUS_COLUMNS, STATUS_ROWS, 80)
    assert narrow.notes[-1] == "ports on 127.0.0.1"
    assert ["nginx", "8080->80, 8443->443", "tr4ctl-local/nginx:1.22-bookworm"] in narrow.rows
    assert rendered_width(narrow) <= 80


def test_long_identifiers_lose_their_middle_and_the_first_column_stays_whole():
    rows = [[f"TR4CTL_SETTING_NUMBER_{i}", f"registry.example/team/image-{i}:2026-12-04-{i}",
             "set by `tr4ctl up --env dev` (the environment's own value)"] for i in range(2)]
    fitted = fit_table(["key", "value", "source"], rows, 80, wrap=("source",))
    assert fitted.fits and fitted.shortened and rendered_width(fitted) <= 80
    for before, after in zip(rows, fitted.rows, strict=True):
        assert after[0] == before[0]
        head, tail = after[1].split("…")
        assert before[1].startswith(head) and before[1].endswith(tail) and head and tail


def test_a_table_that_cannot_fit_says_so_and_keeps_its_values():
    rows = [["x" * 100, "y" * 100, "z" * 100]]
    fitted = fit_table(["name", "other", "third"], rows, 30)
    assert not fitted.fits  # the caller then draws the table whole


def test_middle_cut_keeps_both_ends():
    assert middle_cut("tr4ction/backend:817a34e29040", 19) == "tr4ctio…17a34e29040"
    assert middle_cut("short", 19) == "short"
    assert len(middle_cut("abcdefghijklmnop", 8)) == 8


def test_prose_columns_share_what_the_others_leave():
    rows = [["check", "pass", "word " * 40]]
    fitted = fit_table(["item", "verdict", "evidence"], rows, 80, wrap=("evidence",))
    assert fitted.fits and not fitted.shortened
    assert rendered_width(fitted) == 80


def test_one_archive_keeps_its_name_and_times_lose_only_their_seconds():
    columns = ["file", "kind", "created", "project", "size", "tr4ctl"]
    row = ["t4t-deploy-19987-backup-20261205T002629Z.tar.gz", "backup",
           "2026-12-05T00:26:29+00:00", "t4t-deploy-19987", "12.1 KiB", "0.1.0"]
    fitted = fit_table(columns, [row], 80)
    assert fitted.fits and rendered_width(fitted) <= 80
    assert fitted.rows[0][0] == row[0]
    many = [[f"t4t-deploy-19987-backup-2026120{i}T002629Z.tar.gz", "backup" if i else "safety",
             f"2026-12-0{i}T00:26:29+00:00", "t4t-deploy-19987", f"{i}.1 KiB", "0.1.0"]
            for i in range(1, 6)]
    fitted = fit_table(columns, many, 80)
    assert fitted.fits and rendered_width(fitted) <= 80
    assert "times UTC" in fitted.notes and "project=t4t-deploy-19987" in fitted.notes
    created = fitted.columns.index("created")
    assert [r[created] for r in fitted.rows][:2] == ["2026-12-01 00:26", "2026-12-02 00:26"]
