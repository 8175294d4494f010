"""Proof that fake_oxen.py is faithful: the real Oxen client (`oxenai`, a Rust extension built
from liboxen's `api::client`) drives it, and what it sends is what it reads back.

Run: .venv/bin/python -m pytest Tests/FakeOxen -q
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

xxhash = pytest.importorskip("xxhash")
oxen = pytest.importorskip("oxen")
from oxen import DataFrame, RemoteRepo, Workspace

FAKE = Path(__file__).with_name("fake_oxen.py")
HEADER = "prompt,path,rating,rater,model_version\n"
#: One token for every fake in the session: the client keeps one HTTP client per host, with the
#: token it read first, for the life of the process — and a later fake may get a reused port.
TOKEN = "fake-oxen-test-token-7f3a"


@dataclass
class Fake:
    """A running fake: where it listens, its token, and its test-only routes."""

    process: subprocess.Popen
    port: int
    token: str
    state_dir: Path

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def call(self, method: str, path: str, body: Any = None, token: str | None = None,
             raw: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(f"http://{self.host}{path}", data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token is not None:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=10) as res:
                return res.status, dict(res.headers), res.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        status, _, data = self.call(method, path, body, token=self.token)
        return status, json.loads(data)

    def fault(self, **fault: Any) -> None:
        assert self.call("POST", "/_fake/faults", fault)[0] == 200

    def stats(self) -> dict[str, Any]:
        return json.loads(self.call("GET", "/_fake/stats")[2])

    def requests(self, route: str | None = None) -> list[dict[str, Any]]:
        log = json.loads(self.call("GET", "/_fake/requests")[2])["requests"]
        return [r for r in log if route is None or r["route"] == route]


def start_fake(tmp_path: Path, token: str, *extra: str) -> Fake:
    state_dir = tmp_path / "fake-state"
    process = subprocess.Popen(
        [sys.executable, str(FAKE), "--port", "0", "--token", token,
         "--state-dir", str(state_dir), "--exit-on-stdin-eof", *extra],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    assert line.strip().isdigit(), process.stderr.read()
    return Fake(process, int(line), token, state_dir)


def stop_fake(fake: Fake) -> tuple[str, str]:
    fake.process.terminate()
    return fake.process.communicate(timeout=10)


def write_oxen_config(config_dir: Path, hosts: dict[str, str]) -> None:
    """The client reads `$OXEN_CONFIG_DIR/auth_config.toml` (liboxen `config::AuthConfig`) and,
    for commits, `user_config.toml` (`config::UserConfig`)."""
    config_dir.mkdir(parents=True, exist_ok=True)
    entries = "".join(f'[[host_configs]]\nhost = "{h}"\nauth_token = "{t}"\n\n'
                      for h, t in hosts.items())
    (config_dir / "auth_config.toml").write_text(entries)
    (config_dir / "user_config.toml").write_text('name = "Drover Test"\nemail = "drover@example.com"\n')


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fake]:
    token = TOKEN
    running = start_fake(tmp_path, token)
    config_dir = tmp_path / "oxen-config"
    write_oxen_config(config_dir, {running.host: token})
    monkeypatch.setenv("OXEN_CONFIG_DIR", str(config_dir))
    yield running
    out, err = stop_fake(running)
    assert token not in out and token not in err


def remote(fake: Fake, name: str) -> RemoteRepo:
    return RemoteRepo(name, host=fake.host, scheme="http")


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def seeded_repo(fake: Fake, tmp_path: Path, name: str = "drover/dataset") -> RemoteRepo:
    """A repository with one image and annotations/train.csv, made by the client."""
    repo = remote(fake, name)
    repo.create()
    repo.add(str(write(tmp_path / "src/a.png", b"\x89PNG" + os.urandom(3000))), "images")
    repo.add(str(write(tmp_path / "src/train.csv", HEADER + "ox,images/a.png,Approve,r1,0-1\n")),
             "annotations")
    repo.commit("seed")
    return repo


def download(repo: RemoteRepo, path: str, tmp_path: Path, revision: str | None = None) -> bytes:
    dst = tmp_path / "dl" / os.urandom(4).hex() / Path(path).name
    dst.parent.mkdir(parents=True)
    repo.download(path, str(dst), revision)
    return dst.read_bytes()


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode())))


# MARK: - the client's main paths


def test_create_add_commit_log_download_roundtrip(fake: Fake, tmp_path: Path) -> None:
    repo = remote(fake, "drover/images")
    assert not repo.exists()
    repo.create()
    assert repo.exists()

    png = b"\x89PNG\r\n\x1a\n" + os.urandom(20_000)
    jsonl = b'{"id": "a"}\n{"id": "b"}\n'
    repo.add(str(write(tmp_path / "src/abc.png", png)), "images")
    repo.add(str(write(tmp_path / "src/images.jsonl", jsonl)), "annotations")
    first = repo.commit("add abc")

    page = repo.log()
    assert [c.id for c in page.commits] == [first.id, page.commits[1].id]
    assert page.commits[1].message == "Initial commit"  # the README the client seeds
    assert first.message == "add abc" and first.author == "Drover Test"
    assert page.has_more is False

    assert download(repo, "images/abc.png", tmp_path) == png
    assert download(repo, "annotations/images.jsonl", tmp_path) == jsonl
    assert download(repo, "README.md", tmp_path) == b"# images\n"

    # The hash the client verifies downloads against is xxh3-128 of the bytes, in hex.
    status, meta = fake.api("GET", "/api/repos/drover/images/meta/main/images/abc.png")
    assert status == 200
    assert meta["entry"]["hash"] == format(xxhash.xxh3_128_intdigest(png), "x")
    assert meta["entry"]["size"] == len(png)
    assert meta["entry"]["latest_commit"]["id"] == first.id

    # Commits record their parents: the history is a chain.
    status, commit = fake.api("GET", f"/api/repos/drover/images/commits/{first.id}")
    assert commit["commit"]["parent_ids"] == [page.commits[1].id]


def test_several_files_go_up_in_one_multipart_request(fake: Fake, tmp_path: Path) -> None:
    repo = seeded_repo(fake, tmp_path)
    blobs = {f"{i:02d}.png": os.urandom(1000 + i) for i in range(3)}
    ws = Workspace(repo, "main")
    before = len(fake.requests("workspaces.files.add"))
    ws.add([str(write(tmp_path / "batch" / n, b)) for n, b in blobs.items()], "images/batch")
    assert len(fake.requests("workspaces.files.add")) == before + 1
    ws.commit("three at once")
    for name, data in blobs.items():
        assert download(repo, f"images/batch/{name}", tmp_path) == data


def test_download_at_an_older_revision(fake: Fake, tmp_path: Path) -> None:
    repo = seeded_repo(fake, tmp_path)
    old = repo.log().commits[0]
    repo.add(str(write(tmp_path / "src2/train.csv", HEADER)), "annotations")
    repo.commit("empty the annotations")
    assert csv_rows(download(repo, "annotations/train.csv", tmp_path))[1:] == []
    at_old = download(repo, "annotations/train.csv", tmp_path, revision=old.id)
    assert csv_rows(at_old)[1:] == [["ox", "images/a.png", "Approve", "r1", "0-1"]]


def test_history_pagination(fake: Fake, tmp_path: Path) -> None:
    repo = remote(fake, "drover/paged")
    repo.create()
    ids = []
    for i in range(5):
        repo.add(str(write(tmp_path / f"src/{i}.txt", f"v{i}")), "notes")
        ids.append(repo.commit(f"commit {i}").id)
    first = repo.log(page_num=1, page_size=2)
    second = repo.log(page_num=2, page_size=2)
    third = repo.log(page_num=3, page_size=2)
    newest_first = list(reversed(ids))
    assert [c.id for c in first.commits] == newest_first[:2]
    assert [c.id for c in second.commits] == newest_first[2:4]
    assert [c.id for c in third.commits] == newest_first[4:] + [third.commits[-1].id]
    assert first.has_more and not third.has_more
    status, body = fake.api("GET", "/api/repos/drover/paged/commits/history/main?page=2&page_size=2")
    assert status == 200
    assert (body["page_number"], body["page_size"], body["total_pages"], body["total_entries"]) \
        == (2, 2, 3, 6)
    # History for one path lists only the commits that changed it.
    only_2 = repo.log(path="notes/2.txt")
    assert [c.id for c in only_2.commits] == [ids[2]]


def test_empty_repo_gets_an_initial_commit_from_its_first_workspace(fake: Fake,
                                                                   tmp_path: Path) -> None:
    repo = remote(fake, "drover/empty")
    repo.create(empty=True)
    assert fake.api("GET", "/api/repos/drover/empty/branches/main")[0] == 404
    repo.add(str(write(tmp_path / "src/x.txt", "x")), "")
    commit = repo.commit("first")
    messages = [c.message for c in repo.log().commits]
    assert messages == ["first", "Initialized Repo \N{OX}"]
    assert commit.id == repo.log().commits[0].id


# MARK: - data frames


def test_data_frame_rows_insert_update_delete_commit(fake: Fake, tmp_path: Path) -> None:
    repo = seeded_repo(fake, tmp_path)
    ws = Workspace(repo, "main")
    df = DataFrame(ws, "annotations/train.csv")
    listed = df.list_page(1)
    assert [r["prompt"] for r in listed] == ["ox"]
    seed_id = listed[0]["_oxen_id"]

    new_id = df.insert_row({"prompt": "cow", "path": "images/b.png", "rating": "Disapprove",
                            "rater": "r2", "model_version": "0-1"})
    other_id = df.insert_row({"prompt": "yak, \"big\"", "path": "images/c.png",
                              "rating": "Approve", "rater": "r3", "model_version": "0-1"})
    assert len({seed_id, new_id, other_id}) == 3
    assert df.get_row_by_id(new_id)["rater"] == "r2"
    updated = df.update_row(new_id, {"rating": "Approve"})
    assert updated[0]["rating"] == "Approve"
    df.delete_row(seed_id)
    assert [r["_oxen_id"] for r in df.list_page(1)] == [new_id, other_id]

    commit = ws.commit("votes")
    assert repo.log().commits[0].id == commit.id
    rows = csv_rows(download(repo, "annotations/train.csv", tmp_path))
    assert rows == [HEADER.strip().split(","),
                    ["cow", "images/b.png", "Approve", "r2", "0-1"],
                    ["yak, \"big\"", "images/c.png", "Approve", "r3", "0-1"]]


def test_insert_into_unknown_column_is_a_400(fake: Fake, tmp_path: Path) -> None:
    repo = seeded_repo(fake, tmp_path)
    df = DataFrame(Workspace(repo, "main"), "annotations/train.csv")
    with pytest.raises(ValueError, match=r"400 Bad Request.*Columns not in the data frame"):
        df.insert_row({"nope": 1})
    assert fake.requests("rows.add")[-1]["status"] == 400


def test_workspace_behind_on_the_same_file_is_a_409(fake: Fake, tmp_path: Path) -> None:
    repo = seeded_repo(fake, tmp_path)
    first, second = Workspace(repo, "main"), Workspace(repo, "main")
    row = {"prompt": "p", "path": "images/a.png", "rating": "Approve", "rater": "r",
           "model_version": "0-1"}
    DataFrame(first, "annotations/train.csv").insert_row(row)
    DataFrame(second, "annotations/train.csv").insert_row(dict(row, rater="s"))
    first.commit("first wins")
    with pytest.raises(ValueError, match=r"409 Conflict.*Workspace is behind"):
        second.commit("second is behind")
    conflict = fake.requests("workspaces.commit")[-1]
    assert conflict["status"] == 409


def test_workspace_behind_on_other_files_still_commits(fake: Fake, tmp_path: Path) -> None:
    """Oxen's conflict check looks only at staged files changed on the branch since the
    workspace's base (`list_conflicts`); a workspace merely behind commits on top of the head."""
    repo = seeded_repo(fake, tmp_path)
    behind = Workspace(repo, "main")
    behind.add(str(write(tmp_path / "src/new.png", b"new")), "images")
    repo.add(str(write(tmp_path / "src/other.png", b"other")), "images")
    head = repo.commit("meanwhile")
    commit = behind.commit("late but clean")
    _, body = fake.api("GET", f"/api/repos/drover/dataset/commits/{commit.id}")
    assert body["commit"]["parent_ids"] == [head.id]
    assert download(repo, "images/new.png", tmp_path) == b"new"
    assert download(repo, "images/other.png", tmp_path) == b"other"


# MARK: - auth


def test_wrong_or_missing_token_is_a_401(fake: Fake, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    status, headers, _ = fake.call("GET", "/api/repos/drover/x")
    assert status == 401 and headers.get("WWW-Authenticate") == "Bearer"
    assert fake.call("GET", "/api/repos/drover/x", token="wrong")[0] == 401
    assert fake.call("GET", "/api/repos/drover/x", token=fake.token)[0] == 404
    # The client, configured with a wrong token for this host (another name for it, because
    # the client caches one HTTP client per host), fails on its first call.
    other_host = f"localhost:{fake.port}"
    config_dir = tmp_path / "wrong-config"
    write_oxen_config(config_dir, {other_host: "wrong-token"})
    monkeypatch.setenv("OXEN_CONFIG_DIR", str(config_dir))
    # The real server's 401 body is plain text ("unauthorized"), so the client reports that
    # it could not parse the answer.
    with pytest.raises(ValueError, match="Could not deserialize response"):
        RemoteRepo("drover/x", host=other_host, scheme="http")
    assert fake.requests("repos.get")[-1]["status"] == 401


# MARK: - faults and statistics


def test_a_500_is_retried_by_the_client(fake: Fake, tmp_path: Path) -> None:
    repo = seeded_repo(fake, tmp_path)
    df = DataFrame(Workspace(repo, "main"), "annotations/train.csv")
    fake.fault(route="rows.add", status=500, times=1)
    df.insert_row({"prompt": "retry"})
    attempts = fake.requests("rows.add")
    assert [r["status"] for r in attempts] == [500, 200]
    assert [r["prompt"] for r in df.list_page(1)] == ["ox", "retry"]


def test_apply_then_fail_duplicates_a_retried_insert(fake: Fake, tmp_path: Path) -> None:
    """The real hazard: the row was inserted, the answer was lost, the client retried."""
    repo = seeded_repo(fake, tmp_path)
    df = DataFrame(Workspace(repo, "main"), "annotations/train.csv")
    fake.fault(route="rows.add", status=502, times=1, apply=True)
    df.insert_row({"prompt": "twice"})
    attempts = fake.requests("rows.add")
    assert [(r["status"], r["applied"]) for r in attempts] == [(502, True), (200, False)]
    assert [r["prompt"] for r in df.list_page(1)] == ["ox", "twice", "twice"]


def test_a_commit_whose_answer_is_lost_is_retried_into_a_404(fake: Fake, tmp_path: Path) -> None:
    """The commit landed, the answer was lost, the client's retry finds the (temporary)
    workspace gone: a mirror must reconcile against the branch head, not trust the error."""
    repo = seeded_repo(fake, tmp_path)
    ws = Workspace(repo, "main")
    ws.add(str(write(tmp_path / "src/late.png", b"late")), "images")
    fake.fault(route="workspaces.commit", status=500, apply=True)
    with pytest.raises(ValueError, match="404 Not Found.*Workspace not found"):
        ws.commit("landed anyway")
    assert repo.log().commits[0].message == "landed anyway"
    assert download(repo, "images/late.png", tmp_path) == b"late"


def test_branches_from_the_client(fake: Fake, tmp_path: Path) -> None:
    repo = seeded_repo(fake, tmp_path)
    head = repo.log().commits[0].id
    repo.checkout("votes", create=True)
    assert {b.name for b in repo.branches()} == {"main", "votes"}
    assert repo.get_branch("votes").commit_id == head
    repo.add(str(write(tmp_path / "src/v.png", b"v")), "images")
    on_branch = repo.commit("on votes", branch="votes")
    assert repo.get_branch("votes").commit_id == on_branch.id
    assert repo.get_branch("main").commit_id == head


def test_a_429_is_not_retried_and_carries_retry_after(fake: Fake, tmp_path: Path) -> None:
    repo = seeded_repo(fake, tmp_path)
    before = len(fake.requests("workspaces.commit"))
    fake.fault(route="workspaces.commit", status=429, times=1, retry_after=2)
    ws = Workspace(repo, "main")
    ws.add(str(write(tmp_path / "src/z.png", b"z")), "images")
    with pytest.raises(ValueError, match="429 Too Many Requests"):
        ws.commit("throttled")
    assert [r["status"] for r in fake.requests("workspaces.commit")[before:]] == [429]
    assert ws.commit("again").message == "again"

    fake.fault(route="branches.get", status=429, retry_after=1.5)
    status, headers, _ = fake.call("GET", "/api/repos/drover/dataset/branches/main", token=fake.token)
    assert status == 429 and headers["Retry-After"] == "1.5"


def test_create_needs_exactly_application_json(fake: Fake) -> None:
    body = json.dumps({"namespace": "drover", "name": "typed"}).encode()
    for content_type in ("application/json; charset=utf-8", "text/plain"):
        req = urllib.request.Request(f"http://{fake.host}/api/repos", data=body, method="POST")
        req.add_header("Content-Type", content_type)
        req.add_header("Authorization", f"Bearer {fake.token}")
        with pytest.raises(urllib.error.HTTPError) as raised:
            urllib.request.urlopen(req, timeout=10)
        assert raised.value.code == 400
    status, created = fake.api("POST", "/api/repos", {"namespace": "drover", "name": "typed"})
    assert status == 200 and created["repository"]["latest_commit"] is None


def test_a_409_can_be_injected_and_a_delay_slows_a_route(fake: Fake) -> None:
    fake.fault(route="repos.create", status=409, method="POST")
    status, body = fake.api("POST", "/api/repos", {"namespace": "drover", "name": "slow"})
    assert status == 409 and body["status"] == "error"
    fake.fault(route="repos.get", delay_ms=300)
    start = time.monotonic()
    assert fake.api("GET", "/api/repos/drover/missing")[0] == 404
    assert time.monotonic() - start >= 0.3


def test_stats_count_requests_and_bytes_by_route(fake: Fake, tmp_path: Path) -> None:
    repo = seeded_repo(fake, tmp_path)
    stats = fake.stats()
    assert stats["requests"]["workspaces.files.add"] == 2
    assert stats["requests"]["workspaces.commit"] == 1
    assert stats["bytes_in"]["workspaces.files.add"] > 3000  # the gzipped image went up
    assert stats["total_requests"] == sum(stats["requests"].values())
    assert fake.call("POST", "/_fake/reset")[0] == 200
    assert fake.stats()["total_requests"] == 0
    download(repo, "images/a.png", tmp_path)
    assert fake.stats()["bytes_out"]["file"] >= 3004


def test_state_survives_a_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = TOKEN
    first = start_fake(tmp_path, token)
    try:
        write_oxen_config(tmp_path / "cfg1", {first.host: token})
        monkeypatch.setenv("OXEN_CONFIG_DIR", str(tmp_path / "cfg1"))
        repo = seeded_repo(first, tmp_path)
        head = repo.log().commits[0].id
    finally:
        stop_fake(first)
    second = start_fake(tmp_path, token)
    try:
        write_oxen_config(tmp_path / "cfg2", {second.host: token})
        monkeypatch.setenv("OXEN_CONFIG_DIR", str(tmp_path / "cfg2"))
        again = remote(second, "drover/dataset")
        assert again.log().commits[0].id == head
        rows = csv_rows(download(again, "annotations/train.csv", tmp_path))
        assert rows[1] == ["ox", "images/a.png", "Approve", "r1", "0-1"]
    finally:
        stop_fake(second)


def test_exit_on_stdin_eof(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, str(FAKE), "--port", "0", "--token", TOKEN, "--exit-on-stdin-eof"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip().isdigit()
    process.stdin.close()
    assert process.wait(timeout=10) == 0
    process.stdout.close()


def test_auto_create_makes_an_empty_repo_on_first_use(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    running = start_fake(tmp_path, TOKEN, "--auto-create")
    try:
        status, body = running.api("GET", "/api/repos/drover/auto")
        assert status == 200 and body["repository"]["is_empty"] is True
    finally:
        stop_fake(running)
