"""The quality benchmarks' verdicts and tables: per-query P@k results compared, paired
bootstrap intervals, leave-one-game-out choices, one lever at a time, by corpus.

Every function takes :class:`benchmarks.variants.Result` objects (per-query P@1 / P@5, NaN
for tracks that are not queries) and returns Markdown table rows or a verdict.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from benchmarks.common import bootstrap_ci, fmt_ci
from benchmarks.variants import Result, variant_name


def paired_ci(a: np.ndarray, b: np.ndarray) -> str:
    """Bootstrap 95% interval of mean(a - b) over the queries both systems answered."""
    both = ~np.isnan(a) & ~np.isnan(b)
    _, low, high = bootstrap_ci(a[both] - b[both])
    return f"[{low:+.3f}, {high:+.3f}]"


def summary_rows(results: Sequence[Result], groups: Sequence[str]) -> tuple[list, list]:
    """Rows of the systems table and of the per-group P@1 table."""
    names = sorted(set(groups))
    labels = np.asarray(groups)
    rows, per_group = [], []
    for r in results:
        ok = ~np.isnan(r.p1)
        rows.append([r.name, fmt_ci(r.p1[ok]), fmt_ci(r.p5[ok]), int(ok.sum()), len(r.failed)])
        per_group.append([r.name] + [f"{np.nanmean(r.p1[labels == g]):.2f}" for g in names])
    return rows, per_group


def logo(
    results: dict[tuple, Result], groups: Sequence[str]
) -> tuple[list, list, np.ndarray, np.ndarray]:
    """Leave-one-group-out choice of a variant.

    For each group g: the variant with the best P@5 over the queries of the other groups
    (ties: better P@1, then the earlier variant) is evaluated on g's queries.

    Returns
    -------
    (rows, chosen, p1, p5)
        Table rows, the chosen variant per group, and the held-out per-query P@1 / P@5 of all
        queries (each from the variant chosen without its group).
    """
    labels = np.asarray(groups)
    p1 = np.full(len(groups), np.nan)
    p5 = np.full(len(groups), np.nan)
    rows, chosen = [], []
    for g in sorted(set(groups)):
        train = labels != g
        best = max(
            results,
            key=lambda v: (np.nanmean(results[v].p5[train]), np.nanmean(results[v].p1[train])),
        )
        chosen.append(best)
        test = labels == g
        p1[test], p5[test] = results[best].p1[test], results[best].p5[test]
        rows.append(
            [
                g,
                int(test.sum()),
                variant_name(best),
                f"{np.nanmean(results[best].p5[train]):.3f}",
                f"{np.nanmean(p1[test]):.2f}",
                f"{np.nanmean(p5[test]):.2f}",
            ]
        )
    return rows, chosen, p1, p5


LOGO_COLUMNS = [
    "held-out game",
    "queries",
    "chosen on the other games",
    "P@5 there",
    "P@1 held out",
    "P@5 held out",
]
"""Header of :func:`logo`'s rows."""

LEVER_COLUMNS = [
    "lever",
    "change",
    "P@1",
    "P@5",
    "dP@1",
    "dP@5",
    "dP@5 95% CI (paired)",
    "games helped/hurt/of",
]
"""Header of :func:`lever_rows`' rows."""


def games_helped(result: Result, base: Result, groups: Sequence[str]) -> tuple[int, int]:
    """``(helped, hurt)``: games whose mean P@5 ``result`` raises / lowers against ``base``."""
    labels = np.asarray(groups)
    gains = [
        np.nanmean(result.p5[labels == g]) - np.nanmean(base.p5[labels == g])
        for g in sorted(set(groups))
    ]
    return sum(g > 0 for g in gains), sum(g < 0 for g in gains)


def lever_rows(results: dict[tuple, Result], base: tuple, groups: Sequence[str]) -> list:
    """One lever changed at a time from ``base``: gains in P@1 / P@5 and games helped."""
    names = sorted(set(groups))
    ref = results[base]
    rows = []
    axes = ("model", "K", "pooling", "normalisation", "hubness")
    for axis, options in enumerate([sorted({v[i] for v in results}, key=str) for i in range(5)]):
        for option in options:
            variant = tuple(option if i == axis else base[i] for i in range(5))
            if variant == base or variant not in results:
                continue
            r = results[variant]
            d1 = np.nanmean(r.p1) - np.nanmean(ref.p1)
            d5 = np.nanmean(r.p5) - np.nanmean(ref.p5)
            helped, hurt = games_helped(r, ref, groups)
            rows.append(
                [
                    axes[axis],
                    f"{base[axis] or 'all'} -> {option or 'all'}",
                    f"{np.nanmean(r.p1):.3f}",
                    f"{np.nanmean(r.p5):.3f}",
                    f"{d1:+.3f}",
                    f"{d5:+.3f}",
                    paired_ci(r.p5, ref.p5),
                    f"{helped}/{hurt}/{len(names)}",
                ]
            )
    return rows


def corpus_rows(
    results: Sequence[Result],
    base: Result,
    *,
    corpora: Sequence[str],
    work: dict[str, float] | None = None,
) -> tuple[list[str], list[list]]:
    """P@1 / P@5 of each result on each corpus' queries, and dP@5 against ``base`` (paired).

    ``work``: network work per track relative to the default, by result name; when given, a
    last column shows it (blank for results it does not name).

    Returns
    -------
    (header, rows)
        One row per result: P@1, P@5 and "dP@5 [95% CI]" for each corpus, then for all.
    """
    labels = np.asarray(corpora)
    parts = [(c, labels == c) for c in sorted(set(corpora))] + [("all", np.ones(len(labels), bool))]
    header = ["system / variant"]
    for name, _ in parts:
        header += [f"{name} P@1", f"{name} P@5", f"{name} dP@5 [95% CI]"]
    if work is not None:
        header.append("network work")
    rows = []
    for r in results:
        row = [r.name]
        for _, mask in parts:
            row += [
                f"{np.nanmean(r.p1[mask]):.3f}",
                f"{np.nanmean(r.p5[mask]):.3f}",
                f"{np.nanmean(r.p5[mask] - base.p5[mask]):+.3f} "
                + paired_ci(r.p5[mask], base.p5[mask]),
            ]
        if work is not None:
            row.append(f"{work[r.name]:.2f}x" if r.name in work else "")
        rows.append(row)
    return header, rows


def wins_everywhere(candidate: Result, base: Result, corpora: Sequence[str]) -> bool:
    """Whether ``candidate`` beats ``base`` in P@5 beyond the paired 95% interval on at least
    one corpus and is not behind (interval wholly below zero) on any."""
    labels = np.asarray(corpora)
    ahead = False
    for c in set(corpora):
        mask = (labels == c) & ~np.isnan(candidate.p5) & ~np.isnan(base.p5)
        _, low, high = bootstrap_ci(candidate.p5[mask] - base.p5[mask])
        if high < 0:
            return False
        ahead = ahead or low > 0
    return ahead


def not_behind(candidate: Result, base: Result, corpora: Sequence[str]) -> bool:
    """Whether ``candidate``'s paired P@5 interval against ``base`` reaches zero or above on
    every corpus (it is not behind beyond the interval on any)."""
    labels = np.asarray(corpora)
    for c in set(corpora):
        mask = (labels == c) & ~np.isnan(candidate.p5) & ~np.isnan(base.p5)
        _, _, high = bootstrap_ci(candidate.p5[mask] - base.p5[mask])
        if high < 0:
            return False
    return True
