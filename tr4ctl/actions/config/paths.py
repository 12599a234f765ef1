"""The path settings checked against this host, for what each will be used for: the
templates folder, the CA bundles and the backup folder must be there and of the right
kind when set, not when a later command trips over them."""

from __future__ import annotations

import os
from pathlib import Path

from tr4ctl.config.model import Config
from tr4ctl.errors import BadInput
from tr4ctl.files import kind_of, read_regular_file

PATH_KEYS = ("TR4CTL_TEMPLATES_DIR", "TR4CTL_ACME_CA_BUNDLE", "TR4CTL_CA_BUNDLE",
             "TR4CTL_BACKUP_DIR")


def check_path_settings(config: Config, project_dir: Path,
                        keys: tuple[str, ...] | list[str] = PATH_KEYS) -> None:
    """BadInput naming the first of `keys` whose path cannot serve its use."""
    from tr4ctl.actions.cert.request import require_acme_ca_bundle_setting
    from tr4ctl.assets import require_template_dir

    wanted = set(keys)
    if "TR4CTL_TEMPLATES_DIR" in wanted and config.templates_dir is not None:
        require_template_dir(config.templates_dir)
    if "TR4CTL_ACME_CA_BUNDLE" in wanted:
        require_acme_ca_bundle_setting(config)
    if "TR4CTL_CA_BUNDLE" in wanted and config.ca_bundle is not None:
        _require_pem_file(config.ca_bundle)
    if "TR4CTL_BACKUP_DIR" in wanted and config.backup_dir is not None:
        require_backup_dir_setting(config.backup_dir, project_dir)


def _require_pem_file(path: Path) -> None:
    from tr4ctl.plan.certificates import pem_certificates

    hint = "point TR4CTL_CA_BUNDLE at a PEM file of the CA that signs the site's certificate"
    try:
        data = read_regular_file(path, "TR4CTL_CA_BUNDLE", hint=hint)
    except FileNotFoundError:
        raise BadInput(f"TR4CTL_CA_BUNDLE {path} does not exist", hint) from None
    if not pem_certificates(data):
        raise BadInput(f"TR4CTL_CA_BUNDLE {path} holds no PEM certificate", hint)


def require_backup_dir_setting(directory: Path, project_dir: Path) -> None:
    """A folder, or a path where one can be made (`backup create` makes it)."""
    path = directory if directory.is_absolute() else project_dir / directory
    hint = "set TR4CTL_BACKUP_DIR to a folder (made when missing by `tr4ctl backup create`)"
    probe = path
    while not probe.exists() and probe != probe.parent:
        if probe.is_symlink():
            raise BadInput(f"TR4CTL_BACKUP_DIR {path}: {probe} is a link to nothing", hint)
        probe = probe.parent
    if not probe.is_dir():
        raise BadInput(f"TR4CTL_BACKUP_DIR {path}: {probe} is not a folder: it is "
                       f"{kind_of(os.stat(probe).st_mode)}", hint)
