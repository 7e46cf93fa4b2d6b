"""The demo's report as headless Chromium lays it out: what a reader sees, measured.

One script per page gives: the verdict's text and data, the functional tests' outcomes,
the failed conformance rows, every word that a table cell breaks or overflows, the player
screenshots and whether each loaded, every image that did not load, and the prose (the
text outside code, quoted messages and UI strings), for the language checks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from realtools import require_tool

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
MEASURE = r"""
const verdict = document.getElementById('verdict');
const outcomes = Array.from(document.querySelectorAll('table.test-summary tr[data-test]'))
  .map(row => row.dataset.outcome);
const failedRules = document.querySelectorAll('table.conformance tr[data-verdict="failed"]').length;
const broken = [];
for (const cell of document.querySelectorAll('table td, table th')) {
  const style = getComputedStyle(cell);
  const room = cell.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const words = /\S+/g;
    for (let m = words.exec(node.data); m; m = words.exec(node.data)) {
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const lines = Array.from(range.getClientRects()).filter(r => r.width > 0).length;
      const width = range.getBoundingClientRect().width;
      if (lines > 1 || width > room + 1) broken.push([m[0], lines, Math.round(width), Math.round(room)]);
    }
  }
}
const loaded = img => img.complete && img.naturalWidth > 0;
const player = Array.from(document.querySelectorAll('figure.player-shot img'))
  .map(img => [img.getAttribute('src'), loaded(img)]);
const unloaded = Array.from(document.images).filter(img => !loaded(img)).map(img => img.getAttribute('src'));
const copy = document.body.cloneNode(true);
copy.querySelectorAll('code, pre, script, style, [lang="en"]').forEach(el => el.remove());
return {
  verdictText: verdict.textContent.trim(), verdictClass: verdict.className,
  verdictData: Object.assign({}, verdict.dataset), outcomes, failedRules, broken, player,
  images: document.images.length, unloaded, prose: copy.innerText,
  lang: document.documentElement.lang,
  overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
};
"""


MAX_SCREENSHOT_HEIGHT = 16000  # pixels; Chromium refuses much taller windows


@dataclass
class PageMeasure:
    """What MEASURE returned for one window width."""

    width: int
    data: dict


@contextlib.contextmanager
def chromium(profile: Path, width: int = 1280) -> Iterator:
    """A headless Chromium (selenium) with its own profile folder, quit on the way out."""
    paths = require_tool("chromium", "chromedriver")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = paths["chromium"]
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},1000")
    driver = webdriver.Chrome(service=Service(paths["chromedriver"]), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def measure_report(index: Path, profile: Path, widths: tuple[int, ...]) -> list[PageMeasure]:
    """Open ``index`` at each window width and measure it."""
    with chromium(profile, widths[0]) as driver:
        driver.get(index.as_uri())
        measures = []
        for width in widths:
            driver.set_window_size(width, 1000)
            measures.append(PageMeasure(width, driver.execute_script(MEASURE)))
        return measures


def screenshot_report(index: Path, profile: Path, out: Path) -> None:
    """A full-page picture of the report at 1280 pixels, for a person to look at."""
    with chromium(profile) as driver:
        driver.get(index.as_uri())
        height = driver.execute_script("return document.documentElement.scrollHeight;")
        driver.set_window_size(1280, min(height, MAX_SCREENSHOT_HEIGHT))
        driver.save_screenshot(str(out))
