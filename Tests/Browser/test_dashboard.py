"""The dashboard in a real browser against a real `drover serve`: generate, vote, filter, one
image's history, revert, and every page's charts; each page is photographed at 1280 × 800."""

from __future__ import annotations

import re
from pathlib import Path

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from conftest import Drover, eventually

# Colour emoji need a font headless Chromium on Debian does not have: the page must not use them.
EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F]")


def wait(browser: WebDriver, timeout: float = 20) -> WebDriverWait:
    # The page redraws parts of itself as data arrives: an element found a moment ago may be gone.
    return WebDriverWait(browser, timeout, ignored_exceptions=[StaleElementReferenceException])


def open_page(browser: WebDriver, drover: Drover, hash_route: str, ready: str) -> None:
    """Opens `#<hash_route>` and waits for the element `ready` (a CSS selector) to show."""
    browser.get(f"{drover.url}/#{hash_route}")
    wait(browser).until(EC.visibility_of_element_located((By.CSS_SELECTOR, ready)))


def card(browser: WebDriver, image: str):
    return browser.find_element(By.CSS_SELECTOR, f'article.card[data-id="{image}"]')


def count(browser: WebDriver, image: str, rating: str) -> str:
    return card(browser, image).find_element(By.CSS_SELECTOR, f'button[data-rating="{rating}"] .count').text


def test_generate_vote_and_see_the_count_and_commit_without_a_reload(drover: Drover, browser: WebDriver, screenshots: Path) -> None:
    open_page(browser, drover, "/images", "#generate")
    fields = browser.find_elements(By.CSS_SELECTOR, "#generate input")
    assert [field.get_attribute("id") for field in fields] == ["rater-name", "prompt"], "the name comes first, above the prompt"
    browser.find_element(By.ID, "rater-name").send_keys("alice")
    browser.find_element(By.ID, "prompt").send_keys("a fluffy ox eating almonds")
    Select(browser.find_element(By.ID, "count")).select_by_value("2")
    browser.find_element(By.ID, "generate-button").click()
    wait(browser).until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#grid article.card")) == 2)
    browser.execute_script("window.notReloaded = true")

    image = browser.find_elements(By.CSS_SELECTOR, "#grid article.card")[0].get_attribute("data-id")
    card(browser, image).find_element(By.CSS_SELECTOR, 'button[data-rating="up"]').click()
    wait(browser).until(lambda b: count(b, image, "up") == "1")
    wait(browser).until(lambda b: "approved" in b.find_element(By.CSS_SELECTOR, "#commits li").text)
    assert card(browser, image).find_element(By.CSS_SELECTOR, 'button[data-rating="up"]').get_attribute("aria-pressed") == "true"
    assert browser.execute_script("return window.notReloaded") is True
    eventually("the vote in train.csv", lambda: f"images/{image[:2]}/{image}.png,Approve" in drover.train_csv())

    # The name is remembered, and nothing on the page needs a colour-emoji font.
    browser.refresh()
    wait(browser).until(lambda b: b.find_element(By.ID, "rater-name").get_attribute("value") == "alice")
    wait(browser).until(lambda b: count(b, image, "up") == "1")
    assert not EMOJI.search(browser.find_element(By.TAG_NAME, "body").text)
    assert not EMOJI.search(browser.page_source)
    browser.save_screenshot(str(screenshots / "images-after-a-vote.png"))


def test_the_grid_filters_and_sorts(drover: Drover, browser: WebDriver) -> None:
    herons = drover.generate("a grey heron at dawn", n=2, seed=1)
    oxen = drover.generate("a red ox in the snow", n=2, seed=2)
    drover.vote(herons[0], "alice", "up")
    drover.vote(oxen[0], "alice", "up")
    drover.vote(oxen[0], "bob", "down")
    eventually("the votes to settle", drover.settled)

    open_page(browser, drover, "/images", "#grid article.card")
    search = browser.find_element(By.ID, "q")
    search.send_keys("heron", Keys.ENTER)
    wait(browser).until(lambda b: {c.get_attribute("data-id") for c in b.find_elements(By.CSS_SELECTOR, "#grid article.card")} == set(herons))
    assert "q=heron" in browser.current_url

    browser.find_element(By.ID, "q").clear()
    Select(browser.find_element(By.ID, "state")).select_by_value("disputed")
    wait(browser).until(lambda b: [c.get_attribute("data-id") for c in b.find_elements(By.CSS_SELECTOR, "#grid article.card")] == [oxen[0]])

    Select(browser.find_element(By.ID, "state")).select_by_value("unrated")
    wait(browser).until(lambda b: {c.get_attribute("data-id") for c in b.find_elements(By.CSS_SELECTOR, "#grid article.card")} == {herons[1], oxen[1]})

    Select(browser.find_element(By.ID, "state")).select_by_value("")
    Select(browser.find_element(By.ID, "sort")).select_by_value("most_votes")
    wait(browser).until(lambda b: [c.get_attribute("data-id") for c in b.find_elements(By.CSS_SELECTOR, "#grid article.card")][:2] == [oxen[0], herons[0]])
    # Raters are blinded: no card names a model version.
    assert "0-1" not in browser.find_element(By.ID, "grid").text


def test_one_image_shows_every_vote_event_and_its_commits(drover: Drover, browser: WebDriver, screenshots: Path) -> None:
    image = drover.generate("a lighthouse made of cheese", seed=3)[0]
    alice = drover.vote(image, "alice", "up")
    eventually("alice's vote", drover.settled)
    drover.vote(image, "alice", "down")
    eventually("alice's change", drover.settled)
    bob = drover.vote(image, "bob", "up")
    eventually("bob's vote", drover.settled)

    open_page(browser, drover, f"/image/{image}", "#events")
    rows = browser.find_elements(By.CSS_SELECTOR, "#events tbody tr")
    assert [row.find_elements(By.TAG_NAME, "td")[1].text for row in rows] == [alice, alice, bob]
    assert "changed to disapprove" in rows[1].text
    assert all(row.find_elements(By.TAG_NAME, "td")[3].text == "web" for row in rows)
    commits = browser.find_elements(By.CSS_SELECTOR, "article.commit")
    assert len(commits) == 4, "three vote commits and the image's own"
    assert bob in commits[0].find_element(By.CSS_SELECTOR, "tr.added").text
    # Where people vote, the model version stays folded away in the provenance.
    assert "0-1" not in browser.find_element(By.CSS_SELECTOR, ".image-page > .stack").text

    # Vote from here, by keyboard.
    browser.execute_script("localStorage.setItem('drover-rater', 'carol')")
    browser.refresh()
    down = wait(browser).until(EC.element_to_be_clickable((By.CSS_SELECTOR, '.image-page .votes button[data-rating="down"]')))
    down.send_keys(Keys.ENTER)
    wait(browser).until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#events tbody tr")) == 4)
    browser.save_screenshot(str(screenshots / "image-vote-history.png"))


def test_revert_a_vote_with_a_reason(drover: Drover, browser: WebDriver, screenshots: Path) -> None:
    image = drover.generate("a teapot shaped like a snail", seed=4)[0]
    drover.vote(image, "mallory", "down")
    eventually("the vote's commit", lambda: f"images/{image[:2]}/{image}.png,Disapprove" in drover.train_csv())

    open_page(browser, drover, f"/image/{image}", "#events")
    browser.find_element(By.CSS_SELECTOR, "#events button.revert").click()
    dialog = wait(browser).until(EC.visibility_of_element_located((By.ID, "confirm")))
    # Cancelling reverts nothing.
    dialog.find_element(By.CSS_SELECTOR, 'button[value="cancel"]').click()
    wait(browser).until(EC.invisibility_of_element_located((By.ID, "confirm")))
    assert f"images/{image[:2]}/{image}.png" in drover.train_csv()

    browser.find_element(By.CSS_SELECTOR, "#events button.revert").click()
    wait(browser).until(EC.visibility_of_element_located((By.ID, "confirm-reason"))).send_keys("spam account")
    browser.find_element(By.ID, "confirm-ok").click()
    eventually("the revert's commit", lambda: f"images/{image[:2]}/{image}.png" not in drover.train_csv())
    assert drover.git("log", "-1", "--format=%s").strip() == "Revert 1 vote of event 1: spam account"
    wait(browser).until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#events tbody tr")) == 2)
    assert "took back" in browser.find_elements(By.CSS_SELECTOR, "#events tbody tr")[1].text

    open_page(browser, drover, "/history", "article.commit")
    newest = browser.find_element(By.CSS_SELECTOR, "article.commit")
    assert "spam account" in newest.text and newest.find_elements(By.CSS_SELECTOR, "tr.removed")
    browser.save_screenshot(str(screenshots / "history-after-a-revert.png"))


def test_revert_a_commit_from_the_history(drover: Drover, browser: WebDriver) -> None:
    image = drover.generate("a kite over the sea", seed=5)[0]
    drover.vote(image, "alice", "up")
    eventually("the vote's commit", lambda: f"images/{image[:2]}/{image}.png,Approve" in drover.train_csv())
    vote_commit = drover.git("rev-parse", "HEAD").strip()

    open_page(browser, drover, "/history", f'article.commit[data-sha="{vote_commit}"] button.revert')
    browser.find_element(By.CSS_SELECTOR, f'article.commit[data-sha="{vote_commit}"] button.revert').click()
    wait(browser).until(EC.visibility_of_element_located((By.ID, "confirm-reason"))).send_keys("test votes")
    browser.find_element(By.ID, "confirm-ok").click()
    eventually("the revert's commit", lambda: f"images/{image[:2]}/{image}.png" not in drover.train_csv())
    assert drover.git("log", "-1", "--format=%s").strip() == f"Revert 1 vote from commit {vote_commit[:10]}: test votes"
    wait(browser).until(lambda b: "test votes" in b.find_element(By.CSS_SELECTOR, "article.commit").text)


def test_revert_one_vote_of_a_commit_from_the_history(drover: Drover, browser: WebDriver) -> None:
    image = drover.generate("a paper boat on a pond", seed=8)[0]
    eventually("the image's commit", drover.settled)
    rows = [["a paper boat on a pond", f"images/{image}.png", rating, rater, "0-1", "2026-11-30T10:00:00.000Z", "web"]
            for rating, rater in (("Approve", "aaaaaaaaaaaa"), ("Disapprove", "bbbbbbbbbbbb"))]
    drover.import_votes(rows)

    open_page(browser, drover, "/history", "article.commit tr.added button.revert")
    imported = browser.find_element(By.CSS_SELECTOR, "article.commit")
    assert imported.find_element(By.CSS_SELECTOR, ".title").text.startswith("Import 2 votes")
    row = next(row for row in imported.find_elements(By.CSS_SELECTOR, "tr.added") if "bbbbbbbbbbbb" in row.text)
    row.find_element(By.CSS_SELECTOR, "button.revert").click()
    wait(browser).until(EC.visibility_of_element_located((By.ID, "confirm-reason"))).send_keys("duplicate rater")
    browser.find_element(By.ID, "confirm-ok").click()
    eventually("the revert's commit", lambda: "bbbbbbbbbbbb" not in drover.train_csv())
    assert "aaaaaaaaaaaa" in drover.train_csv()
    assert re.fullmatch(r"Revert 1 vote of event \d+: duplicate rater", drover.git("log", "-1", "--format=%s").strip())


def test_pages_with_no_data_say_so(drover: Drover, browser: WebDriver) -> None:
    open_page(browser, drover, "/overview", "#overview-title")
    assert browser.find_elements(By.XPATH, "//*[name()='svg']//*[name()='text' and text()='No votes yet']")
    open_page(browser, drover, "/images", "#grid .empty")
    open_page(browser, drover, "/raters", "#raters-title")
    assert "No votes yet" in browser.find_element(By.ID, "view").text
    assert browser.execute_script("return document.querySelector('link[rel=icon]').href").endswith("/dashboard/favicon.svg")


def test_overview_and_raters_draw_their_figures(drover: Drover, browser: WebDriver, screenshots: Path) -> None:
    images = drover.generate("a cat wearing a tiny hat", n=4, seed=6) + drover.generate("a castle in the clouds", n=4, seed=7)
    for index, image in enumerate(images):
        for rater in ("alice", "bob", "carol")[: 1 + index % 3]:
            drover.vote(image, rater, "up" if (index + len(rater)) % 3 else "down")
    eventually("the votes to settle", drover.settled)

    open_page(browser, drover, "/overview", "#overview-title")
    charts = browser.find_elements(By.CSS_SELECTOR, "figure.chart svg[role=img]")
    assert len(charts) >= 3
    assert all(chart.get_attribute("tabindex") == "0" for chart in charts), "charts take keyboard focus"
    bars = browser.find_elements(By.CSS_SELECTOR, "figure.chart svg rect[fill='#2e7d4f']")
    assert bars, "the votes-per-day bars"
    table = browser.find_element(By.CSS_SELECTOR, "figure.chart details table")
    assert "approve" in table.get_attribute("textContent")
    assert browser.find_element(By.ID, "agreement").text
    browser.save_screenshot(str(screenshots / "overview-figures.png"))

    open_page(browser, drover, "/raters", "#raters tbody tr")
    rows = browser.find_elements(By.CSS_SELECTOR, "#raters tbody tr")
    stats = drover.get("/api/stats")
    assert len(rows) == len(stats["raters"]) == 3
    browser.save_screenshot(str(screenshots / "raters-table.png"))
