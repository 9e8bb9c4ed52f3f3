#!/usr/bin/env python3
"""python-tuf against `tufa server`, both directions (issue 15). Not a test: python-tuf is not
in CI. Run from the repository root after `npm run build`:

    PYTHONPATH=/path/to/python-tuf:/path/to/securesystemslib python3 examples/python-tuf-server/interop.py

It starts `tufa server` on a free loopback port with a store in a temporary directory, and a
plain file server for the target files (a trust server holds metadata only), then:

A. python-tuf publishes: the Metadata API builds root, targets and a delegated role "team"
   (root naming the server's online snapshot and timestamp keys from POST <gun>/keys), signs
   them with securesystemslib's CryptoSigner and uploads them through the upload API; python-tuf's
   ngclient refreshes from the server and downloads both targets. Then a root rotation (root
   version 2 with a new root key, signed by the old and the new key) and targets version 2,
   uploaded together; a new ngclient refresh follows the rotation and downloads the new target.
   Snapshot and timestamp built by python-tuf with its own keys are refused (the server signs
   those), as are a replay of the first upload and targets signed by the wrong key.
B. tufa publishes (examples/python-tuf-server/tufa-publish.mjs, ServerClient): ngclient, trusting
   only the root version 1 the publisher made, refreshes and downloads a top-level and a
   delegated target.

Prints one line per check; exits 1 at the first failure.
"""

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Key,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer
from tuf.ngclient import Updater

ROOT_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(ROOT_DIR, "packages", "cli", "dist", "bin.js")
PUBLISH = os.path.join(ROOT_DIR, "examples", "python-tuf-server", "tufa-publish.mjs")
PASSPHRASE = "interop passphrase of the online keys (not a secret)"


def check(ok, what):
    print(f"{'ok  ' if ok else 'FAIL'} {what}", flush=True)
    if not ok:
        sys.exit(1)


def expires(days):
    return datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=days)


def request(url, method="GET", body=None):
    """(status, parsed JSON or None)"""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def upload_body(**roles):
    return {
        "roles": [
            {"role": name, "metadata": base64.b64encode(md.to_bytes(JSONSerializer())).decode()}
            for name, md in roles.items()
        ]
    }


class Artifacts:
    """Target files served over HTTP the way ngclient asks for them (consistent snapshot:
    `<dir>/<sha256>.<name>`)."""

    def __init__(self, root):
        self.root = root
        handler = partial(_QuietHandler, directory=root)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def add(self, path, data):
        digest = hashlib.sha256(data).hexdigest()
        head, name = os.path.split(path)
        os.makedirs(os.path.join(self.root, head), exist_ok=True)
        with open(os.path.join(self.root, head, f"{digest}.{name}"), "wb") as f:
            f.write(data)
        return TargetFile(len(data), {"sha256": digest}, path)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def start_server(store):
    env = dict(os.environ, TUFA_SERVER_KEY_PASSPHRASE=PASSPHRASE)
    proc = subprocess.Popen(
        ["node", BIN, "server", "--listen", "127.0.0.1:0", "--store", store, "--json"],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    text = ""
    while True:  # --json prints one (indented) object
        line = proc.stdout.readline()
        if not line:
            proc.wait()
            raise SystemExit("tufa server did not start (is the build there? npm run build)")
        text += line
        try:
            return proc, json.loads(text)["url"]
        except json.JSONDecodeError:
            continue


def refresh_and_download(tmp, name, trusted_root_bytes, metadata_url, artifacts, wanted):
    """A fresh ngclient trusting `trusted_root_bytes`: refresh, then download each target in
    `wanted` ({path: bytes}) and compare. Returns the Updater."""
    metadata_dir = os.path.join(tmp, name, "metadata")
    target_dir = os.path.join(tmp, name, "targets")
    os.makedirs(metadata_dir)
    os.makedirs(target_dir)
    with open(os.path.join(metadata_dir, "root.json"), "wb") as f:
        f.write(trusted_root_bytes)
    updater = Updater(metadata_dir, metadata_url, target_dir, artifacts.url)
    updater.refresh()
    for path, data in wanted.items():
        info = updater.get_targetinfo(path)
        check(info is not None, f"{name}: ngclient finds {path}")
        local = updater.download_target(info, os.path.join(target_dir, path.replace("/", "_")))
        with open(local, "rb") as f:
            check(f.read() == data, f"{name}: ngclient downloads {path} with the signed hash")
    return updater


def python_publishes(server_url, tmp, artifacts):
    gun = "localhost:5000/python/app"
    base = f"{server_url}{gun}"
    status, answer = request(f"{base}/keys", "POST")
    check(status == 200, f"A: POST {gun}/keys answers the online keys")
    online = {}
    for entry in answer["keys"]:
        online[entry["role"]] = Key.from_dict(entry["keyid"], dict(entry["key"]))

    root_signer = CryptoSigner.generate_ed25519()
    targets_signer = CryptoSigner.generate_ed25519()
    team_signer = CryptoSigner.generate_ed25519()

    root = Metadata(Root(expires=expires(365)))
    root.signed.add_key(root_signer.public_key, "root")
    root.signed.add_key(targets_signer.public_key, "targets")
    root.signed.add_key(online["snapshot"], "snapshot")
    root.signed.add_key(online["timestamp"], "timestamp")
    root.sign(root_signer)

    app = artifacts.add("app-1.0.tar", b"the app, version 1.0\n")
    tool = artifacts.add("team/tool-2.tar", b"a tool the team publishes\n")
    targets = Metadata(Targets(expires=expires(90)))
    targets.signed.targets[app.path] = app
    team_role = DelegatedRole("team", [team_signer.public_key.keyid], 1, True, ["team/*"])
    targets.signed.delegations = Delegations(
        {team_signer.public_key.keyid: team_signer.public_key}, roles={"team": team_role}
    )
    targets.sign(targets_signer)
    team = Metadata(Targets(expires=expires(90)))
    team.signed.targets[tool.path] = tool
    team.sign(team_signer)

    # What a python-tuf repository would also make: snapshot and timestamp, here with keys of
    # its own. The server signs those two with its online keys and takes no upload of them.
    local_online = CryptoSigner.generate_ed25519()
    snapshot = Metadata(Snapshot(expires=expires(7)))
    snapshot.signed.meta["targets.json"] = MetaFile(1)
    snapshot.signed.meta["team.json"] = MetaFile(1)
    snapshot.sign(local_online)
    timestamp = Metadata(Timestamp(expires=expires(1)))
    timestamp.signed.snapshot_meta = MetaFile(1)
    timestamp.sign(local_online)
    for name, md in (("snapshot", snapshot), ("timestamp", timestamp)):
        status, answer = request(f"{base}/metadata", "POST", upload_body(root=root, targets=targets, **{name: md}))
        check(
            status == 400 and answer["error"]["code"] == "FORMAT",
            f"A: an upload carrying a python-tuf {name} is refused (400 {answer['error']['code']})",
        )

    first = upload_body(root=root, targets=targets, team=team)
    status, answer = request(f"{base}/metadata", "POST", first)
    check(status == 200, f"A: root, targets and the delegated role uploaded ({status}: {answer})")
    versions = {v["role"]: v["version"] for v in answer["versions"]}
    check(versions.get("snapshot") == 1 and versions.get("timestamp") == 1, f"A: server signed {versions}")

    refresh_and_download(
        tmp,
        "python-1",
        root.to_bytes(JSONSerializer()),
        f"{base}/metadata/",
        artifacts,
        {app.path: b"the app, version 1.0\n", tool.path: b"a tool the team publishes\n"},
    )

    status, answer = request(f"{base}/metadata", "POST", first)
    check(
        status == 409 and answer["error"]["code"] == "CONFLICT" and answer["current"]["version"] == 1,
        f"A: replaying the first upload is a conflict naming the current version ({status})",
    )

    # Targets version 2 signed by the wrong key: refused, nothing stored.
    app2 = artifacts.add("app-2.0.tar", b"the app, version 2.0\n")
    bad = Metadata(Targets(version=2, expires=expires(90)))
    bad.signed.targets[app2.path] = app2
    bad.signed.delegations = targets.signed.delegations
    bad.sign(team_signer)
    status, answer = request(f"{base}/metadata", "POST", upload_body(targets=bad))
    check(
        status == 400 and answer["error"]["code"] == "THRESHOLD",
        f"A: targets signed by another key is refused ({status} {answer['error']['code']})",
    )

    # Root rotation (new root key; version 2 signed by the old and the new key) and targets 2.
    new_root_signer = CryptoSigner.generate_ed25519()
    root.signed.version = 2
    root.signed.revoke_key(root_signer.public_key.keyid, "root")
    root.signed.add_key(new_root_signer.public_key, "root")
    root.signatures.clear()
    root.sign(root_signer, append=True)
    root.sign(new_root_signer, append=True)
    targets.signed.version = 2
    targets.signed.targets[app2.path] = app2
    targets.signatures.clear()
    targets.sign(targets_signer)
    status, answer = request(f"{base}/metadata", "POST", upload_body(root=root, targets=targets))
    check(status == 200, f"A: root 2 (rotated root key) and targets 2 uploaded ({status}: {answer})")

    first_root = base64.b64decode(first["roles"][0]["metadata"])
    updater = refresh_and_download(
        tmp, "python-2", first_root, f"{base}/metadata/", artifacts, {app2.path: b"the app, version 2.0\n"}
    )
    # The trusted root the client ended with is version 2, read from the server.
    with open(os.path.join(tmp, "python-2", "metadata", "root.json"), "rb") as f:
        check(Metadata.from_bytes(f.read()).signed.version == 2, "A: ngclient followed the root rotation to version 2")
    del updater


def tufa_publishes(server_url, tmp, artifacts):
    gun = "localhost:5000/tufa/app"
    files = {"app-1.0.tar": b"tufa-published app\n", "team/tool-1.tar": b"tufa-published tool\n"}
    listing = []
    for path, data in files.items():
        info = artifacts.add(path, data)
        listing.append(
            {
                "path": path,
                "length": info.length,
                "sha256": info.hashes["sha256"],
                "role": "team" if path.startswith("team/") else "targets",
            }
        )
    list_file = os.path.join(tmp, "tufa-targets.json")
    with open(list_file, "w") as f:
        json.dump(listing, f)
    out = subprocess.run(
        ["node", PUBLISH, server_url, gun, list_file], check=True, capture_output=True, text=True
    ).stdout
    check(True, "B: tufa (ServerClient) created the GUN and published targets versions 2 and 3")
    root_bytes = base64.b64decode(json.loads(out)["root"])
    refresh_and_download(tmp, "tufa-1", root_bytes, f"{server_url}{gun}/metadata/", artifacts, files)
    with open(os.path.join(tmp, "tufa-1", "metadata", "targets.json"), "rb") as f:
        targets = Metadata.from_bytes(f.read())
    check(targets.signed.version == 3, f"B: ngclient holds targets version {targets.signed.version}")
    custom = targets.signed.targets["app-1.0.tar"].unrecognized_fields.get("custom")
    check(custom == {"note": "version 3"}, f"B: the custom field tufa signed reads back in python-tuf: {custom}")


def main():
    tmp = tempfile.mkdtemp(prefix="tufa-python-interop-")
    proc = None
    try:
        proc, url = start_server(os.path.join(tmp, "store"))
        print(f"tufa server at {url}", flush=True)
        artifacts = Artifacts(os.path.join(tmp, "artifacts"))
        python_publishes(url, tmp, artifacts)
        tufa_publishes(url, tmp, artifacts)
        print("all checks passed")
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
