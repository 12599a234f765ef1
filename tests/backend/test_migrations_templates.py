import sqlite3

from app.migrate import upgrade_to_head
from backend_helpers import auth_header


def test_migrations_create_the_schema_on_a_fresh_file(tmp_path):
    db_file = tmp_path / "nested" / "fresh.db"
    upgrade_to_head(f"sqlite:///{db_file}")
    upgrade_to_head(f"sqlite:///{db_file}")  # idempotent
    with sqlite3.connect(db_file) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        columns = {row[1] for row in db.execute("PRAGMA table_info(users)")}
        version = db.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    assert {"users", "alembic_version"} <= tables
    assert columns == {"id", "email", "name", "role", "password_hash", "created_at", "updated_at"}
    assert version == "0002"


def test_emails_are_unique_in_the_schema(tmp_path):
    db_file = tmp_path / "u.db"
    upgrade_to_head(f"sqlite:///{db_file}")
    insert = (
        "INSERT INTO users (email, role, password_hash, created_at, updated_at)"
        " VALUES (?, 'admin', 'h', 0, 0)"
    )
    with sqlite3.connect(db_file) as db:
        db.execute(insert, ("a@b.test",))
        try:
            db.execute(insert, ("a@b.test",))
        except sqlite3.IntegrityError:
            return
    raise AssertionError("duplicate email accepted")


def test_template_registry_lists_image_files(client, users, tmp_path):
    images = tmp_path / "data" / "templates_images"
    (images / "pitch").mkdir(parents=True, exist_ok=True)
    (images / "canvas.PNG").write_bytes(b"\x89PNG....")
    (images / "pitch" / "cover.jpg").write_bytes(b"jpg")
    (images / "notes.txt").write_text("not an image")
    (images / ".hidden.png").write_bytes(b"x")

    response = client.get("/api/templates", headers=auth_header(client, users["founder"]))
    assert response.status_code == 200
    assert response.json() == {
        "templates": [
            {"name": "canvas", "path": "canvas.PNG", "size_bytes": 8},
            {"name": "cover", "path": "pitch/cover.jpg", "size_bytes": 3},
        ]
    }
    assert client.get("/api/templates").status_code == 401


def test_template_registry_follows_templates_images_dir(make_client, users, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "only.webp").write_bytes(b"w")
    client = make_client(TEMPLATES_IMAGES_DIR=str(elsewhere))
    body = client.get("/api/templates", headers=auth_header(client, users["admin"])).json()
    assert [t["path"] for t in body["templates"]] == ["only.webp"]
