"""The docs are executable: links resolve, schema paths are the files the code validates against, commands and
Python snippets in docs/integration.md, docs/release.md and docs/architecture.md run.

Rules (decisions recorded here):
- Links: every markdown link `[text](target)` outside fenced code in docs/*.md and README.md whose target is not a URL
  or a bare #anchor must name an existing file or folder (relative to the document; the #fragment is dropped).
- Schemas: every `*.schema.json` mentioned anywhere in docs/*.md or README.md must be a file that the code validates
  against. The code's set is read from the code itself: the path constants (`quantize.manifest.SCHEMA_PATH`,
  `service.report.SCHEMA_PATH`, `service.profile.PROFILE_SCHEMA`, `conformance.golden_io.GOLDEN_SCHEMA`) plus every
  schema name passed to `conformance.golden_io.validate(...)` in the packages' sources (resolved like `load_schema`
  does: SCHEMA_DIR / name). A mention with a folder must resolve to one of those files; a bare file name must be the
  name of one. No `*.schema.json` may live under docs/ (a copy would drift).
- Commands: fenced ```console / ```bash / ```sh / ```shell blocks are run unless the line just before the fence is
  `<!-- not-run: REASON -->` with a reason. In a block that runs, every non-empty, non-comment line must be a
  `cardlive ...` command (so a long command cannot hide in a run block unnoticed); each runs as
  `python -m cardlive.cli ...` from the repository root and must exit 0. Which commands are cheap is decided in the
  docs (only --help-level commands are left unmarked); a bundle-level `cardlive verify` is marked not-run because the
  only bundle fixture (`exported_bundle`) takes about a minute to export, over this test's budget.
- ```python blocks run as scripts in a fresh interpreter from the repository root and must exit 0 (they assert).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
EXECUTABLE_DOCS = [ROOT / "docs" / name for name in ("integration.md", "release.md", "architecture.md")]
SHELL_LANGS = {"console", "bash", "sh", "shell"}
CODE_PACKAGES = ("cardlive", "capture_sim", "edge_models", "quantize", "conformance", "service")

FENCE_RE = re.compile(r"^(\s*)```([A-Za-z0-9_+-]*)\s*$")
LINK_RE = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|!\[[^\]]*\]\(([^)\s]+)\)")
SCHEMA_RE = re.compile(r"[A-Za-z0-9_./-]*\.schema\.json")
NOT_RUN_RE = re.compile(r"^<!--\s*not-run:\s*(\S.*?)\s*-->$")


@dataclass(frozen=True)
class Block:
    lang: str
    lines: list[str]
    line_no: int  # 1-based line of the opening fence
    not_run: str | None  # the reason, when marked


def split_blocks(text: str) -> tuple[list[Block], str]:
    """Fenced code blocks and the text outside them (code replaced by blank lines, so line numbers hold)."""
    blocks: list[Block] = []
    prose: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = FENCE_RE.match(lines[i])
        if not match:
            prose.append(lines[i])
            i += 1
            continue
        indent, lang = match.groups()
        previous = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        marker = NOT_RUN_RE.match(previous)
        body: list[str] = []
        start = i + 1
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
            i += 1
        blocks.append(Block(lang.lower(), body, start, marker.group(1) if marker else None))
        prose.extend([""] * (len(body) + 2))
        i += 1
    return blocks, "\n".join(prose)


def broken_links(doc: Path) -> list[str]:
    """Relative link targets in the document's prose that name no existing file."""
    _, prose = split_blocks(doc.read_text())
    problems = []
    for match in LINK_RE.finditer(prose):
        target = match.group(1) or match.group(2)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue
        path = target.split("#", 1)[0]
        if not (doc.parent / path).exists():
            problems.append(f"{doc.name}: link {target!r} does not resolve to a file")
    return problems


def validated_schemas() -> set[Path]:
    """The schema files the code validates against, read from the code (see the module docstring)."""
    from conformance.golden_io import GOLDEN_SCHEMA, SCHEMA_DIR
    from quantize.manifest import SCHEMA_PATH as MANIFEST_SCHEMA
    from service.profile import PROFILE_SCHEMA
    from service.report import SCHEMA_PATH as REPORT_SCHEMA

    found = {Path(p).resolve() for p in (GOLDEN_SCHEMA, MANIFEST_SCHEMA, PROFILE_SCHEMA, REPORT_SCHEMA)}
    for package in CODE_PACKAGES:
        for source in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(source.read_text())):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id == "validate"
                    and len(node.args) >= 2
                    and isinstance(node.args[1], ast.Constant)
                    and isinstance(node.args[1].value, str)
                ):
                    found.add((SCHEMA_DIR / node.args[1].value).resolve())
    return found


def schema_problems(doc: Path, validated: set[Path]) -> list[str]:
    """Schema mentions in a document that are not files the code validates against."""
    names = {p.name for p in validated}
    problems = []
    for mention in sorted(set(SCHEMA_RE.findall(doc.read_text()))):
        if "/" not in mention:
            if mention not in names:
                problems.append(f"{doc.name}: {mention} is not the name of a schema the code validates against")
            continue
        base = doc.parent if mention.startswith(".") else ROOT
        path = (base / mention).resolve()
        if not path.is_file():
            problems.append(f"{doc.name}: schema {mention} does not exist")
        elif path not in validated:
            problems.append(f"{doc.name}: {mention} exists but the code does not validate against it")
    return problems


def runnable(doc: Path) -> tuple[list[list[str]], list[str], list[str]]:
    """(cardlive argument lists to run, python snippets to run, problems) of a document's code blocks."""
    blocks, _ = split_blocks(doc.read_text())
    commands: list[list[str]] = []
    snippets: list[str] = []
    problems: list[str] = []
    for block in blocks:
        if block.not_run is not None:
            continue
        if block.lang == "python":
            snippets.append("\n".join(block.lines))
        elif block.lang in SHELL_LANGS:
            joined = "\n".join(block.lines).replace("\\\n", " ")
            for line in joined.splitlines():
                line = line.strip().removeprefix("$ ")
                if not line or line.startswith("#"):
                    continue
                if not line.startswith("cardlive "):
                    problems.append(
                        f"{doc.name}:{block.line_no}: {line!r} in a block that runs is not a cardlive command; "
                        "mark the block <!-- not-run: reason -->"
                    )
                    continue
                commands.append(line.split()[1:])
    return commands, snippets, problems


def run_cardlive(args: list[str]) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "cardlive.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    return proc.returncode, proc.stdout + proc.stderr


def run_python(code: str) -> tuple[int, str]:
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout + proc.stderr


def execution_failures(doc: Path) -> list[str]:
    """Every problem of a document's runnable blocks: malformed run blocks, failing commands, failing snippets."""
    commands, snippets, problems = runnable(doc)
    with ThreadPoolExecutor(max_workers=2) as pool:
        for args, (rc, out) in zip(commands, pool.map(run_cardlive, commands), strict=True):
            if rc != 0:
                problems.append(f"{doc.name}: `cardlive {' '.join(args)}` exited {rc}: {out.strip()[-400:]}")
        for k, (rc, out) in enumerate(pool.map(run_python, snippets)):
            if rc != 0:
                problems.append(f"{doc.name}: python snippet {k + 1} exited {rc}: {out.strip()[-400:]}")
    return problems


# ---- the checks on the real docs ----


def test_docs_exist() -> None:
    for doc in EXECUTABLE_DOCS:
        assert doc.is_file(), doc


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_links_resolve(doc: Path) -> None:
    assert broken_links(doc) == []


def test_schemas_in_docs_are_the_validated_files() -> None:
    validated = validated_schemas()
    assert all(p.is_file() for p in validated), sorted(map(str, validated))
    mentioned = [m for doc in DOCS for m in SCHEMA_RE.findall(doc.read_text())]
    assert mentioned, "the docs mention no schema at all"
    problems = [p for doc in DOCS for p in schema_problems(doc, validated)]
    assert problems == []
    copies = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").rglob("*.schema.json"))
    assert copies == [], f"schema copies under docs/ would drift: {copies}"


@pytest.mark.parametrize("doc", EXECUTABLE_DOCS, ids=lambda p: p.name)
def test_commands_and_snippets_run(doc: Path) -> None:
    commands, _, _ = runnable(doc)
    assert commands, f"{doc.name} has no command that runs"
    assert execution_failures(doc) == []


def test_not_run_blocks_have_reasons() -> None:
    for doc in EXECUTABLE_DOCS:
        for line in doc.read_text().splitlines():
            if "not-run" in line and line.strip().startswith("<!--"):
                assert NOT_RUN_RE.match(line.strip()), f"{doc.name}: {line!r} has no reason"


# ---- negative controls: each checker reports a broken doc ----


def test_broken_link_is_reported(tmp_path: Path) -> None:
    (tmp_path / "here.md").write_text("x")
    doc = tmp_path / "doc.md"
    doc.write_text(
        "[ok](here.md#top) [web](https://example.org) [gone](missing/file.md)\n```\n[in code](nope.md)\n```\n"
    )
    assert broken_links(doc) == ["doc.md: link 'missing/file.md' does not resolve to a file"]


def test_schema_copy_or_unknown_schema_is_reported(tmp_path: Path) -> None:
    validated = validated_schemas()
    (tmp_path / "edge_report.schema.json").write_text("{}")
    doc = tmp_path / "doc.md"
    doc.write_text(
        "good: conformance/schemas/edge_report.schema.json\n"
        "copy: ./edge_report.schema.json\n"
        "unknown: made_up.schema.json\n"
        "missing: conformance/schemas/gone.schema.json\n"
    )
    problems = schema_problems(doc, validated)
    assert len(problems) == 3, problems
    assert any("./edge_report.schema.json exists but the code does not validate" in p for p in problems)
    assert any("made_up.schema.json is not the name" in p for p in problems)
    assert any("gone.schema.json does not exist" in p for p in problems)


def test_failing_command_unmarked_long_command_and_failing_snippet_are_reported(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(
        "```console\ncardlive --help\ncardlive verify /nonexistent/bundle\nmake release\n```\n\n"
        "<!-- not-run: too long -->\n```console\nmake release\n```\n\n"
        "```python\nassert 1 + 1 == 3, 'broken snippet'\n```\n"
    )
    problems = execution_failures(doc)
    assert len(problems) == 3, problems
    assert any("`cardlive verify /nonexistent/bundle` exited" in p for p in problems)
    assert any("'make release' in a block that runs" in p for p in problems)
    assert any("python snippet 1 exited 1" in p and "broken snippet" in p for p in problems)
