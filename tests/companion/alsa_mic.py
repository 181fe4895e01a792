"""A microphone without a sound card: an ALSA `file` PCM whose `infile` is real speech.

`make_mic(tmp, wav)` converts a WAV to raw 16 kHz s16le mono with sox and writes an
asoundrc defining ``pcm.<name>`` of ``type file`` over the ``null`` slave with that
``infile``; PortAudio (sounddevice) lists the PCM as an input device and captures the
recording byte for byte (the null slave is not paced, so capture runs faster than real
time; after the end of the file the PCM delivers silence).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["AlsaMic", "make_mic"]


@dataclass(frozen=True)
class AlsaMic:
    name: str  # PCM name, the sounddevice input device
    raw: Path  # the raw s16le 16 kHz mono speech the PCM plays
    asoundrc: Path
    home: Path  # a HOME whose ~/.asoundrc is `asoundrc`

    def env(self, base: dict[str, str]) -> dict[str, str]:
        env = dict(base)
        env["HOME"] = str(self.home)
        return env


def make_mic(tmp: Path, wav: Path, name: str = "badgemic", pad_s: float = 0.0) -> AlsaMic:
    sox = shutil.which("sox")
    assert sox, "sox missing; fix: apt-get install sox"
    raw = tmp / f"{name}.raw"
    cmd = [sox, str(wav), "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer",
           "-L", "-t", "raw", str(raw)]
    if pad_s:
        cmd += ["pad", "0", str(pad_s)]
    subprocess.run(cmd, check=True, capture_output=True)
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    rc = home / ".asoundrc"
    rc.write_text(
        f"pcm.{name} {{\n"
        f"    type file\n"
        f"    slave.pcm \"null\"\n"
        f"    file \"/dev/null\"\n"
        f"    infile \"{raw}\"\n"
        f"    format \"raw\"\n"
        f"}}\n"
    )
    return AlsaMic(name, raw, rc, home)
