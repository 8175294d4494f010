"""Fixtures for the dashboard's browser tests: a real `drover serve` on 127.0.0.1 with its own
data directory, and Debian's headless Chromium driven by Selenium through chromium-driver."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Drover:
    """A `drover serve` child process and a small client for its JSON API."""

    def __init__(self, data: Path, environment: dict[str, str] | None = None) -> None:
        self.data = data
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.binary = os.environ.get("DROVER_BIN", str(ROOT / ".build/debug/drover"))
        env = os.environ | {
            "DROVER_DATA_DIR": str(data), "DROVER_PORT": str(self.port), "DROVER_GENERATOR": "procedural",
            "DROVER_RATER_SALT": "pepper", "LOG_LEVEL": "critical",
        } | (environment or {})
        self.process = subprocess.Popen([self.binary, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        eventually("drover serve to answer /healthz", lambda: self.healthy(), timeout=30)

    def healthy(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"drover serve exited with {self.process.returncode}")
        try:
            return self.get("/healthz")["status"] in ("ok", "degraded")
        except (OSError, urllib.error.URLError):
            return False

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def get(self, path: str) -> dict:
        status, body = self.request("GET", path)
        assert status == 200, (path, status, body)
        return body

    def post(self, path: str, body: dict) -> dict:
        status, answer = self.request("POST", path, body)
        assert status in (201, 202), (path, status, answer)
        return answer

    def generate(self, prompt: str, n: int = 1, seed: int | None = None) -> list[str]:
        body: dict = {"prompt": prompt, "n": n}
        if seed is not None:
            body["seed"] = seed
        return [image["id"] for image in self.post("/api/generations", body)["images"]]

    def vote(self, image: str, rater: str, rating: str) -> str:
        return self.post("/api/votes", {"image_id": image, "rater": rater, "rating": rating})["rater"]

    def import_votes(self, rows: list[list[str]]) -> None:
        """Runs `drover import` on a CSV of these rows (prompt, path, rating, rater, model_version,
        voted_at, source); the running server commits them as one change set."""
        votes = self.data / "votes-to-import.csv"
        with votes.open("w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(["prompt", "path", "rating", "rater", "model_version", "voted_at", "source"])
            writer.writerows(rows)
        environment = os.environ | {"DROVER_DATA_DIR": str(self.data), "DROVER_RATER_SALT": "pepper", "LOG_LEVEL": "critical"}
        subprocess.run([self.binary, "import", str(votes)], env=environment, check=True, capture_output=True, timeout=120)

    def git(self, *arguments: str) -> str:
        return subprocess.run(["git", "-C", str(self.data / "dataset"), *arguments], check=True, capture_output=True, text=True).stdout

    def train_csv(self) -> str:
        """The rows of every ``annotations/train/<shard>/<abc>.csv`` at HEAD, headers included."""
        files = self.git("ls-tree", "-r", "--name-only", "HEAD", "--", "annotations/train/").split()
        return "".join(self.git("show", f"HEAD:{path}") for path in files)

    def settled(self) -> bool:
        """Nothing waits in the inbox and every change is committed."""
        waiting = self.get("/api/dashboard/overview?days=1")["waiting"]
        return waiting["inbox_depth"] == 0 and waiting["uncommitted_changes"] == 0

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def eventually(what: str, condition, timeout: float = 20) -> None:
    """Polls `condition` until it holds, failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def data_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="drover-browser-") as directory:
        yield Path(directory)


@pytest.fixture
def drover(data_dir: Path) -> Iterator[Drover]:
    server = Drover(data_dir)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where the tests put their screenshots: DROVER_SCREENSHOTS, or a fresh temporary directory."""
    directory = Path(os.environ.get("DROVER_SCREENSHOTS") or tempfile.mkdtemp(prefix="drover-screenshots-"))
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("DROVER_CHROMIUM", "/usr/bin/chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,800",
                     "--force-device-scale-factor=1", "--lang=en-US"):
        options.add_argument(argument)
    service = Service(os.environ.get("DROVER_CHROMEDRIVER", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(options=options, service=service)
    # The page's viewport, exactly: screenshots are 1280 × 800.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False})
    yield driver
    driver.quit()
