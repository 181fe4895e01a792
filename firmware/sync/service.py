"""Sync on the badge: the USB serial link and the BLE radio, each with its own server.

    import asyncio
    from firmware.sync import service
    asyncio.create_task(service.run(store, keys, badge_id, state_path="/nvs/sync.json"))

``store`` is the badge's firmware.clipstore.ClipStore, ``keys`` its
firmware.clipkeys.KeyFile (enrollment re-keys the store through it). Each link gets
its own firmware.sync.server.Server (own session), sharing the store and the
BadgeState; everything runs as asyncio tasks beside the recorder. ``info_fn()`` adds
battery and microphone facts to INFO; ``status_fn()`` the advertised status byte.
"""

from firmware.sync import link, server, state

__all__ = ["run", "make_server"]


def make_server(store, keys, st, info_fn=None):
    def on_enroll(kek):
        keys.enroll(kek)
        n = store.set_key(kek)
        keys.forget_old()
        return n

    return server.Server(store, st, on_enroll=on_enroll, info_fn=info_fn)


async def run(store, keys, badge_id, state_path, usb=True, ble=True, info_fn=None,
              uart=None, stop=None):
    """Serve sync on USB CDC (or ``uart``: a machine.UART id) and BLE until ``stop()``."""
    import asyncio

    st = state.BadgeState(state_path, badge_id)
    if st.secret and getattr(store, "sealer", 1) is None:  # enrolled: seal clips (v2)
        from firmware import clipmac

        store.set_clip_key(clipmac.clip_key_of(st.secret))
    tasks = []
    if usb or uart is not None:
        from firmware.hw.serial_link import SerialLink

        sl = SerialLink.uart(uart) if uart is not None else SerialLink.usb()
        tasks.append(asyncio.create_task(
            link.serve_async(sl, make_server(store, keys, st, info_fn), stop)))
    if ble:
        from firmware.hw import radio
        from firmware.sync.adv import status_byte

        def status():
            s = store.status()
            return status_byte(st.enrolled, s["clips"]["closed"] > 0, s["warning"],
                               store.recording, bool(s["fault"]))

        r = radio.Radio(make_server(store, keys, st, info_fn), badge_id, status_fn=status)
        tasks.append(asyncio.create_task(r.serve(stop)))
    for t in tasks:
        await t
