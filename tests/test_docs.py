"""Docs that run: every shell and Python block of README.md and docs/*.md, run as written.

Each fenced block names its language. A block marked ``<!-- docs-test: needs-internet (why) -->``
on the line before it needs what no test has (the public catalogs, an AWS account, a Ray cluster
reached over the network); one marked ``<!-- docs-test: not-run (why) -->`` cannot run inside a
test by design (it rewrites the package's own shipped files, or runs for half an hour), and its
reason says what checks its result instead. Marked blocks are only checked to parse (``bash -n``,
``compile``, a cron schedule of five fields). Every other ``bash`` and ``python`` block is run,
in document order (README.md first, then docs/ by name), in one scratch directory that holds the
project's ``configs/``, ``jobs/`` and ``benchmarks/`` and a ``../shared`` beside it, so the blocks
see the relative paths they name:

- ``oceanscan ...`` runs in this process (``oceanscan.cli.main``), on the session's Ray;
  ``python jobs/scan.py`` and ``python benchmarks/*.py`` run their ``__main__`` here too; the
  exit code must be 0;
- ``pytest FILES`` (the docs' own test commands, which CI runs in full) collects those files;
- public URLs are replaced by the local servers that stand in for them: Earth Search by the
  embedded STAC API (``oceanscan.stac_server.serve``) over a synthetic catalog with one scene in
  each configured region; ``path/to/bundle`` by a tiny bundle made here;
- commands that train or generate at scale get flags appended that shrink them (argparse keeps the
  last value): :data:`SCALE_DOWN` lists each one; everything written in the docs is still parsed
  and validated;
- a scan without ``--model`` uses the bundle shipped with oceanscan, or, outside CI when the
  installation lacks it, a tiny bundle in its place.

The shipped configuration files and the region names used in commands are checked by
tests/test_shipped_configs.py.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import runpy
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.bundles import save_tiny_bundle
from tests.helpers.shared import SHARED

PROJECT = Path(__file__).resolve().parents[1]
DOCS = [PROJECT / "README.md", *sorted((PROJECT / "docs").glob("*.md"))]
#: Languages a fenced block may name: shell and Python are run, the others are not commands.
RUN_LANGUAGES = {"bash", "python"}
OTHER_LANGUAGES = {"cron", "text", "yaml", "json", "toml"}
_FENCE = re.compile(r"^```(\S*)\s*$")
_MARKER = re.compile(r"^<!--\s*docs-test:\s*(needs-internet|not-run)\s*\((?P<why>[^)]+)\)\s*-->$")
#: Public services and their local stand-ins (see the fixture ``sandbox``).
EARTH_SEARCH = "https://earth-search.aws.element84.com/v1"
#: Flags appended to commands that train or generate at full size, by their first words.
SCALE_DOWN: dict[tuple[str, ...], list[str]] = {
    ("oceanscan", "synth", "patches"): ["--n", "24", "--size", "32"],
    ("oceanscan", "train"): ["--epochs", "1", "--warmup-epochs", "0", "--batch-size", "4"],
}
#: Scripts run in this process by ``python SCRIPT ...`` commands.
SCRIPTS = ("jobs/scan.py", "jobs/train.py", "benchmarks/real_sea.py")
_SHELL_OPERATORS = {"&&", "||", "|", ";", ">", ">>", "<", "2>&1", "&"}


@dataclass(frozen=True)
class Block:
    """A fenced code block of a Markdown file."""

    path: Path
    line: int
    language: str
    text: str
    marked: bool  # needs-internet or not-run: checked to parse, not run

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(PROJECT)}:{self.line}"


def _blocks(path: Path) -> Iterator[Block]:
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        start, language = i, match[1]
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
        before = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        yield Block(
            path=path,
            line=start + 1,
            language=language,
            text="\n".join(lines[start + 1 : end]) + "\n",
            marked=bool(_MARKER.match(before.strip())),
        )
        i = end + 1


BLOCKS = [b for path in DOCS for b in _blocks(path)]
RUNNABLE = [b for b in BLOCKS if b.language in RUN_LANGUAGES and not b.marked]


def _ids(blocks: list[Block]) -> list[str]:
    return [b.name for b in blocks]


def test_the_docs_have_blocks_of_each_kind():
    assert RUNNABLE and any(b.marked for b in BLOCKS), "the block parser is broken"


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_every_marker_is_well_formed(path):
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if "docs-test" in line and line.lstrip().startswith("<!--"):
            assert _MARKER.match(line.strip()), (
                f"{path.name}:{number}: write <!-- docs-test: needs-internet (why) --> or "
                f"<!-- docs-test: not-run (why) --> on the line before the block, got {line!r}"
            )


@pytest.mark.parametrize("block", BLOCKS, ids=_ids(BLOCKS))
def test_every_block_names_its_language(block):
    known = RUN_LANGUAGES | OTHER_LANGUAGES
    assert block.language in known, (
        f"{block.name}: a fenced block must name its language, one of {sorted(known)} (bash and "
        f"python blocks are run by this test), got {block.language!r}"
    )
    if block.marked:
        assert block.language in RUN_LANGUAGES | {"cron"}, f"{block.name}: nothing to mark"


@pytest.mark.parametrize(
    "block", [b for b in BLOCKS if b.language in RUN_LANGUAGES | {"cron"}], ids=lambda b: b.name
)
def test_every_command_block_parses(block):
    if block.language == "python":
        compile(block.text, block.name, "exec")
        return
    script = block.text
    if block.language == "cron":
        entries = [ln for ln in block.text.splitlines() if ln.strip() and not ln.startswith("#")]
        assert entries, f"{block.name}: no crontab entry"
        for entry in entries:
            fields = entry.split(None, 5)
            assert len(fields) == 6, f"{block.name}: a crontab entry is 5 time fields + a command"
            for field in fields[:5]:
                assert re.fullmatch(r"[\d*/,-]+", field), f"{block.name}: bad time field {field!r}"
        script = "\n".join(e.split(None, 5)[5] for e in entries) + "\n"
    proc = subprocess.run(
        ["bash", "-n"], input=script, text=True, capture_output=True, check=False, timeout=30
    )
    assert proc.returncode == 0, f"{block.name}: bash -n: {proc.stderr}"


# --- running the blocks -----------------------------------------------------------------------


def _scene_catalog(base: Path) -> Path:
    """A synthetic catalog with one scene in each configured region, saved for a STAC API."""
    import pystac

    from oceanscan.synth.catalog import write_catalog

    # Scenes cycle through the sea sites: 1 Gulf of Honduras (2025-06-02, in bay-of-honduras and
    # the README's --bbox window), 2 off Durban, 3 Bay of Bengal, 4 Gulf of Guinea, 5 Manila Bay.
    # Not 2025-06-01, the first date of `oceanscan synth catalog`: the item ids hold the date, and
    # the docs scan both into one root, where the same id would be taken for the same scene.
    written = write_catalog(
        base / "written",
        scenes=5,
        size=64,
        seed=21,
        start=dt.datetime(2025, 6, 2, 10, tzinfo=dt.UTC),
    )
    served = base / "served"
    shutil.copytree(written.parent, served)
    # write_catalog's relative "self" links are resolved by pystac for stac-fastapi-static.
    catalog = pystac.Catalog.from_file(str(served / "catalog.json"))
    catalog.normalize_hrefs(str(served))
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    return served / "catalog.json"


@pytest.fixture(scope="module")
def default_bundle(tmp_path_factory) -> Iterator[Path]:
    """The shipped bundle, or outside CI a tiny one in its place when the installation lacks it."""
    from oceanscan.errors import BundleError
    from oceanscan.model import default_bundle_dir, shipped

    try:
        yield default_bundle_dir()
        return
    except BundleError as err:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the shipped bundle is missing under CI: {err}")
    tiny = save_tiny_bundle(tmp_path_factory.mktemp("default-bundle") / "bundle")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(shipped, "DEFAULT_BUNDLE_PATH", tiny)
        yield tiny


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory, ray_session, default_bundle) -> Iterator[dict[str, Any]]:
    """The scratch directory the blocks run in, and the local stand-ins of public services."""
    from oceanscan.stac_server import serve

    base = tmp_path_factory.mktemp("docs")
    work = base / "work"
    work.mkdir()
    if SHARED.exists():
        (base / "shared").symlink_to(SHARED, target_is_directory=True)
    for name in ("jobs", "benchmarks"):
        (work / name).symlink_to(PROJECT / name, target_is_directory=True)
    catalog = _scene_catalog(base / "catalog")
    bundle = save_tiny_bundle(base / "tiny-bundle")
    with serve(catalog) as stac_url:
        substitutions = {EARTH_SEARCH: stac_url, "path/to/bundle": str(bundle)}
        shutil.copytree(PROJECT / "configs", work / "configs")
        for config in (work / "configs").iterdir():
            text = config.read_text()
            for public, local in substitutions.items():
                text = text.replace(public, local)
            config.write_text(text)
        cwd = Path.cwd()
        os.chdir(work)
        try:
            yield {"work": work, "substitutions": substitutions}
        finally:
            os.chdir(cwd)


def _commands(block: Block) -> Iterator[list[str]]:
    for line in block.text.replace("\\\n", " ").splitlines():
        argv = shlex.split(line, comments=True)
        if argv:
            operators = _SHELL_OPERATORS.intersection(argv)
            assert not operators, (
                f"{block.name}: {operators} in a block that is run: write one command per line, "
                "or mark the block <!-- docs-test: needs-internet (why) --> (or not-run)"
            )
            yield argv


def _run_script(script: str, argv: list[str]) -> int:
    saved = sys.argv
    sys.argv = [script, *argv]
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    finally:
        sys.argv = saved
    return 0


def _run(argv: list[str], block: Block) -> None:
    from oceanscan.cli import main

    words = tuple(argv[:3])
    for prefix, extra in SCALE_DOWN.items():
        if words[: len(prefix)] == prefix:
            argv = [*argv, *extra]
    where = f"{block.name}: `{shlex.join(argv)}`"
    match argv:
        case ["oceanscan", *rest]:
            code = main(rest)
        case ["python", script, *rest] if script in SCRIPTS:
            code = _run_script(script, rest)
        case ["pytest", *rest]:
            files = [a for a in rest if not a.startswith("-")]
            assert files and all((PROJECT / f).is_file() for f in files), where
            proc = subprocess.run(
                [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
                + [str(PROJECT / f) for f in files],
                cwd=PROJECT,
                capture_output=True,
                text=True,
                check=False,
                timeout=300,
            )
            assert proc.returncode == 0, f"{where}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
            return
        case _:
            pytest.fail(
                f"{where}: no runner for {argv[0]!r} in tests/test_docs.py; add one, or mark the "
                "block <!-- docs-test: needs-internet (why) --> if it needs what no test has, or "
                "<!-- docs-test: not-run (why, and what checks its result) --> if no test may run it"
            )
    assert code == 0, f"{where} exited with {code}"


def _substitute(text: str, substitutions: dict[str, str]) -> str:
    for public, local in substitutions.items():
        text = text.replace(public, local)
    return text


@pytest.mark.slow
@pytest.mark.ray
@pytest.mark.parametrize("block", RUNNABLE, ids=_ids(RUNNABLE))
def test_block_runs(block, sandbox, capsys):
    text = _substitute(block.text, sandbox["substitutions"])
    if block.language == "python":
        exec(compile(text, block.name, "exec"), {"__name__": "__docs__"})  # noqa: S102
        return
    for argv in _commands(Block(block.path, block.line, block.language, text, False)):
        capsys.readouterr()
        _run(argv, block)
        out = capsys.readouterr().out
        if argv[:2] == ["oceanscan", "scan"] or argv[:2] == ["python", "jobs/scan.py"]:
            # a scan that found nothing would pass unseen: each one scans or skips a scene
            summary = json.loads(out.strip().splitlines()[-1])
            assert summary["complete"] + summary["skipped"] >= 1, f"{block.name}: {summary}"
