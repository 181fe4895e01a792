"""The badge's boot entry point, installed as ``/main.py`` by `badgekit hardware deploy`.

MicroPython runs ``/main.py`` after boot (``__name__ == "__main__"``): it picks the
firmware slot (firmware.fwboot: A/B slots, trial boots, rollback; docs/firmware-update.md)
and starts the badge application (firmware.badge) from it. Ctrl-C on a UART console
(KeyboardInterrupt) ends it and drops to the REPL; on USB the badge turns Ctrl-C off
(sync frames may contain 0x03), so hold the button at power-on to get the REPL.
Imported as ``firmware.main`` (the self-test imports every module) it does nothing.
"""

__all__ = ["run"]


def run(root="/"):
    from firmware import fwboot

    fwboot.start(root)
    try:
        from firmware import badge

        badge.main()
    except KeyboardInterrupt:
        print("badge stopped (KeyboardInterrupt): REPL")
    except Exception as exc:  # a slot that cannot even start: trial count / rollback
        fwboot.failed(root, exc)


if __name__ == "__main__":
    run()
