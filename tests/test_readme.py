"""The README's own promises: its corruption example runs as printed and gives stable keep-masks of the right
lengths, its entry-point snippet names that example, and every internal link reaches a heading (the table of
contents included, which links every ``##`` section)."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from avbench import corruptions
from avbench.corruptions import Corruption
from avbench.corruptions.clocks import frame_count

README = Path(__file__).resolve().parents[1] / "README.md"
TEXT = README.read_text(encoding="utf-8")


def _example(name: str) -> str:
    """The Python code between ``<!-- example:NAME -->`` and ``<!-- /example:NAME -->``."""
    found = re.findall(rf"<!-- example:{name} -->\s*```python\n(.*?)```\s*<!-- /example:{name} -->", TEXT, re.S)
    assert len(found) == 1, f"README.md needs exactly one example:{name} block of Python between its markers"
    return found[0]


@pytest.fixture(scope="module")
def example() -> tuple[Corruption, dict]:
    namespace: dict = {"__name__": "readme_example_corruption"}
    exec(compile(_example("corruption"), f"{README}#example:corruption", "exec"), namespace)  # noqa: S102
    made = [value for value in namespace.values() if isinstance(value, Corruption)]
    assert len(made) == 1, "the corruption example defines one Corruption"
    return made[0], namespace


def test_corruption_example_gives_stable_keep_masks(example, synthetic) -> None:
    corruption, _ = example
    modalities = tuple(synthetic.modalities)
    clean = min(corruption.levels, key=lambda level: level.x)
    worst = max(corruption.levels, key=lambda level: level.x)
    assert len({level.label for level in corruption.levels}) == len(corruption.levels) > 1
    for index in synthetic.split_indices("test")[:4]:
        timing = synthetic.timing(int(index))
        wanted = {m for m in modalities if m in timing.n_frames}
        assert "audio" in wanted
        for level in corruption.levels:
            masks = corruptions.masks_for(corruption, level, timing, 0, modalities)
            assert set(masks) == wanted
            for m, mask in masks.items():
                assert mask.dtype == np.bool_ and mask.shape == (frame_count(timing, m),)
            again = corruptions.masks_for(corruption, level, timing, 0, modalities)
            assert all(np.array_equal(masks[m], again[m]) for m in wanted), "same seed, level and clip: same masks"
            alone = corruptions.masks_for(corruption, level, timing, 0, ("audio",))
            assert np.array_equal(alone["audio"], masks["audio"]), "a mask must not depend on the other modalities"
            if level is clean:
                assert all(mask.all() for mask in masks.values())
            if level is worst:
                assert not masks["audio"].all()
    # another mask seed draws other masks (on some clip of the four)
    timings = [synthetic.timing(int(i)) for i in synthetic.split_indices("test")[:4]]
    assert any(not np.array_equal(corruptions.masks_for(corruption, worst, t, 0, ("audio",))["audio"],
                                  corruptions.masks_for(corruption, worst, t, 1, ("audio",))["audio"])
               for t in timings)


def test_entry_point_snippet_registers_the_example(example) -> None:
    corruption, namespace = example
    match = re.search(r'\[project\.entry-points\."avbench\.corruptions"\]\n([\w.-]+) = "([\w.]+):(\w+)"', TEXT)
    assert match, "README.md shows the avbench.corruptions entry point of the example"
    name, _, attribute = match.groups()
    assert name == corruption.name, "the entry point's name is the one --corruption takes, and keys the masks"
    assert namespace.get(attribute) is corruption


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation other than '-' and '_' dropped, spaces as '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _outside_code(text: str) -> list[str]:
    lines, fenced = [], False
    for line in text.split("\n"):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def test_internal_links_reach_headings() -> None:
    lines = _outside_code(TEXT)
    anchors: set[str] = set()
    for line in lines:
        if match := re.match(r"(#{1,6}) (.+)", line):
            base = anchor(match.group(2))
            name, k = base, 0
            while name in anchors:  # GitHub numbers repeated headings: name, name-1, name-2, ...
                k += 1
                name = f"{base}-{k}"
            anchors.add(name)
    links = set(re.findall(r"\]\(#([^)\s]+)\)", "\n".join(lines)))
    assert links, "the README has internal links (its table of contents at least)"
    assert sorted(links - anchors) == [], "links to no heading"
    sections = {anchor(line[3:]) for line in lines if line.startswith("## ")} - {"contents"}
    assert sorted(sections - links) == [], "sections missing from the table of contents"
