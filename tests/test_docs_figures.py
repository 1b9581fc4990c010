"""The docs describe what ships: the README's headline figures are the shipped default's rows
of docs/benchmarks.md, the slice count is the configured default, and the pages link up."""

from __future__ import annotations

import re

from conftest import ROOT

from beetsplug.deejai.config import DEFAULTS


def _row(page: str, starts: str) -> list[str]:
    lines = [line for line in page.splitlines() if line.startswith(f"| {starts}")]
    assert len(lines) == 1, starts
    return [cell.strip() for cell in lines[0].strip("|").split("|")]


def test_the_readme_quotes_the_shipped_default_s_figures():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    page = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    quoted = re.search(
        r"P@1 (\d\.\d+) /\s+P@5 (\d\.\d+), against Musly (\d\.\d+) / (\d\.\d+) and bliss "
        r"(\d\.\d+) / (\d\.\d+)",
        readme,
    )
    assert quoted, "the README's headline figures"
    figures = [float(x) for x in quoted.groups()]
    rows = [_row(page, s) for s in ("**shipped default**", "Musly timbre", "bliss (23")]
    measured = [round(float(row[i]), 2) for row in rows for i in (7, 8)]  # "all" P@1, P@5
    assert figures == measured
    assert "0.84" not in readme and "0.71" not in readme  # the previous default's
    assert not re.search(r"[A-Z_]+_FIGURES", readme)  # every figure filled in


def test_the_slices_per_track_are_the_configured_default():
    deejai = (ROOT / "docs" / "deejai.md").read_text(encoding="utf-8")
    said = re.search(r"K slices spread over the track \(default (\d+)", deejai)
    assert said and int(said.group(1)) == DEFAULTS["max_slices"]


def test_the_benchmark_pages_are_split_and_linked():
    current = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    history = ROOT / "docs" / "benchmarks-history.md"
    assert history.is_file() and len(current.splitlines()) < 400
    assert "benchmarks-history.md" in current
    assert not re.search(r"[A-Z_]+_FIGURES", current)  # every figure filled in
    for section in re.split(r"\n## ", current)[1:]:
        assert "python -m benchmarks." in section, section.splitlines()[0]
    for doc in ("README.md", "benchmarks/README.md", "docs/plugin.md", "docs/architecture.md"):
        for link in re.findall(
            r"docs/([\w-]+\.md)|\(\.\./docs/([\w-]+\.md)\)", (ROOT / doc).read_text()
        ):
            name = link[0] or link[1]
            assert (ROOT / "docs" / name).is_file(), (doc, name)
