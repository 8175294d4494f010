#!/usr/bin/env python3
"""A faithful fake of the Oxen server's HTTP API, for Drover's Oxen-mirror tests.

It implements the routes, request bodies and response JSON that the real Oxen client
(liboxen's `api::client`, as shipped in the `oxenai` Python package) uses to create a
repository, stage files and data-frame rows in a workspace, commit them, read history and
download files — with real state (branches, commits with parents, a tree of path → bytes per
commit, workspaces, indexed data frames with minted `_oxen_id`s) so that what a client sends is
what it reads back. See README.md in this directory for the route table and the facts taken
from Oxen's source.

Run it as a subprocess:

    python fake_oxen.py --port 0 --token TOKEN [--state-dir DIR] [--auto-create]

The first line on stdout is the port it listens on. The token is never printed.

Test-only routes live under `/_fake/` (no auth): fault injection, request statistics, the
request log and a reset.
"""

from __future__ import annotations

import argparse
import csv
import email.parser
import email.policy
import gzip
import hmac
import io
import json
import mimetypes
import os
import re
import sys
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

try:
    import xxhash  # xxh3-128, the hash Oxen names files and checks downloads by
except ImportError:  # pragma: no cover - a setup error, said plainly
    sys.exit("fake_oxen.py needs the `xxhash` package: run it with .venv/bin/python")

#: The version the fake reports in `oxen_version`; the real server reports its crate version.
OXEN_VERSION = "0.65.1"
#: `liboxen::constants::INITIAL_COMMIT_MSG`, used when a workspace is made on an empty repo.
INITIAL_COMMIT_MSG = "Initialized Repo \N{OX}"
#: The largest request body the fake accepts (a clear 413 beyond it).
MAX_BODY_BYTES = 256 * 1024 * 1024
#: Columns Oxen adds to an indexed data frame (`liboxen::constants`).
OXEN_ID_COL = "_oxen_id"
OXEN_ROW_ID_COL = "_oxen_row_id"
DIFF_STATUS_COL = "_oxen_diff_status"
TABULAR_EXTENSIONS = {"csv": ",", "tsv": "\t"}
#: How many commits' trees are kept materialized (commit ids are unique across repositories).
TREE_CACHE_SIZE = 64


# MARK: - hashing and time


def hash_bytes(data: bytes) -> str:
    """`liboxen::util::hasher::hash_buffer`: xxh3-128, lowercase hex, no leading zeros."""
    return format(xxhash.xxh3_128_intdigest(data), "x")


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# MARK: - replies


class HTTPError(Exception):
    """An error that chooses its own response: status code and JSON body."""

    def __init__(self, status: int, body: dict[str, Any]):
        super().__init__(body.get("status_message", ""))
        self.status = status
        self.body = body


def status_message(message: str, status: str = "success") -> dict[str, Any]:
    """`liboxen::view::StatusMessage` — every JSON reply carries these three fields."""
    return {"status": status, "status_message": message, "oxen_version": OXEN_VERSION}


def error(status: int, message: str, description: str | None = None) -> HTTPError:
    body = status_message(message, "error")
    if description is not None:
        body["status_description"] = description
    return HTTPError(status, body)


def not_found(description: str) -> HTTPError:
    """`StatusMessageDescription::not_found`."""
    return error(404, "resource_not_found", description)


def bad_request(description: str) -> HTTPError:
    return error(400, "bad_request", description)


# MARK: - state


@dataclass
class DataFrame:
    """A data frame indexed in a workspace: the columns of the file and its rows, each with the
    `_oxen_id` minted when it was indexed or inserted and its diff status."""

    columns: list[str]
    delimiter: str
    rows: list[dict[str, Any]] = field(default_factory=list)  # {_oxen_id, status, values}
    removed: list[dict[str, Any]] = field(default_factory=list)

    def has_changes(self) -> bool:
        return bool(self.removed) or any(r["status"] != "unchanged" for r in self.rows)

    def find(self, row_id: str) -> dict[str, Any] | None:
        return next((r for r in self.rows if r["_oxen_id"] == row_id), None)

    def export(self) -> bytes:
        """The file the workspace commit writes: header, then the rows that are not removed."""
        out = io.StringIO()
        writer = csv.writer(out, delimiter=self.delimiter, lineterminator="\n")
        writer.writerow(self.columns)
        for row in self.rows:
            writer.writerow([cell_text(row["values"].get(c)) for c in self.columns])
        return out.getvalue().encode("utf-8")

    def to_json(self) -> dict[str, Any]:
        return {"columns": self.columns, "delimiter": self.delimiter,
                "rows": self.rows, "removed": self.removed}

    @staticmethod
    def from_json(data: dict[str, Any]) -> DataFrame:
        return DataFrame(data["columns"], data["delimiter"], data["rows"], data["removed"])


def cell_text(value: Any) -> str:
    """How a cell is written back to CSV (polars writes booleans lowercase, nulls empty)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class Workspace:
    id: str
    name: str | None
    branch_name: str
    commit_id: str
    created_at: str
    files: dict[str, str | None] = field(default_factory=dict)  # path -> blob hash, None = removed
    data_frames: dict[str, DataFrame] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "branch_name": self.branch_name,
                "commit_id": self.commit_id, "created_at": self.created_at, "files": self.files,
                "data_frames": {p: df.to_json() for p, df in self.data_frames.items()}}

    @staticmethod
    def from_json(data: dict[str, Any]) -> Workspace:
        return Workspace(data["id"], data["name"], data["branch_name"], data["commit_id"],
                         data["created_at"], data["files"],
                         {p: DataFrame.from_json(d) for p, d in data["data_frames"].items()})


@dataclass
class Repo:
    namespace: str
    name: str
    repo_uuid: str
    branches: dict[str, str] = field(default_factory=dict)  # name -> commit id
    # id -> the commit, its `changes` from its first parent (path -> hash, None = removed; a
    # root's changes are its whole tree) and `seq`, its creation order
    commits: dict[str, dict[str, Any]] = field(default_factory=dict)
    workspaces: dict[str, Workspace] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "name": self.name, "repo_uuid": self.repo_uuid,
                "branches": self.branches, "commits": self.commits,
                "workspaces": {k: w.to_json() for k, w in self.workspaces.items()}}

    @staticmethod
    def from_json(data: dict[str, Any]) -> Repo:
        return Repo(data["namespace"], data["name"], data["repo_uuid"], data["branches"],
                    data["commits"],
                    {k: Workspace.from_json(w) for k, w in data["workspaces"].items()})


def commit_view(commit: dict[str, Any]) -> dict[str, Any]:
    """`liboxen::model::Commit` on the wire."""
    return {k: commit[k] for k in ("id", "parent_ids", "message", "author", "email", "timestamp")}


class Store:
    """All repositories and the content-addressed blobs, optionally persisted to a directory."""

    def __init__(self, state_dir: str | None):
        self.lock = threading.RLock()
        self.repos: dict[tuple[str, str], Repo] = {}
        self.blobs: dict[str, bytes] = {}
        self.trees: OrderedDict[str, dict[str, str]] = OrderedDict()  # commit id -> tree (LRU)
        self.seq = 0
        self.state_dir = state_dir
        if state_dir:
            os.makedirs(os.path.join(state_dir, "blobs"), exist_ok=True)
            self._load()

    # persistence

    def _load(self) -> None:
        path = os.path.join(self.state_dir, "state.json")
        if not os.path.exists(path):
            return
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        self.seq = data["seq"]
        for repo in data["repos"]:
            r = Repo.from_json(repo)
            self.repos[(r.namespace, r.name)] = r
        blob_dir = os.path.join(self.state_dir, "blobs")
        for name in os.listdir(blob_dir):
            with open(os.path.join(blob_dir, name), "rb") as f:
                self.blobs[name] = f.read()

    def save(self) -> None:
        if not self.state_dir:
            return
        data = {"seq": self.seq, "repos": [r.to_json() for r in self.repos.values()]}
        path = os.path.join(self.state_dir, "state.json")
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.replace(path + ".tmp", path)

    def put_blob(self, data: bytes) -> str:
        digest = hash_bytes(data)
        if digest not in self.blobs:
            self.blobs[digest] = data
            if self.state_dir:
                path = os.path.join(self.state_dir, "blobs", digest)
                with open(path + ".tmp", "wb") as f:
                    f.write(data)
                os.replace(path + ".tmp", path)
        return digest

    # commits

    def new_commit(self, repo: Repo, parent_ids: list[str], message: str, author: str,
                   email_addr: str, tree: dict[str, str]) -> dict[str, Any]:
        """A commit whose tree is `tree`; it stores only what changed from its first parent."""
        self.seq += 1
        timestamp = now_rfc3339()
        parent = self.tree(repo, parent_ids[0]) if parent_ids else {}
        changes: dict[str, str | None] = {p: h for p, h in tree.items() if parent.get(p) != h}
        changes.update({p: None for p in parent if p not in tree})
        material = json.dumps([parent_ids, message, author, email_addr, timestamp,
                               sorted(changes.items(), key=lambda kv: kv[0]), self.seq]).encode()
        commit = {"id": hash_bytes(material), "parent_ids": parent_ids, "message": message,
                  "author": author, "email": email_addr, "timestamp": timestamp,
                  "changes": changes, "seq": self.seq}
        repo.commits[commit["id"]] = commit
        self._remember(commit["id"], dict(tree))
        return commit

    def tree(self, repo: Repo, commit_id: str) -> dict[str, str]:
        """The commit's tree (path -> blob hash), rebuilt from the nearest remembered first-parent
        ancestor; recent trees are kept, so heads cost nothing. Treat it as read-only."""
        chain: list[str] = []
        cid: str | None = commit_id
        while cid not in self.trees:
            chain.append(cid)
            parents = repo.commits[cid]["parent_ids"]
            cid = parents[0] if parents else None
            if cid is None:
                break
        tree = dict(self.trees[cid]) if cid is not None else {}
        for step in reversed(chain):
            for path, digest in repo.commits[step]["changes"].items():
                if digest is None:
                    tree.pop(path, None)
                else:
                    tree[path] = digest
        if chain:
            self._remember(commit_id, tree)
        else:
            self.trees.move_to_end(commit_id)
        return tree

    def _remember(self, commit_id: str, tree: dict[str, str]) -> None:
        self.trees[commit_id] = tree
        self.trees.move_to_end(commit_id)
        while len(self.trees) > TREE_CACHE_SIZE:
            self.trees.popitem(last=False)


# MARK: - path and revision helpers


def normalize_path(directory: str, name: str) -> str:
    """`util::fs::workspace_staged_path`: join, drop `.`, reject `..`, absolute and empty parts."""
    joined = f"{directory}/{name}" if directory else name
    if joined.startswith("/") or name.startswith("/"):
        raise bad_request(f"path must be relative, not absolute: {joined}")
    parts = []
    for part in joined.split("/"):
        if part in ("", "."):  # Rust's Path::components drops these too
            continue
        if part == "..":
            raise bad_request("path cannot contain parent directory references (..)")
        parts.append(part)
    if not parts:
        raise bad_request("empty path")
    return "/".join(parts)


def resolve_revision(repo: Repo, rev: str) -> tuple[dict[str, Any], str | None] | None:
    """A branch name or commit id → (commit, branch name or None)."""
    if rev in repo.branches:
        return repo.commits[repo.branches[rev]], rev
    if rev in repo.commits:
        return repo.commits[rev], None
    return None


def split_resource(repo: Repo, resource: str) -> tuple[dict[str, Any], str | None, str, str]:
    """`{revision}/{path}` where the revision may itself contain slashes (a branch like
    `feature/x`): the longest prefix that names a branch or commit wins, as Oxen's
    `parse_resource` does. Returns (commit, branch name, revision text, path)."""
    parts = resource.split("/")
    for i in range(len(parts), 0, -1):
        rev = "/".join(parts[:i])
        found = resolve_revision(repo, rev)
        if found:
            return found[0], found[1], rev, "/".join(parts[i:])
    raise not_found(f"Revision not found: {resource}")


def data_type_and_mime(path: str) -> tuple[str, str, str]:
    ext = PurePosixPath(path).suffix.lstrip(".").lower()
    mime = mimetypes.guess_type(path)[0] or "application/octet-stream"
    if ext in ("csv", "tsv", "parquet", "arrow", "jsonl", "ndjson", "json"):
        data_type = "tabular"
    elif mime.startswith("image/"):
        data_type = "image"
    elif mime.startswith("video/"):
        data_type = "video"
    elif mime.startswith("audio/"):
        data_type = "audio"
    elif mime.startswith("text/") or ext in ("md", "txt"):
        data_type = "text"
    else:
        data_type = "binary"
    if ext == "csv":
        mime = "text/csv"
    return data_type, mime, ext


def pagination(total: int, page: int, page_size: int) -> dict[str, int]:
    """`liboxen::util::paginate`: total_pages = ceil(total / page_size)."""
    return {"page_size": page_size, "page_number": page,
            "total_pages": -(-total // page_size), "total_entries": total}


def page_slice(items: list[Any], page: int, page_size: int) -> list[Any]:
    start = max(page - 1, 0) * page_size
    return items[start:start + page_size]


def int_param(query: dict[str, list[str]], name: str, default: int) -> int:
    try:
        return max(int(query.get(name, [default])[0]), 1)
    except ValueError:
        raise bad_request(f"{name} must be an integer")


# MARK: - faults and statistics


@dataclass
class Fault:
    """One injected fault: the next `times` requests to `route` (and `method`, if given) wait
    `delay_ms`, then answer `status` — or, with `apply`, are handled first and answer `status`
    afterwards (the real answer is lost, as when a proxy drops it)."""

    route: str
    status: int | None
    times: int
    method: str | None = None
    retry_after: float | None = None
    delay_ms: int = 0
    apply: bool = False

    def matches(self, route: str, method: str) -> bool:
        return (self.route in ("*", route)) and (self.method is None or self.method == method)


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.requests: dict[str, int] = {}
        self.bytes_in: dict[str, int] = {}
        self.bytes_out: dict[str, int] = {}
        self.statuses: dict[str, int] = {}
        self.log: list[dict[str, Any]] = []

    def record(self, route: str, method: str, path: str, status: int, n_in: int,
               n_out: int, faulted: bool, applied: bool, body: str | None) -> None:
        with self.lock:
            self.requests[route] = self.requests.get(route, 0) + 1
            self.bytes_in[route] = self.bytes_in.get(route, 0) + n_in
            self.bytes_out[route] = self.bytes_out.get(route, 0) + n_out
            self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1
            self.log.append({"route": route, "method": method, "path": path, "status": status,
                             "bytes_in": n_in, "bytes_out": n_out, "faulted": faulted,
                             "applied": applied, "body": body})
            del self.log[:-10000]

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {"total_requests": sum(self.requests.values()),
                    "total_bytes_in": sum(self.bytes_in.values()),
                    "total_bytes_out": sum(self.bytes_out.values()),
                    "requests": dict(self.requests), "bytes_in": dict(self.bytes_in),
                    "bytes_out": dict(self.bytes_out), "statuses": dict(self.statuses)}


# MARK: - the API


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Any
    body: bytes
    params: dict[str, str]

    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8") or "null")
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise bad_request(f"Invalid JSON: {err}")


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(data: dict[str, Any], status: int = 200) -> Reply:
    return Reply(status, json.dumps(data).encode("utf-8"))


R = r"/api/repos/(?P<ns>[^/]+)/(?P<repo>[^/]+)"
W = R + r"/workspaces/(?P<ws>[^/]+)"


class OxenAPI:
    """The route table and handlers. Each handler runs under the store lock."""

    def __init__(self, store: Store, auto_create: bool):
        self.store = store
        self.auto_create = auto_create
        self.routes: list[tuple[str, re.Pattern[str], str, Callable[[Request], Reply]]] = []
        add = self._add
        add("POST", r"/api/repos", "repos.create", self.create_repo)
        add("GET", R, "repos.get", self.get_repo)
        add("DELETE", R, "repos.delete", self.delete_repo)
        add("GET", R + r"/branches", "branches.list", self.list_branches)
        add("POST", R + r"/branches", "branches.create", self.create_branch)
        add("GET", R + r"/branches/(?P<branch>.+)", "branches.get", self.get_branch)
        add("GET", R + r"/revisions/(?P<rev>.+)", "revisions.get", self.get_revision)
        add("GET", R + r"/commits/root", "commits.root", self.root_commit)
        add("GET", R + r"/commits/history/(?P<rev>.+)", "commits.history", self.history)
        add("POST", R + r"/commits/(?P<id>[^/]+)/complete", "commits.complete", self.complete)
        add("GET", R + r"/commits/(?P<id>[^/]+)", "commits.get", self.get_commit)
        add("POST", R + r"/action/(?P<state>started|completed)/(?P<action>[^/]+)", "action",
            self.action)
        add("GET", R + r"/action/(?P<state>started|completed)/(?P<action>[^/]+)", "action",
            self.action)
        add("GET", R + r"/meta/(?P<res>.+)", "meta", self.meta)
        add("GET", R + r"/file/(?P<res>.+)", "file", self.file)
        add("HEAD", R + r"/file/(?P<res>.+)", "file", self.file)
        add("PUT", R + r"/workspaces", "workspaces.create", self.create_workspace)
        add("POST", R + r"/workspaces", "workspaces.create", self.create_workspace)
        add("GET", R + r"/workspaces", "workspaces.list", self.list_workspaces)
        add("GET", W, "workspaces.get", self.get_workspace)
        add("DELETE", W, "workspaces.delete", self.delete_workspace)
        add("POST", W + r"/validate", "workspaces.validate", self.validate)
        add("POST", W + r"/files(?:/(?P<dir>.*))?", "workspaces.files.add", self.add_files)
        add("DELETE", W + r"/files", "workspaces.files.rm", self.rm_files)
        add("POST", W + r"/(?:commit|merge)/(?P<branch>.+)", "workspaces.commit", self.commit)
        add("GET", W + r"/merge/(?P<branch>.+)", "workspaces.mergeability", self.mergeability)
        add("GET", W + r"/data_frames/resource/(?P<path>.+)", "data_frames.get", self.df_get)
        add("PUT", W + r"/data_frames/resource/(?P<path>.+)", "data_frames.index", self.df_put)
        add("DELETE", W + r"/data_frames/resource/(?P<path>.+)", "data_frames.restore",
            self.df_restore)
        add("POST", W + r"/data_frames/rows/resource/(?P<path>.+)", "rows.add", self.row_add)
        add("GET", W + r"/data_frames/rows/(?P<row>[^/]+)/resource/(?P<path>.+)", "rows.get",
            self.row_get)
        add("PUT", W + r"/data_frames/rows/(?P<row>[^/]+)/resource/(?P<path>.+)", "rows.update",
            self.row_update)
        add("DELETE", W + r"/data_frames/rows/(?P<row>[^/]+)/resource/(?P<path>.+)",
            "rows.delete", self.row_delete)

    def _add(self, method: str, pattern: str, name: str, handler: Callable[[Request], Reply]):
        self.routes.append((method, re.compile(pattern + r"/?$"), name, handler))

    def match(self, method: str, path: str) -> tuple[str, dict[str, str], Callable] | None:
        for m, pattern, name, handler in self.routes:
            if m != method:
                continue
            found = pattern.match(path)
            if found:
                params = {k: unquote(v) for k, v in found.groupdict().items() if v is not None}
                return name, params, handler
        return None

    # helpers

    def repo(self, req: Request) -> Repo:
        key = (req.params["ns"], req.params["repo"])
        repo = self.store.repos.get(key)
        if repo is None and self.auto_create:
            repo = self._new_repo(*key)
        if repo is None:
            raise not_found(f"Repository not found: {key[0]}/{key[1]}")
        return repo

    def _new_repo(self, namespace: str, name: str) -> Repo:
        if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+", namespace) or not re.fullmatch(
                r"[a-zA-Z0-9][a-zA-Z0-9_.-]+", name):
            raise error(400, f"Invalid repository or namespace name '{namespace}/{name}'. "
                             "Must match [a-zA-Z0-9][a-zA-Z0-9_.-]+")
        repo = Repo(namespace, name, str(uuid.uuid4()))
        self.store.repos[(namespace, name)] = repo
        return repo

    def workspace(self, repo: Repo, req: Request) -> Workspace:
        ident = req.params["ws"]
        ws = repo.workspaces.get(ident) or next(
            (w for w in repo.workspaces.values() if w.name == ident), None)
        if ws is None:
            raise not_found(f"Workspace not found: {ident}")
        return ws

    def repository_view(self, repo: Repo) -> dict[str, Any]:
        return {"namespace": repo.namespace, "name": repo.name, "min_version": "0.36.0",
                "is_empty": not repo.branches, "storage_kind": "local",
                "merkle_node_backend": "lmdb", "repo_uuid": repo.repo_uuid}

    def resource_view(self, commit: dict[str, Any], branch: str | None, version: str,
                      path: str) -> dict[str, Any]:
        """`ParsedResourceView`."""
        return {"workspace": None, "commit": commit_view(commit),
                "branch": {"name": branch, "commit_id": commit["id"]} if branch else None,
                "path": path, "version": version,
                "resource": f"{version}/{path}" if path else version}

    def workspace_view(self, repo: Repo, ws: Workspace) -> dict[str, Any]:
        return {"id": ws.id, "name": ws.name, "commit": commit_view(repo.commits[ws.commit_id]),
                "created_at": ws.created_at}

    # repositories

    def create_repo(self, req: Request) -> Reply:
        # `controllers/repositories.rs` `create` compares the header to exactly
        # "application/json"; anything else is read as multipart (not in the fake).
        if req.headers.get("Content-Type") != "application/json":
            raise bad_request("Unsupported Content-Type: send exactly application/json")
        data = req.json()
        if not isinstance(data, dict) or "namespace" not in data or "name" not in data:
            raise bad_request("Invalid JSON")
        key = (data["namespace"], data["name"])
        if key in self.store.repos:
            raise error(409, "Repo already exists.")
        repo = self._new_repo(*key)
        files = data.get("files") or []
        latest = None
        if files:
            tree = {}
            user = files[0].get("user") or {}
            for f in files:
                contents = f["contents"]
                blob = contents.encode() if isinstance(contents, str) else bytes(contents)
                tree[normalize_path("", f["path"])] = self.store.put_blob(blob)
            latest = self.store.new_commit(repo, [], "Initial commit", user.get("name", ""),
                                           user.get("email", ""), tree)
            repo.branches["main"] = latest["id"]
        view = self.repository_view(repo)
        view.pop("is_empty")
        view["latest_commit"] = commit_view(latest) if latest else None
        # The real server answers a creation with status_message "resource_found".
        return json_reply({**status_message("resource_found"), "repository": view})

    def get_repo(self, req: Request) -> Reply:
        repo = self.repo(req)
        view = self.repository_view(repo)
        size, counts, default = 0, {}, None
        if "main" in repo.branches:
            commit = repo.commits[repo.branches["main"]]
            tree = self.store.tree(repo, commit["id"])
            for h in tree.values():
                size += len(self.store.blobs[h])
            for p in tree:
                t = data_type_and_mime(p)[0]
                counts[t] = counts.get(t, 0) + 1
            default = self.resource_view(commit, "main", "main", "")
        view.update({"size": size, "branch_count": len(repo.branches), "default_resource": default,
                     "data_types": [{"data_type": t, "count": n} for t, n in counts.items()]})
        return json_reply({**status_message("resource_found"), "repository": view})

    def delete_repo(self, req: Request) -> Reply:
        repo = self.repo(req)
        del self.store.repos[(repo.namespace, repo.name)]
        return json_reply(status_message("resource_deleted"))

    # branches, revisions, commits

    def list_branches(self, req: Request) -> Reply:
        repo = self.repo(req)
        branches = [{"name": n, "commit_id": c} for n, c in sorted(repo.branches.items())]
        return json_reply({**status_message("resource_found"), "branches": branches})

    def create_branch(self, req: Request) -> Reply:
        repo = self.repo(req)
        data = req.json() or {}
        name = data.get("new_name") or data.get("name")
        if not name:
            raise bad_request("new_name is required")
        if name in repo.branches:
            raise error(409, "resource_already_exists", f"Branch already exists: {name}")
        source = data.get("commit_id") or repo.branches.get(data.get("from_name", ""))
        if not source or source not in repo.commits:
            raise not_found(f"Revision not found: {data.get('from_name') or source}")
        repo.branches[name] = source
        return json_reply({**status_message("resource_created"),
                           "branch": {"name": name, "commit_id": source}})

    def get_branch(self, req: Request) -> Reply:
        repo = self.repo(req)
        name = req.params["branch"]
        if name not in repo.branches:
            raise not_found(f"Branch not found: {name}")
        return json_reply({**status_message("resource_found"),
                           "branch": {"name": name, "commit_id": repo.branches[name]}})

    def get_revision(self, req: Request) -> Reply:
        repo = self.repo(req)
        commit, branch, rev, path = split_resource(repo, req.params["rev"])
        return json_reply({**status_message("resource_found"),
                           "resource": self.resource_view(commit, branch, rev, path)})

    def root_commit(self, req: Request) -> Reply:
        repo = self.repo(req)
        roots = sorted((c for c in repo.commits.values() if not c["parent_ids"]),
                       key=lambda c: c["seq"])
        return json_reply({**status_message("resource_found"),
                           "commit": commit_view(roots[0]) if roots else None})

    def history(self, req: Request) -> Reply:
        repo = self.repo(req)
        commit, _, _, path = split_resource(repo, req.params["rev"])
        seen, stack = {}, [commit["id"]]
        while stack:
            cid = stack.pop()
            if cid in seen:
                continue
            seen[cid] = repo.commits[cid]
            stack.extend(seen[cid]["parent_ids"])
        commits = sorted(seen.values(), key=lambda c: c["seq"], reverse=True)
        if path:  # commits that changed the path (a file, or anything under a directory)
            commits = [c for c in commits if any(p == path or p.startswith(path + "/")
                                                 for p in c["changes"])]
        page = int_param(req.query, "page", 1)
        page_size = int_param(req.query, "page_size", 100)
        pag = pagination(len(commits), page, page_size)
        return json_reply({**status_message("resource_found"),
                           "commits": [commit_view(c) for c in page_slice(commits, page, page_size)],
                           **pag, "has_more": page < pag["total_pages"]})

    def get_commit(self, req: Request) -> Reply:
        repo = self.repo(req)
        commit = repo.commits.get(req.params["id"])
        if commit is None:
            raise not_found(f"Commit not found: {req.params['id']}")
        return json_reply({**status_message("resource_found"), "commit": commit_view(commit)})

    def complete(self, req: Request) -> Reply:
        repo = self.repo(req)
        commit = repo.commits.get(req.params["id"])
        if commit is None:
            raise error(404, "resource_not_found")
        return json_reply({**status_message("resource_created"), "commit": commit_view(commit)})

    def action(self, req: Request) -> Reply:
        self.repo(req)
        return json_reply({"action": req.params["action"], "status": "success",
                           "state": req.params["state"]})

    # entries

    def _last_change(self, repo: Repo, commit: dict[str, Any], path: str) -> dict[str, Any]:
        """The newest first-parent ancestor that gave `path` its current bytes."""
        current = commit
        while path not in current["changes"] and current["parent_ids"]:
            current = repo.commits[current["parent_ids"][0]]
        return current

    def meta(self, req: Request) -> Reply:
        repo = self.repo(req)
        commit, branch, rev, path = split_resource(repo, req.params["res"])
        tree = self.store.tree(repo, commit["id"])
        resource = self.resource_view(commit, branch, rev, path)
        if path in tree:
            blob = self.store.blobs[tree[path]]
            data_type, mime, ext = data_type_and_mime(path)
            entry = {"filename": PurePosixPath(path).name, "hash": tree[path], "is_dir": False,
                     "latest_commit": commit_view(self._last_change(repo, commit, path)),
                     "resource": resource, "size": len(blob), "data_type": data_type,
                     "mime_type": mime, "extension": ext, "metadata": None,
                     "is_queryable": False if data_type == "tabular" else None}
        else:
            prefix = path + "/" if path else ""
            inside = sorted((p, h) for p, h in tree.items() if p.startswith(prefix))
            if not inside and path:
                raise not_found(f"Entry not found: {path}")
            entry = {"filename": PurePosixPath(path).name if path else "", "is_dir": True,
                     "hash": hash_bytes(json.dumps(inside).encode()),
                     "latest_commit": commit_view(commit), "resource": resource,
                     "size": sum(len(self.store.blobs[h]) for _, h in inside),
                     "data_type": "dir", "mime_type": "inode/directory", "extension": "",
                     "metadata": None, "is_queryable": None}
        return json_reply({**status_message("resource_found"), "entry": entry})

    def file(self, req: Request) -> Reply:
        repo = self.repo(req)
        commit, _, _, path = split_resource(repo, req.params["res"])
        digest = self.store.tree(repo, commit["id"]).get(path)
        if digest is None:
            raise not_found(f"File not found: {path}")
        mime = data_type_and_mime(path)[1]
        last = self._last_change(repo, commit, path)  # `helpers.rs`: the file's last commit
        return Reply(200, self.store.blobs[digest], mime, {"oxen-revision-id": last["id"]})

    # workspaces

    def create_workspace(self, req: Request) -> Reply:
        repo = self.repo(req)
        data = req.json()
        if not isinstance(data, dict) or "workspace_id" not in data or "branch_name" not in data:
            raise bad_request("missing field `workspace_id` or `branch_name`")
        branch = data["branch_name"]
        if branch not in repo.branches:
            if repo.commits:
                raise bad_request(f"Branch not found: {branch}. For non-empty repositories, "
                                  "create the branch first.")
            # An empty repository gets an initial commit on the requested branch.
            initial = self.store.new_commit(repo, [], INITIAL_COMMIT_MSG, "Oxen",
                                            "oxen@oxen.ai", {})
            repo.branches[branch] = initial["id"]
        ident = data.get("name") or data["workspace_id"]
        existing = repo.workspaces.get(ident) or next(
            (w for w in repo.workspaces.values() if w.name == ident), None)
        if existing is not None:
            view = self.workspace_view(repo, existing)
            view["id"] = data["workspace_id"]  # as the real get_or_create answers
            return json_reply({**status_message("resource_found"), "workspace": view})
        ws = Workspace(data["workspace_id"], data.get("name"), branch, repo.branches[branch],
                       now_rfc3339())
        repo.workspaces[ws.id] = ws
        return json_reply({**status_message("resource_created"),
                           "workspace": self.workspace_view(repo, ws)})

    def list_workspaces(self, req: Request) -> Reply:
        repo = self.repo(req)
        wanted = req.query.get("name", [None])[0]
        views = [self.workspace_view(repo, w) for w in repo.workspaces.values()
                 if wanted is None or w.name == wanted]
        return json_reply({**status_message("resource_found"), "workspaces": views})

    def get_workspace(self, req: Request) -> Reply:
        repo = self.repo(req)
        ws = self.workspace(repo, req)
        return json_reply({**status_message("resource_found"),
                           "workspace": self.workspace_view(repo, ws)})

    def delete_workspace(self, req: Request) -> Reply:
        repo = self.repo(req)
        ws = self.workspace(repo, req)
        del repo.workspaces[ws.id]
        return json_reply({**status_message("resource_deleted"),
                           "workspace": self.workspace_view(repo, ws)})

    def validate(self, req: Request) -> Reply:
        repo = self.repo(req)
        self.workspace(repo, req)
        return json_reply(status_message("resource_found"))

    def add_files(self, req: Request) -> Reply:
        repo = self.repo(req)
        ws = self.workspace(repo, req)
        directory = req.params.get("dir", "").strip("/")
        content_type = req.headers.get("Content-Type", "")
        if not content_type.startswith("multipart/form-data"):
            raise bad_request("expected multipart/form-data")
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + req.body)
        paths = []
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") not in ("file[]", "file"):
                continue
            filename = part.get_filename()
            if not filename:
                raise bad_request("file part without a filename")
            data = part.get_payload(decode=True) or b""
            if part.get_content_type() == "application/gzip":
                data = gzip.decompress(data)
            path = normalize_path(directory, filename)
            ws.files[path] = self.store.put_blob(data)
            ws.data_frames.pop(path, None)  # a new file replaces an indexed one
            paths.append(path)
        return json_reply({**status_message("resource_created"), "paths": paths})

    def rm_files(self, req: Request) -> Reply:
        repo = self.repo(req)
        ws = self.workspace(repo, req)
        paths = req.json()
        if not isinstance(paths, list):
            raise bad_request("expected a JSON list of paths")
        tree = self.store.tree(repo, ws.commit_id)
        removed, missing = [], []
        for p in paths:
            p = normalize_path("", p)
            matches = [t for t in tree if t == p or t.startswith(p + "/")]
            for t in matches:
                ws.files[t] = None
            (removed if matches else missing).append(p)
        status = 206 if missing else 200
        return json_reply({**status_message("resource_deleted"),
                           "paths": missing if missing else removed}, status)

    def _staged(self, repo: Repo, ws: Workspace) -> dict[str, str | None]:
        """Everything the workspace would commit: files, and the data frames with changes."""
        staged = dict(ws.files)
        for path, df in ws.data_frames.items():
            if df.has_changes():
                staged[path] = self.store.put_blob(df.export())
        return staged

    def _conflicts(self, repo: Repo, ws: Workspace, staged: dict[str, str | None],
                   branch: str) -> list[str]:
        """`core::v_latest::workspaces::commit::list_conflicts`: a staged file conflicts when it
        exists both at the branch head and at the workspace's base, with different hashes."""
        if repo.branches[branch] == ws.commit_id:
            return []
        head_tree = self.store.tree(repo, repo.branches[branch])
        base_tree = self.store.tree(repo, ws.commit_id)
        return [p for p, h in staged.items() if h is not None and p in head_tree
                and p in base_tree and head_tree[p] != base_tree[p]]

    def commit(self, req: Request) -> Reply:
        repo = self.repo(req)
        data = req.json()
        if not isinstance(data, dict) or not all(k in data for k in ("message", "author", "email")):
            raise bad_request("missing field `message`, `author` or `email`")
        ws = self.workspace(repo, req)
        branch = req.params["branch"]
        if branch not in repo.branches:
            raise not_found(branch)
        staged = self._staged(repo, ws)
        if self._conflicts(repo, ws, staged, branch):
            head = repo.branches[branch]
            raise HTTPError(409, {
                "error": {"type": "conflict", "title": "Workspace is behind",
                          "detail": f"This workspace '{ws.id}' is behind on branch '{branch}' "
                                    f"commit {ws.commit_id} < {head}"},
                "status": "error", "status_message": "conflict"})
        if not staged:
            raise error(422, "NoChanges")
        head = repo.commits[repo.branches[branch]]
        tree = dict(self.store.tree(repo, head["id"]))
        for path, digest in staged.items():
            if digest is None:
                tree.pop(path, None)
            else:
                tree[path] = digest
        commit = self.store.new_commit(repo, [head["id"]], data["message"], data["author"],
                                       data["email"], tree)
        repo.branches[branch] = commit["id"]
        if ws.name:
            ws.commit_id, ws.files, ws.data_frames = commit["id"], {}, {}
        else:
            del repo.workspaces[ws.id]
        return json_reply({**status_message("resource_created"), "commit": commit_view(commit)})

    def mergeability(self, req: Request) -> Reply:
        repo = self.repo(req)
        ws = self.workspace(repo, req)
        branch = req.params["branch"]
        if branch not in repo.branches:
            raise not_found(branch)
        conflicts = self._conflicts(repo, ws, self._staged(repo, ws), branch)
        return json_reply({**status_message("resource_found"), "mergeable": {
            "is_mergeable": not conflicts,
            "conflicts": [{"path": p} for p in conflicts], "commits": []}})

    # data frames

    def _base_bytes(self, repo: Repo, ws: Workspace, path: str) -> bytes:
        digest = ws.files.get(path) or self.store.tree(repo, ws.commit_id).get(path)
        if digest is None:
            raise not_found(f"Data frame not found: {path}")
        return self.store.blobs[digest]

    def _read_table(self, repo: Repo, ws: Workspace, path: str) -> tuple[list[str], list[list[str]], str]:
        ext = PurePosixPath(path).suffix.lstrip(".").lower()
        if ext not in TABULAR_EXTENSIONS:
            raise bad_request(f"The fake indexes only csv and tsv files, not: {path}")
        delimiter = TABULAR_EXTENSIONS[ext]
        text = self._base_bytes(repo, ws, path).decode("utf-8")
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
        if not rows:
            raise bad_request(f"Data frame has no header: {path}")
        return rows[0], rows[1:], delimiter

    def _schema(self, columns: list[str], with_oxen: bool) -> dict[str, Any]:
        fields = [{"name": c, "dtype": "str", "metadata": None, "changes": None} for c in columns]
        if with_oxen:
            fields += [{"name": OXEN_ID_COL, "dtype": "str", "metadata": None, "changes": None},
                       {"name": DIFF_STATUS_COL, "dtype": "str", "metadata": None, "changes": None},
                       {"name": OXEN_ROW_ID_COL, "dtype": "i64", "metadata": None, "changes": None}]
        return {"hash": hash_bytes(json.dumps([columns, with_oxen]).encode()), "fields": fields,
                "metadata": None}

    def _row_json(self, df: DataFrame, row: dict[str, Any], index: int) -> dict[str, Any]:
        out = {c: row["values"].get(c) for c in df.columns}
        out.update({OXEN_ID_COL: row["_oxen_id"], DIFF_STATUS_COL: row["status"],
                    OXEN_ROW_ID_COL: index})
        return out

    def _views(self, schema: dict[str, Any], data: list[dict[str, Any]], total: int,
               width: int, page: int, page_size: int) -> dict[str, Any]:
        """`JsonDataFrameViews` {source, view}."""
        return {"source": {"schema": schema, "size": {"height": total, "width": width}},
                "view": {"schema": schema, "size": {"height": len(data), "width": width},
                         "data": data, "pagination": pagination(total, page, page_size),
                         "opts": []}}

    def _indexed(self, repo: Repo, ws: Workspace, req: Request) -> tuple[str, DataFrame]:
        path = normalize_path("", req.params["path"])
        df = ws.data_frames.get(path)
        if df is None:
            raise HTTPError(400, {
                "error": {"type": "dataset_not_indexed", "title": "Dataset must be indexed.",
                          "detail": f"This dataset {path} is not yet indexed for SQL and NLP "
                                    "querying."},
                "status": "error", "status_message": "bad_request"})
        return path, df

    def df_get(self, req: Request) -> Reply:
        repo = self.repo(req)
        ws = self.workspace(repo, req)
        path = normalize_path("", req.params["path"])
        page = int_param(req.query, "page", 1)
        page_size = int_param(req.query, "page_size", 100)
        df = ws.data_frames.get(path)
        if df is None:
            columns, rows, _ = self._read_table(repo, ws, path)
            data = [dict(zip(columns, r)) for r in page_slice(rows, page, page_size)]
            views = self._views(self._schema(columns, False), data, len(rows), len(columns),
                                page, page_size)
        else:
            indexed = list(enumerate(df.rows))
            data = [self._row_json(df, r, i) for i, r in page_slice(indexed, page, page_size)]
            views = self._views(self._schema(df.columns, True), data, len(df.rows),
                                len(df.columns) + 3, page, page_size)
        return json_reply({**status_message("resource_found"), "data_frame": views,
                           "commit": None, "resource": None, "derived_resource": None,
                           "is_indexed": df is not None})

    def df_put(self, req: Request) -> Reply:
        repo = self.repo(req)
        ws = self.workspace(repo, req)
        path = normalize_path("", req.params["path"])
        data = req.json()
        if not isinstance(data, dict) or not isinstance(data.get("is_indexed"), bool):
            raise bad_request("missing field `is_indexed`")
        if data["is_indexed"] and path not in ws.data_frames:
            columns, rows, delimiter = self._read_table(repo, ws, path)
            ws.data_frames[path] = DataFrame(columns, delimiter, [
                {"_oxen_id": str(uuid.uuid4()), "status": "unchanged",
                 "values": dict(zip(columns, r))} for r in rows])
        elif not data["is_indexed"]:
            ws.data_frames.pop(path, None)
        return json_reply(status_message("resource_updated"))

    def df_restore(self, req: Request) -> Reply:
        repo = self.repo(req)
        ws = self.workspace(repo, req)
        ws.data_frames.pop(normalize_path("", req.params["path"]), None)
        return json_reply(status_message("resource_deleted"))

    def _row_values(self, df: DataFrame, req: Request) -> dict[str, Any]:
        data = req.json()
        if isinstance(data, dict) and isinstance(data.get("data"), dict):
            data = data["data"]
        if not isinstance(data, dict):
            raise bad_request("a row is a JSON object of column → value")
        unknown = [k for k in data if k not in df.columns]
        if unknown:
            raise bad_request(f"Columns not in the data frame: {unknown}")
        return data

    def _row_reply(self, df: DataFrame, rows: list[tuple[int, dict[str, Any]]],
                   row_id: str | None) -> Reply:
        data = [self._row_json(df, r, i) for i, r in rows]
        schema = self._schema(df.columns, True)
        return json_reply({**status_message("resource_found"),
                           "data_frame": self._views(schema, data, len(data), len(df.columns) + 3,
                                                     1, max(len(data), 1)),
                           "commit": None, "resource": None, "derived_resource": None,
                           "row_id": row_id})

    def row_add(self, req: Request) -> Reply:
        repo = self.repo(req)
        ws = self.workspace(repo, req)
        _, df = self._indexed(repo, ws, req)
        values = self._row_values(df, req)
        row = {"_oxen_id": str(uuid.uuid4()), "status": "added",
               "values": {c: values.get(c) for c in df.columns}}
        df.rows.append(row)
        return self._row_reply(df, [(len(df.rows) - 1, row)], row["_oxen_id"])

    def _find(self, df: DataFrame, req: Request) -> tuple[int, dict[str, Any]]:
        row_id = req.params["row"]
        for i, r in enumerate(df.rows):
            if r["_oxen_id"] == row_id:
                return i, r
        raise not_found(f"Row not found: {row_id}")

    def row_get(self, req: Request) -> Reply:
        repo = self.repo(req)
        ws = self.workspace(repo, req)
        _, df = self._indexed(repo, ws, req)
        i, row = self._find(df, req)
        return self._row_reply(df, [(i, row)], row["_oxen_id"])

    def row_update(self, req: Request) -> Reply:
        repo = self.repo(req)
        ws = self.workspace(repo, req)
        _, df = self._indexed(repo, ws, req)
        i, row = self._find(df, req)
        row["values"].update(self._row_values(df, req))
        if row["status"] == "unchanged":
            row["status"] = "modified"
        return self._row_reply(df, [(i, row)], row["_oxen_id"])

    def row_delete(self, req: Request) -> Reply:
        repo = self.repo(req)
        ws = self.workspace(repo, req)
        _, df = self._indexed(repo, ws, req)
        i, row = self._find(df, req)
        df.rows.pop(i)
        if row["status"] != "added":
            df.removed.append(row)
        row = dict(row, status="removed")
        return self._row_reply(df, [(i, row)], row["_oxen_id"])


# MARK: - HTTP


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], token: str, api: OxenAPI):
        super().__init__(address, Handler)
        self.token = token
        self.api = api
        self.stats = Stats()
        self.faults: list[Fault] = []
        self.faults_lock = threading.Lock()

    def take_fault(self, route: str, method: str) -> Fault | None:
        with self.faults_lock:
            for fault in self.faults:
                if fault.matches(route, method):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's algorithm and the
    # peer's delayed ACK stall every keep-alive exchange.
    disable_nagle_algorithm = True
    server: Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read /_fake/requests
        pass

    def do_GET(self) -> None:
        self.handle_request()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY_BYTES:
                    raise error(413, "payload_too_large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise error(413, "payload_too_large")
        return self.rfile.read(length) if length else b""

    def authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return False
        return hmac.compare_digest(header[len("Bearer "):].encode(), self.server.token.encode())

    def send(self, reply: Reply) -> None:
        body = b"" if self.command == "HEAD" else reply.body
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("x-oxen-request-id",
                         self.headers.get("x-oxen-request-id") or str(uuid.uuid4()))
        for k, v in reply.headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def handle_request(self) -> None:
        split = urlsplit(self.path)
        path, query = split.path, parse_qs(split.query)
        method = self.command
        route, n_in, faulted, applied, body = "unmatched", 0, False, False, b""
        try:
            try:
                body = self.read_body()
                n_in = len(body)
            except HTTPError:
                self.close_connection = True
                raise
            if path.startswith("/_fake/"):
                route = "_fake"
                reply = self.admin(method, path, body)
            else:
                found = self.server.api.match(method, path)
                if found is None:
                    raise not_found(f"No route: {method} {path}")
                route, params, handler = found
                if not self.authorized():
                    reply = Reply(401, b"unauthorized", "text/plain; charset=utf-8",
                                  {"WWW-Authenticate": "Bearer"})
                else:
                    fault = self.server.take_fault(route, method)
                    if fault and fault.delay_ms:
                        time.sleep(fault.delay_ms / 1000)
                    request = Request(method, path, query, self.headers, body, params)
                    if fault and fault.status and not fault.apply:
                        faulted = True
                        reply = self.fault_reply(fault)
                    else:
                        reply = self.call(handler, request)
                        if fault and fault.status:
                            faulted, applied = True, reply.status < 400
                            reply = self.fault_reply(fault)
        except HTTPError as err:
            reply = json_reply(err.body, err.status)
        except Exception as err:  # noqa: BLE001 — a bug in the fake answers 500, as the real server would
            reply = json_reply({**status_message("internal_server_error", "error"),
                                "status_description": f"{type(err).__name__}: {err}"}, 500)
        # Recorded before the answer leaves, so a client that has its answer sees it counted.
        if route != "_fake":  # test-only routes stay out of the statistics
            preview = None
            if n_in and "multipart" not in (self.headers.get("Content-Type") or ""):
                preview = body[:2000].decode("utf-8", "replace")
            n_out = 0 if method == "HEAD" else len(reply.body)
            self.server.stats.record(route, method, self.path, reply.status, n_in, n_out,
                                     faulted, applied, preview)
        self.send(reply)

    def call(self, handler: Callable[[Request], Reply], request: Request) -> Reply:
        store = self.server.api.store
        with store.lock:
            try:
                reply = handler(request)
            except HTTPError as err:
                return json_reply(err.body, err.status)
            if request.method not in ("GET", "HEAD"):
                store.save()
            return reply

    def fault_reply(self, fault: Fault) -> Reply:
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = f"{fault.retry_after:g}"
        message = {409: "conflict", 429: "too_many_requests"}.get(
            fault.status, "internal_server_error" if fault.status >= 500 else "bad_request")
        body = {**status_message(message, "error"),
                "status_description": f"injected fault {fault.status}"}
        return Reply(fault.status, json.dumps(body).encode(), "application/json", headers)

    # test-only routes

    def admin(self, method: str, path: str, body: bytes) -> Reply:
        server = self.server
        if path == "/_fake/faults" and method == "POST":
            data = json.loads(body or b"{}")
            items = data if isinstance(data, list) else [data]
            with server.faults_lock:
                for item in items:
                    if "route" not in item:
                        raise bad_request("a fault needs a route ('*' for any)")
                    server.faults.append(Fault(
                        route=item["route"], status=item.get("status"),
                        times=int(item.get("times", 1)), method=item.get("method"),
                        retry_after=item.get("retry_after"),
                        delay_ms=int(item.get("delay_ms", 0)), apply=bool(item.get("apply"))))
            return json_reply({"status": "success", "faults": len(server.faults)})
        if path == "/_fake/faults" and method == "DELETE":
            with server.faults_lock:
                server.faults.clear()
            return json_reply({"status": "success"})
        if path == "/_fake/faults" and method == "GET":
            with server.faults_lock:
                return json_reply({"faults": [f.__dict__ for f in server.faults]})
        if path == "/_fake/stats" and method == "GET":
            return json_reply(server.stats.snapshot())
        if path == "/_fake/requests" and method == "GET":
            with server.stats.lock:
                return json_reply({"requests": list(server.stats.log)})
        if path == "/_fake/reset" and method == "POST":
            server.stats.reset()
            with server.faults_lock:
                server.faults.clear()
            return json_reply({"status": "success"})
        if path == "/_fake/routes" and method == "GET":
            return json_reply({"routes": [{"method": m, "pattern": p.pattern, "route": n}
                                          for m, p, n, _ in server.api.routes]})
        raise not_found(f"No admin route: {method} {path}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default=os.environ.get("FAKE_OXEN_TOKEN"),
                        help="bearer token the API requires (or $FAKE_OXEN_TOKEN)")
    parser.add_argument("--state-dir", help="persist repositories here (survives a restart)")
    parser.add_argument("--auto-create", action="store_true",
                        help="create an empty repository on first use of its name")
    parser.add_argument("--exit-on-stdin-eof", action="store_true",
                        help="stop when stdin closes (a parent that dies takes the fake with it)")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("--token (or $FAKE_OXEN_TOKEN) is required")
    store = Store(args.state_dir)
    server = Server((args.host, args.port), args.token, OxenAPI(store, args.auto_create))
    print(server.server_address[1], flush=True)
    if args.exit_on_stdin_eof:
        def watch_stdin() -> None:
            while sys.stdin.buffer.read(4096):
                pass
            server.shutdown()
        threading.Thread(target=watch_stdin, daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
