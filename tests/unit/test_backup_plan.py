"""The pure layer of `tr4ctl backup`: manifest, format version, verification verdicts,
names, pruning, space, and the interrupted-restore message."""

import json
from datetime import UTC, datetime

import pytest

from tr4ctl.plan.backup import (
    DATABASE_PART,
    ENV_PART,
    FORMAT_VERSION,
    KIND_BACKUP,
    KIND_SAFETY,
    SPACE_MARGIN_BYTES,
    Manifest,
    ManifestError,
    Observed,
    Part,
    RestoreJournal,
    archive_file_name,
    archives_to_prune,
    database_path_in_volume,
    env_project_problem,
    env_rewrite,
    interrupted_restore_message,
    manifest_problems,
    newer_format_problem,
    parse_archive_name,
    parse_journal,
    parse_manifest,
    space_needed,
    space_problem,
    sqlite_exclusions,
    structure_problems,
    verify_members,
    volume_part_name,
)

WHEN = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


def a_manifest(**changes) -> Manifest:
    parts = [
        Part(name="backend_data.tar", kind="volume", what="data", volume="backend_data",
             size=10, sha256="a" * 64),
        Part(name=DATABASE_PART, kind="sqlite", what="db", volume="backend_data", size=20,
             sha256="b" * 64, path_in_volume="tr4ction.db", owner="10001:10001", mode="644"),
        Part(name="chroma_data.tar", kind="volume", what="chroma", volume="chroma_data",
             size=30, sha256="c" * 64),
        Part(name="certbot_conf.tar", kind="volume", what="certs", volume="certbot_conf",
             absent=True),
        Part(name=ENV_PART, kind="env_file", what=".env", size=5, sha256="e" * 64),
    ]
    values = {"kind": KIND_BACKUP, "project": "tr4ction",
              "created_at": "2025-03-04T05:06:07+00:00", "tr4ctl_version": "0.1.0",
              "env": "prod", "parts": parts}
    values.update(changes)
    return Manifest(**values)


def observed_for(manifest: Manifest) -> list[Observed]:
    return [Observed(p.name, p.size, p.sha256) for p in manifest.members]


# -- an archive is data: its manifest decides no volume, owner or database ----------------
def test_manifests_tr4ctl_writes_have_no_unsafe_field():
    assert manifest_problems(a_manifest()) == []
    postgres = a_manifest(parts=[Part(name="database.pgdump", kind="postgres", what="dump",
                                      size=3, sha256="d" * 64,
                                      details={"database": "tr4ction_20250101"})],
                          scope="database")
    assert manifest_problems(postgres) == []


@pytest.mark.parametrize("change, says", [
    (lambda m: setattr(m, "project", "../other"), "project is not a project name"),
    (lambda m: setattr(m, "created_at", "2025\x1b[2J"), "created_at is not plain text"),
    (lambda m: setattr(m, "kind", "anything"), "kind is not one tr4ctl writes"),
    (lambda m: setattr(m.parts[2], "volume", "postgres_data"), "chroma_data.tar is not one"),
    (lambda m: setattr(m.parts[3], "volume", "backend_logs"), "certbot_conf.tar is not one"),
    (lambda m: setattr(m.parts[0], "name", "../backend_data.tar"), "is not one tr4ctl writes"),
    (lambda m: setattr(m.parts[4], "kind", "volume"), "env is not one tr4ctl writes"),
    (lambda m: setattr(m.parts[1], "owner", "-R 0:0"), "an owner that is not uid:gid"),
    (lambda m: setattr(m.parts[1], "mode", "u+s"), "a mode that is not octal"),
    (lambda m: setattr(m.parts[0], "size", "10"), "no valid size"),
    (lambda m: setattr(m.parts[0], "sha256", "../x"), "no valid sha256"),
    (lambda m: setattr(m.parts[4], "size", 1 << 30), "not a .env"),
    (lambda m: setattr(m.parts[1], "what", "a\nb"), "part 2 of the manifest is not plain"),
])
def test_a_manifest_deciding_what_a_restore_touches_is_refused(change, says):
    manifest = a_manifest()
    change(manifest)
    problems = manifest_problems(manifest)
    assert problems and says in " ".join(problems), problems


def test_a_postgres_part_may_not_name_a_system_database():
    for name in ("postgres", "template1", 'x"; DROP', ""):
        manifest = a_manifest(parts=[Part(name="database.pgdump", kind="postgres", what="d",
                                          size=3, sha256="d" * 64, details={"database": name})])
        assert manifest_problems(manifest), name


def test_the_env_part_names_no_other_project():
    manifest = a_manifest()
    assert env_project_problem(manifest, {}) is None
    assert env_project_problem(manifest, {"TR4CTL_PROJECT_NAME": "tr4ction"}) is None
    assert env_project_problem(manifest, {"TR4CTL_PROJECT_NAME": ""}) is None
    assert "names project other" in env_project_problem(manifest,
                                                        {"TR4CTL_PROJECT_NAME": "other"})


# -- the .env a restore writes keeps the folder's identity --------------------------------
def test_a_same_project_restore_writes_the_archives_env_as_it_is():
    values = {"TR4CTL_PROJECT_NAME": "a", "TR4CTL_HTTP_PORT": "8080", "JWT_SECRET_KEY": "s"}
    rewrite = env_rewrite(values, dict(values), "a")
    assert not rewrite.changes and rewrite.not_taken == {}
    # The default name, given nowhere, is the same name.
    assert not env_rewrite({}, {}, "tr4ction").changes


def test_the_project_name_is_never_the_archives():
    rewrite = env_rewrite({"TR4CTL_PROJECT_NAME": "b"}, {"TR4CTL_PROJECT_NAME": "a"}, "a")
    assert rewrite.set == {"TR4CTL_PROJECT_NAME": "a"}
    assert rewrite.not_taken == {"TR4CTL_PROJECT_NAME": "b"}
    # No name in the archive: the folder's is written (it may differ from the default).
    assert env_rewrite({}, None, "a").set == {"TR4CTL_PROJECT_NAME": "a"}


def test_host_paths_are_never_the_archives():
    archived = {"TR4CTL_PROJECT_NAME": "a", "TR4CTL_TEMPLATES_DIR": "/var/lib/docker/x",
                "TR4CTL_ACME_CA_BUNDLE": "/etc/shadow", "TR4CTL_PROJECT_DIR": "/srv/other",
                "TR4CTL_BACKUP_DIR": "/tmp/open"}
    rewrite = env_rewrite(archived, {"TR4CTL_BACKUP_DIR": "/srv/backups"}, "a")
    assert rewrite.set == {"TR4CTL_BACKUP_DIR": "/srv/backups"}
    assert sorted(rewrite.unset) == ["TR4CTL_ACME_CA_BUNDLE", "TR4CTL_PROJECT_DIR",
                                     "TR4CTL_TEMPLATES_DIR"]
    # A folder with no .env yet keeps none of them either.
    assert sorted(env_rewrite(archived, None, "a").unset) == [
        "TR4CTL_ACME_CA_BUNDLE", "TR4CTL_BACKUP_DIR", "TR4CTL_PROJECT_DIR",
        "TR4CTL_TEMPLATES_DIR"]


def test_where_the_stack_listens_is_the_folders_once_it_has_settings():
    archived = {"TR4CTL_BIND_ADDRESS": "0.0.0.0", "TR4CTL_HTTP_PORT": "80",
                "TR4CTL_TARGET": "swarm", "TR4CTL_DOMAIN": "x.test"}
    current = {"TR4CTL_BIND_ADDRESS": "127.0.0.1", "TR4CTL_HTTP_PORT": "8080"}
    rewrite = env_rewrite(archived, current, "tr4ction")
    assert rewrite.set == {"TR4CTL_BIND_ADDRESS": "127.0.0.1", "TR4CTL_HTTP_PORT": "8080"}
    assert rewrite.unset == ("TR4CTL_TARGET",)
    # A new host's empty folder takes them from the archive (the domain is data anyway).
    assert not env_rewrite(archived, None, "tr4ction").changes


# -- manifest ------------------------------------------------------------------------
def test_manifest_round_trips_through_json():
    manifest = a_manifest()
    again = parse_manifest(manifest.to_json())
    assert again == manifest
    assert again.format_version == FORMAT_VERSION
    assert [p.name for p in again.members] == [
        "backend_data.tar", DATABASE_PART, "chroma_data.tar", ENV_PART]


def test_manifest_says_what_is_not_included_and_why():
    data = json.loads(a_manifest().to_json())
    assert set(data["not_included"]) == {"backend_logs", "nginx_logs", "certbot_www",
                                         "backup_dumps"}
    assert data["tr4ctl_version"] == "0.1.0" and data["created_at"]


@pytest.mark.parametrize("text, reason", [
    ("not json", "not JSON"),
    ('{"format": "something-else", "format_version": 1}', "not a tr4ctl backup"),
    ('{"format": "tr4ctl-backup", "format_version": "one"}', "format_version"),
    ('{"format": "tr4ctl-backup", "format_version": 1}', "lacks"),
])
def test_bad_manifests_are_refused_with_a_reason(text, reason):
    with pytest.raises(ManifestError, match=reason):
        parse_manifest(text)


def test_unknown_part_fields_are_refused():
    data = json.loads(a_manifest().to_json())
    data["parts"][0]["surprise"] = 1
    with pytest.raises(ManifestError, match="does not know"):
        parse_manifest(json.dumps(data))


def test_a_newer_format_is_recognised_without_reading_the_rest():
    text = json.dumps({"format": "tr4ctl-backup", "format_version": FORMAT_VERSION + 1,
                       "tr4ctl_version": "9.0.0", "parts": "anything"})
    manifest = parse_manifest(text)
    problem = newer_format_problem(manifest)
    assert problem and f"format version {FORMAT_VERSION + 1}" in problem and "9.0.0" in problem
    assert newer_format_problem(a_manifest()) is None


# -- verification ----------------------------------------------------------------------
def test_intact_members_have_no_problems():
    manifest = a_manifest()
    assert verify_members(manifest, observed_for(manifest)) == []
    assert structure_problems(manifest) == []


def test_a_changed_byte_is_a_sha_mismatch():
    manifest = a_manifest()
    observed = observed_for(manifest)
    observed[2] = Observed("chroma_data.tar", 30, "f" * 64)
    assert verify_members(manifest, observed) == ["chroma_data.tar: sha256 differs from the manifest"]


def test_missing_short_and_extra_members_are_named():
    manifest = a_manifest()
    observed = observed_for(manifest)[:-1]
    observed[0] = Observed("backend_data.tar", 9, "a" * 64)
    observed.append(Observed("extra.bin", 1, "0" * 64))
    problems = verify_members(manifest, observed)
    assert "env: missing from the archive" in problems
    assert "backend_data.tar: 9 bytes, the manifest says 10" in problems
    assert "extra.bin: not in the manifest" in problems


def test_members_out_of_order_are_refused():
    manifest = a_manifest()
    observed = list(reversed(observed_for(manifest)))
    assert verify_members(manifest, observed) == ["the parts are not in the manifest's order"]


def test_an_absent_volume_is_no_member_but_still_an_entry():
    manifest = a_manifest()
    assert manifest.part("certbot_conf.tar").absent
    assert "certbot_conf.tar" not in [p.name for p in manifest.members]
    without = a_manifest(parts=[p for p in manifest.parts if p.name != "certbot_conf.tar"])
    assert structure_problems(without) == ["the manifest has no entry for the certbot_conf volume"]


def test_structure_needs_env_and_a_safe_database_path():
    manifest = a_manifest()
    manifest.part(DATABASE_PART).path_in_volume = "../etc/passwd"
    manifest.parts = [p for p in manifest.parts if p.name != ENV_PART]
    problems = structure_problems(manifest)
    assert "the archive holds no .env" in problems
    assert "the database's path in its volume is missing or unsafe" in problems


def test_only_a_safety_backup_may_lack_the_env_file():
    manifest = a_manifest()
    env = manifest.part(ENV_PART)
    env.absent, env.size, env.sha256 = True, 0, None
    assert structure_problems(manifest) == ["the archive holds no .env"]
    manifest.kind = KIND_SAFETY
    assert structure_problems(manifest) == []


def test_database_must_follow_its_volume():
    manifest = a_manifest()
    manifest.parts[0], manifest.parts[1] = manifest.parts[1], manifest.parts[0]
    assert "the database comes before its volume in the archive" in structure_problems(manifest)


@pytest.mark.parametrize("path, expected", [
    ("/app/data/tr4ction.db", "tr4ction.db"),
    ("/app/data/sub/x.db", "sub/x.db"),
    ("/app/database.db", None),
    ("/app/data/../x.db", None),
    ("/app/data/", None),
])
def test_database_path_in_volume(path, expected):
    assert database_path_in_volume(path) == expected


def test_sqlite_exclusions_cover_the_live_files():
    assert sqlite_exclusions("tr4ction.db") == [
        "./tr4ction.db", "./tr4ction.db-wal", "./tr4ction.db-shm", "./tr4ction.db-journal"]


# -- names and pruning ------------------------------------------------------------------
def test_archive_names_are_unique_and_parse_back():
    first = archive_file_name("tr4ction", KIND_BACKUP, WHEN, set())
    assert first == "tr4ction-backup-20250304T050607Z.tar.gz"
    second = archive_file_name("tr4ction", KIND_BACKUP, WHEN, {first})
    assert second == "tr4ction-backup-20250304T050607Z-2.tar.gz"
    parsed = parse_archive_name(second)
    assert (parsed.project, parsed.kind, parsed.seq) == ("tr4ction", KIND_BACKUP, 2)
    assert parse_archive_name("holiday-photos.tar.gz") is None
    assert parse_archive_name("my-stack-2-safety-20250304T050607Z.tar.gz").project == "my-stack-2"


def test_prune_keeps_the_newest_of_this_project_only():
    names = [
        "tr4ction-backup-20250101T000000Z.tar.gz",
        "tr4ction-backup-20250102T000000Z.tar.gz",
        "tr4ction-backup-20250102T000000Z-2.tar.gz",
        "tr4ction-backup-20250103T000000Z.tar.gz",
        "tr4ction-safety-20240101T000000Z.tar.gz",
        "other-backup-20200101T000000Z.tar.gz",
        "notes.txt",
    ]
    assert archives_to_prune(names, "tr4ction", 2) == [
        "tr4ction-backup-20250101T000000Z.tar.gz", "tr4ction-backup-20250102T000000Z.tar.gz"]
    assert archives_to_prune(names, "tr4ction", 10) == []
    with pytest.raises(ValueError):
        archives_to_prune(names, "tr4ction", 0)


# -- space ---------------------------------------------------------------------------
def test_space_needed_covers_staging_and_archive():
    assert space_needed(1000) == 2000 + SPACE_MARGIN_BYTES
    assert space_problem("/b", "backup", 1000, space_needed(1000)) is None
    problem = space_problem("/b", "safety backup", 10 << 20, 64 << 10)
    assert problem.startswith("not enough space in /b for the safety backup")
    assert "64.0 KiB is free" in problem


# -- the journal -----------------------------------------------------------------------
def test_journal_round_trip_and_recovery_hint():
    journal = RestoreJournal(archive="/b/a.tar.gz", safety_backup="/b/s.tar.gz",
                             started_at="2025-03-04T05:06:07+00:00", pid=42)
    assert parse_journal(journal.to_json()) == journal
    message, hint = interrupted_restore_message(journal)
    assert "interrupted" in message and "/b/a.tar.gz" in message
    assert "tr4ctl backup restore /b/a.tar.gz --yes" in hint
    assert "tr4ctl backup restore /b/s.tar.gz --yes" in hint


def test_the_hint_of_an_interrupted_restore_as_another_project_reruns_it_as_given():
    journal = RestoreJournal(archive="/b/prod backup.tar.gz", safety_backup="/b/s.tar.gz",
                             started_at="2025-03-04T05:06:07+00:00", pid=42,
                             as_project="staging")
    assert parse_journal(journal.to_json()) == journal
    _, hint = interrupted_restore_message(journal)
    assert "`tr4ctl backup restore '/b/prod backup.tar.gz' --yes --as-project staging`" in hint
    # The safety backup is this project's own: no --as-project to go back.
    assert "`tr4ctl backup restore /b/s.tar.gz --yes`" in hint
    # A journal of the release before (no as_project key) reads as before.
    older = json.loads(journal.to_json())
    del older["as_project"]
    assert parse_journal(json.dumps(older)).as_project is None


def test_an_unreadable_journal_still_blocks_with_a_way_out():
    assert parse_journal("{broken") is None
    message, hint = interrupted_restore_message(None)
    assert "interrupted" in message and "backup restore" in hint


def test_volume_part_names():
    assert volume_part_name("chroma_data") == "chroma_data.tar"
    assert KIND_SAFETY != KIND_BACKUP
