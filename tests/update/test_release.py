"""Release bundles on the release computer: keys, build for the ESP32-S3, verify, and the
deploy step that gives a badge the release public key."""

from __future__ import annotations

import json
import stat

from typer.testing import CliRunner

from badgekit.cli import app
from hardware.deploy import _release_key, deploy_argv


def test_keygen_build_verify_and_bad_bundles(tmp_path, mpy_cross):
    run = CliRunner().invoke
    key = tmp_path / "keys" / "release.pem"
    assert run(app, ["release", "keygen", "--out", str(key)]).exit_code == 0
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    assert run(app, ["release", "keygen", "--out", str(key)]).exit_code == 2  # never overwritten
    out = tmp_path / "fw.bkfw"
    r = run(app, ["release", "build", "--key", str(key), "--version", "0.2.0", "--min-version",
                  "0.1.0", "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    built = json.loads(r.stdout)
    assert built["arch"] == "xtensawin" and built["files"] >= 40 and built["hw"] == ["A", "B", "C"]
    pub = str(key.with_suffix(".pub"))
    r = run(app, ["release", "verify", str(out), "--pubkey", pub, "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["version"] == "0.2.0"
    data = out.read_bytes()
    other = tmp_path / "other.pem"
    run(app, ["release", "keygen", "--out", str(other)])
    bad = {"flip.bkfw": data[:-50] + bytes([data[-50] ^ 1]) + data[-49:],
           "short.bkfw": data[:-10], "long.bkfw": data + b"x", "junk.bkfw": b"not a bundle"}
    why = {"flip.bkfw": "does not match its hash", "short.bkfw": "truncated or padded",
           "long.bkfw": "truncated or padded", "junk.bkfw": "not a firmware bundle"}
    for name, content in bad.items():
        (tmp_path / name).write_bytes(content)
        r = run(app, ["release", "verify", str(tmp_path / name), "--pubkey", pub])
        assert r.exit_code == 1 and why[name] in r.output, (name, r.output)
        assert r.output.count("error:") == 1
    r = run(app, ["release", "verify", str(out), "--pubkey", str(other.with_suffix(".pub"))])
    assert r.exit_code == 1 and "signature does not verify" in r.output
    r = run(app, ["release", "build", "--key", str(key), "--version", "0.2", "--out", str(out)])
    assert r.exit_code == 2 and "MAJOR.MINOR.PATCH" in r.output


def test_deploy_gives_the_badge_the_release_public_key(tmp_path):
    pub = tmp_path / "release.pub"
    pub.write_text("ab" * 32 + "\n")
    staged = _release_key(tmp_path / "stage", pub)
    assert staged is not None and staged.read_text().strip() == "ab" * 32
    argv = deploy_argv("/dev/ttyACM0", tmp_path / "stage", "B")
    i = argv.index(":fw/release.pub")
    assert argv[i - 1] == str(staged) and i < argv.index("soft-reset")
    assert ":fw/release.pub" not in deploy_argv("/dev/ttyACM0", tmp_path / "none", "B")
