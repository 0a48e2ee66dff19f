"""Writing a command's JSON report: parent folders made, and a path that cannot be written is a one-line error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cardlive.errors import OutputError


def write_json_report(path: Path, report: Any) -> Path:
    """Write `report` as indented JSON (with a final newline) to `path`; OutputError when it cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2) + "\n")
    except OSError as exc:
        raise OutputError(f"cannot write the report {path}: {exc.strerror or exc}") from None
    return path
