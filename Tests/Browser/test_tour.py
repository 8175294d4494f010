"""A dataset a newcomer can recognise — two blinded model versions, six raters voting over two
weeks, a revert — photographed page by page at 1280 × 800. With DROVER_SCREENSHOTS=docs/screenshots
this makes the README's pictures."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from conftest import Drover, eventually
from test_dashboard import open_page, wait

PROMPTS = [
    "a fluffy ox eating almonds", "a lighthouse made of cheese", "a red fox in fresh snow", "a teapot shaped like a snail",
    "a castle floating in the clouds", "a heron at dawn, watercolour", "a robot tending a vegetable garden", "a cat wearing a tiny hat",
]
MODELS = """
[[version]]
name = "sd15-base"
backend = "procedural"
weight = 1

[[version]]
name = "sd15-dpo-1"
backend = "procedural"
weight = 1
"""


def test_tour(data_dir: Path, browser: WebDriver, screenshots: Path) -> None:
    models = data_dir / "models.toml"
    models.write_text(MODELS)
    drover = Drover(data_dir, {"DROVER_MODELS": str(models)})
    try:
        seed_two_weeks_of_votes(drover)

        open_page(browser, drover, "/overview", "#comparison")
        wait(browser).until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "figure.chart svg rect")) > 10)
        browser.save_screenshot(str(screenshots / "overview.png"))

        browser.execute_script("localStorage.setItem('drover-rater', 'alice')")
        open_page(browser, drover, "/images", "#grid article.card")
        browser.save_screenshot(str(screenshots / "images.png"))

        disputed = drover.get("/api/dashboard/images?sort=most_disputed&limit=1")["images"][0]["id"]
        open_page(browser, drover, f"/image/{disputed}", "#events")
        browser.save_screenshot(str(screenshots / "image.png"))

        open_page(browser, drover, "/history", "article.commit")
        browser.save_screenshot(str(screenshots / "history.png"))

        open_page(browser, drover, "/raters", "#raters tbody tr")
        browser.save_screenshot(str(screenshots / "raters.png"))
    finally:
        drover.stop()


def seed_two_weeks_of_votes(drover: Drover) -> None:
    """Images from the web page; two weeks of earlier votes brought in by `drover import`
    (raters prefer sd15-dpo-1); today's votes through the page's API; one revert."""
    rng = random.Random(21)
    images: list[tuple[str, str, str]] = []
    for prompt in PROMPTS:
        for image in drover.generate(prompt, n=4):
            version = drover.get(f"/api/dashboard/images/{image}")["provenance"]["model_version"]
            images.append((image, prompt, version))

    raters = [f"{rng.getrandbits(48):012x}" for _ in range(5)]
    now = datetime.now(timezone.utc)
    rows = []
    for day in range(14, 0, -1):
        for image, prompt, version in rng.sample(images, 6):
            for rater in rng.sample(raters, rng.randint(1, 3)):
                liked = rng.random() < (0.72 if version == "sd15-dpo-1" else 0.48)
                at = now - timedelta(days=day, minutes=rng.randint(0, 600))
                rows.append([prompt, f"images/{image}.png", "Approve" if liked else "Disapprove", rater, version,
                             at.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "slack-reaction"])
    # One vote per rater and image: the newest row wins, as it would have.
    latest = {(row[1], row[3]): row for row in sorted(rows, key=lambda row: row[5])}
    drover.import_votes(sorted(latest.values(), key=lambda row: row[5]))

    for image, _, version in images[:10]:
        drover.vote(image, "alice", "up" if version == "sd15-dpo-1" or rng.random() < 0.4 else "down")
        eventually("alice's vote", drover.settled)
    drover.vote(images[1][0], "mallory", "up")
    eventually("mallory's vote", drover.settled)
    event = drover.get(f"/api/dashboard/images/{images[1][0]}")["events"][-1]["id"]
    drover.post("/api/reverts", {"vote_event": event, "reason": "test account, not a real rater"})
    eventually("the revert", drover.settled)
