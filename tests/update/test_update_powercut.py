"""Power cuts at every stage of an update (transfer, unpack and switch, trial boot,
confirmation) on littlefs2 under the MicroPython unix port: each copy of the flash boots
a working firmware, keeps every clip, and finishes the update from where it stopped."""

from __future__ import annotations

import json
import os

from badgecore import release
from badgecore.paths import REPO_ROOT

SCRIPT = REPO_ROOT / "tests" / "update" / "mp_powercut.py"


def test_power_cut_at_every_stage_of_an_update(tmp_path, micropython):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    # a small release (42 KB in 7 files) keeps the campaign short; the code path is the same
    files = [("firmware/__init__.mpy", b"M\x06\x00\x1f" + os.urandom(20))]
    files += [(f"firmware/m{i}.mpy", os.urandom(7000)) for i in range(6)]
    bundle = tmp_path / "small.bkfw"
    bundle.write_bytes(release.pack(sorted(files), key, "0.2.0", "0.1.0", ["A"], "bytecode"))
    pub = release._public_of(key).hex()
    proc = micropython(SCRIPT, args=[str(bundle), pub, "0.2.0", "3"], heap="64M", timeout=300)
    r = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    assert r["failures"] == []
    assert r["cuts"] >= 250 and r["finished"] == r["cuts"]
    # cuts landed in every stage, and around the switch both outcomes happened
    assert set(r["by_stage"]) == {"transfer", "switch", "boot", "confirm"}
    assert r["by_stage"]["boot"] == r["writes_by_stage"]["boot"]
    assert r["by_stage"]["confirm"] == r["writes_by_stage"]["confirm"]
    assert r["new_active_after_cut"] >= 12  # cut after the switch: the new slot, on trial
    assert r["resumed_mid_transfer"] >= 20  # the transfer resumed from the badge's offset
