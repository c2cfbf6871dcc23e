"""The static HTML leaderboard in a real headless Chromium: it renders, sorts on a header click, draws the curves
and shows a hostile entry name as text without running it."""
from __future__ import annotations

from pathlib import Path

from avbench.leaderboards.commands import render
from avbench.leaderboards.schema import Entry, MetricValue, ModelInfo, Protocol, write_entry

HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


def _entry(name: str, label: str, clean: float, loss: float) -> Entry:
    metrics = [MetricValue("random-audio", f"{p}pct", float(p), "macro_f1", clean - loss * p / 100,
                           clean - loss * p / 100 - 0.02, clean - loss * p / 100 + 0.02) for p in (0, 50, 100)]
    return Entry("verified", ModelInfo(name, label), Protocol("avbench-test", "synthetic", "emotion"), metrics)


def _column(table, index: int) -> list[str]:
    from selenium.webdriver.common.by import By

    return [row.find_elements(By.TAG_NAME, "td")[index].text for row in table.find_elements(By.CSS_SELECTOR, "tbody tr")]


def test_page_renders_sorts_and_escapes(browser, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    entries = tmp_path / "entries"
    for entry in (_entry("Alpha", "alpha", 0.80, 0.30), _entry(HOSTILE, "hostile", 0.70, 0.05),
                  _entry("Beta", "beta", 0.75, 0.50)):
        write_entry(entry, entries)
    page = tmp_path / "board.html"
    page.write_text(render("html", entries=entries), encoding="utf-8")
    browser.get(page.as_uri())

    tables = browser.find_elements(By.CSS_SELECTOR, "table.board")
    assert len(tables) == 2  # the clean board and the random-audio board
    sweep = tables[1]
    assert _column(sweep, 1) == [HOSTILE, "Alpha", "Beta"]  # ranked by AUC: 0.675, 0.65, 0.5
    assert browser.execute_script("return typeof window.__pwned") == "undefined"
    assert len(browser.find_elements(By.CSS_SELECTOR, "img")) == 0

    header = sweep.find_elements(By.CSS_SELECTOR, "thead th")
    header[1].click()  # Model, ascending
    assert _column(sweep, 1) == sorted([HOSTILE, "Alpha", "Beta"])
    assert header[1].get_attribute("aria-sort") == "ascending"
    auc = next(i for i, th in enumerate(header) if th.text.startswith("AUC"))
    header[auc].click()
    assert [float(v) for v in _column(sweep, auc)] == sorted(float(v) for v in _column(sweep, auc))
    header[auc].click()
    assert _column(sweep, 1) == [HOSTILE, "Alpha", "Beta"]  # descending AUC again

    curves = browser.find_elements(By.CSS_SELECTOR, "section svg polyline")
    assert len(curves) == 3
    titles = [c.find_element(By.TAG_NAME, "title").get_attribute("textContent") for c in curves]
    assert HOSTILE in titles


def _modality_entry(name: str, clean: float, audio: float, video: float) -> Entry:
    metrics = [MetricValue("modality", level, x, "macro_f1", value, value - 0.01, value + 0.01)
               for level, x, value in (("none", 0.0, clean), ("audio", 1.0, audio), ("video", 2.0, video))]
    protocol = Protocol("avbench-test", "synthetic", "emotion", seeds=[0, 1], mask_seed=7, n_clips=300)
    return Entry("verified", ModelInfo(name, name.lower()), protocol, metrics)


def test_every_board_has_a_readable_picture(browser, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    entries = tmp_path / "entries"
    long_name = "Align-MultiScaleW (audio-only, word chunks)"
    for entry in (_entry(long_name, "long", 0.80, 0.30), _entry("Beta", "beta", 0.75, 0.50),
                  _modality_entry("Gamma", 0.8, 0.6, 0.7), _modality_entry("Delta", 0.7, 0.65, 0.5)):
        write_entry(entry, entries)
    page = tmp_path / "board.html"
    page.write_text(render("html", entries=entries), encoding="utf-8")
    browser.get(page.as_uri())
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []

    sections = browser.find_elements(By.CSS_SELECTOR, "section")
    headers = {s.find_element(By.TAG_NAME, "h2").text: s for s in sections}
    assert len(sections) == 3 and all(s.find_elements(By.CSS_SELECTOR, "figure svg") for s in sections)
    modality = next(s for title, s in headers.items() if "modality" in title)
    columns = [th.text for th in modality.find_elements(By.CSS_SELECTOR, "thead th")]
    assert "audio missing" in columns and "video missing" in columns and not any("=" in c for c in columns)
    assert len(modality.find_elements(By.CSS_SELECTOR, "svg circle.score")) == 6  # 2 models × 3 conditions
    assert len(modality.find_elements(By.CSS_SELECTOR, "svg line.interval")) == 6
    assert "seeds 0, 1; mask seed 7" in modality.text and "synthetic, test split (300 clips)" in modality.text

    sweep = next(s for title, s in headers.items() if "random-audio" in title)
    svg = sweep.find_element(By.CSS_SELECTOR, "figure svg")
    assert int(svg.get_attribute("width")) >= 800
    assert len(svg.find_elements(By.CSS_SELECTOR, "polygon.band")) == 2  # the 95 % bands
    assert len(svg.find_elements(By.CSS_SELECTOR, "line.level-tick")) == 3  # a tick at each level: 0, 50, 100
    labels = [t.get_attribute("textContent") for t in svg.find_elements(By.TAG_NAME, "text")]
    assert long_name in labels and "Beta" in labels and {"0", "50", "100"} <= set(labels)
    legend = next(t for t in svg.find_elements(By.TAG_NAME, "text") if t.get_attribute("textContent") == long_name)
    box = browser.execute_script("var b = arguments[0].getBBox(); return [b.x + b.width, b.y];", legend)
    assert box[0] <= int(svg.get_attribute("width"))  # the whole legend lies inside the picture

    clean = next(s for title, s in headers.items() if "clean" in title)
    assert len(clean.find_elements(By.CSS_SELECTOR, "svg circle.score")) == 4


def _linked(name: str, label: str, dataset: str, provenance: str, clean: float, code: str | None,
            citation: str = "") -> Entry:
    metrics = [MetricValue("random-audio", f"{p}pct", float(p), "macro_f1", clean - 0.3 * p / 100,
                           clean - 0.3 * p / 100 - 0.02, clean - 0.3 * p / 100 + 0.02) for p in (0, 50, 100)]
    return Entry(provenance, ModelInfo(name, label, paper=f"{name} et al., 2025", citation=citation, code=code),
                 Protocol("avbench-test", dataset, "emotion"), metrics)


def test_page_searches_filters_links_and_downloads(browser, tmp_path: Path) -> None:
    """Search by model, filter by dataset, corruption and provenance (from the URL too), paper and code links from
    the entries (never a javascript: link), and the entries behind a board as a JSON download."""
    import json
    import time

    from selenium.webdriver.common.by import By

    entries = tmp_path / "entries"
    written = [_linked("Alpha", "alpha", "synthetic", "verified", 0.8, "https://example.org/alpha",
                       'A. Author, "Alpha," Proc. X, 2025, doi: 10.1145/3577190.3614110'),
               _linked("Beta", "beta", "synthetic", "reported", 0.7, "javascript:alert(1)"),
               _linked("Gamma", "gamma", "crema-d", "verified", 0.6, None)]
    for entry in written:
        write_entry(entry, entries)
    page = tmp_path / "board.html"
    page.write_text(render("html", entries=entries), encoding="utf-8")
    downloads = tmp_path / "downloads"
    browser.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    browser.get(page.as_uri())
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []

    def visible_models() -> list[str]:
        return sorted(row.find_elements(By.TAG_NAME, "td")[1].text
                      for row in browser.find_elements(By.CSS_SELECTOR, "section.board tbody tr") if row.is_displayed())

    def curves_shown() -> int:
        return sum(1 for g in browser.find_elements(By.CSS_SELECTOR, "section.board svg g.series polyline")
                   if g.is_displayed())

    assert visible_models() == sorted(["Alpha", "Alpha", "Beta", "Beta", "Gamma", "Gamma"])  # clean + random-audio
    assert "Showing 6 of 6 rows on 4 boards" in browser.find_element(By.ID, "shown").text
    search = browser.find_element(By.NAME, "model")
    search.send_keys("ALP")
    assert visible_models() == ["Alpha", "Alpha"] and curves_shown() == 1
    search.clear()
    search.send_keys(" ")  # an input event with the box blank again
    browser.find_element(By.CSS_SELECTOR, "select[name=provenance] option[value=reported]").click()
    assert visible_models() == ["Beta", "Beta"]
    browser.get(page.as_uri() + "?dataset=crema-d&corruption=clean")
    assert visible_models() == ["Gamma"]
    assert len([s for s in browser.find_elements(By.CSS_SELECTOR, "section.board") if s.is_displayed()]) == 1

    browser.get(page.as_uri())
    links = {a.text: a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "section.board td a")}
    assert links["Alpha et al., 2025"] == "https://doi.org/10.1145/3577190.3614110"
    assert links["code"] == "https://example.org/alpha"  # Beta's javascript: link is text, never a link
    assert not any(href.startswith("javascript:") for href in links.values())

    sweep = next(s for s in browser.find_elements(By.CSS_SELECTOR, "section.board")
                 if s.get_attribute("data-dataset") == "synthetic" and s.get_attribute("data-corruption") == "random-audio")
    sweep.find_element(By.CSS_SELECTOR, "a.download").click()
    target = downloads / "synthetic-emotion-random-audio-entries.json"
    deadline = time.monotonic() + 10
    while not target.is_file() and time.monotonic() < deadline:
        time.sleep(0.1)
    downloaded = json.loads(target.read_text(encoding="utf-8"))
    assert sorted(e["model"]["name"] for e in downloaded) == ["Alpha", "Beta"]
    stored = [json.loads(p.read_text()) for p in entries.glob("*.json")]
    by_name = sorted((e for e in stored if e["protocol"]["dataset"] == "synthetic"), key=lambda e: e["model"]["name"])
    assert sorted(downloaded, key=lambda e: e["model"]["name"]) == by_name  # the entries as stored, whole
