"""Resume: the link really drops at random byte offsets (the companion closes the pty or the
BLE connection); reconnecting finishes the sync with every clip intact exactly once."""

from __future__ import annotations

import random

from badgekit.blelink import VirtualLink
from bench.sync_resume import resume_run


async def test_serial_resume_at_random_cuts(tmp_path, micropython):
    rng = random.Random(6)
    total_resumed = 0
    for i in range(4):
        r = await resume_run("serial", rng, tmp_path / f"run{i}")
        assert r["cuts"] >= 1 and r["clips"] == 4
        total_resumed += r["resumed"]
    assert total_resumed >= 1  # at least one clip continued from its durable offset


async def test_ble_resume_at_random_cuts(tmp_path):
    link = VirtualLink()
    comp = link.add_device("companion")
    await comp.power_on()
    rng = random.Random(7)
    total_resumed = 0
    for i in range(8):
        r = await resume_run("ble", rng, tmp_path / f"run{i}", link=link, comp=comp)
        assert r["cuts"] >= 1 and r["clips"] == 4
        total_resumed += r["resumed"]
    assert total_resumed >= 1
