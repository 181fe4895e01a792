"""Badge administration handlers of the sync server: clock, config, enrollment, event log.

Each takes the server (firmware.sync.server.Server) and the decoded JSON request and
returns the reply object or raises ``Reject``.
"""

import json

from firmware.clips import mac as clipmac
from firmware.sync import auth, proto
from firmware.sync.checks import Reject, integer, text, unhex

__all__ = ["set_time", "get_config", "set_config", "enroll", "logs"]


def set_time(srv, req):
    srv.need_session()
    epoch = integer(req, "epoch", 1577836800, 4102444800)
    drift = srv.state.set_time(epoch)
    return {"clock": srv.state.now(), "drift_s": drift}


def _config(st):
    """The config reply: the int settings, plus ``case_id`` while one is pending."""
    if not st.case_id:
        return st.config
    out = dict(st.config)
    out["case_id"] = st.case_id
    return out


def get_config(srv, req):
    srv.need_session()
    return _config(srv.state)


def set_config(srv, req):
    srv.need_session()
    from firmware.sync.state import config_error

    for k in req:
        err = config_error(k, req[k])
        if err:
            raise Reject(proto.E_CONFIG, err)
    st = srv.state
    for k in req:
        if k == "case_id":
            st.set_case(req[k])  # stamped on its meeting by the badge (BadgeState.take_case)
        else:
            st.config[k] = req[k]
    if "storage_warn_pct" in req:
        srv.store.warn_pct = req["storage_warn_pct"]
    st.log("config_set", keys=list(req))
    return _config(st)


def enroll(srv, req):
    st = srv.state
    if st.enrolled:
        if srv.session is None:
            raise Reject(proto.E_ENROLLED, "badge is enrolled at branch {}; re-enroll it "
                          "from that branch".format(st.branch))
        key = auth.wrap(srv.session.key, unhex(req.get("key"), 32))
    else:
        key = unhex(req.get("key"), 32)
    branch = text(req, "branch")
    agent = text(req, "agent", 64)
    old = (st.branch, st.agent)
    n = 0
    if srv.on_enroll is not None:
        n = srv.on_enroll(auth.kek_of(key))
    seal = getattr(srv.store, "set_clip_key", None)
    if seal is not None:  # clips closed from now on are sealed with the new clip key (v2)
        seal(clipmac.clip_key_of(key))
    st.secret, st.branch, st.agent = key, branch, agent
    st.log("enrolled", branch=branch, agent=agent, previous_branch=old[0],
           previous_agent=old[1])
    srv._end_session = True
    srv.nb = None
    return {"badge": st.badge, "branch": branch, "agent": agent, "rewrapped": n}


def logs(srv, req):
    if srv.state.enrolled:
        srv.need_session()
    start = integer(req, "start", 0, 1 << 30, 0)
    k = integer(req, "max", 1, 16, 16)
    evs = srv.state.events + getattr(srv.store, "events", [])
    page = evs[start:start + k]
    while True:  # as many events as fit in one reply frame
        nxt = start + len(page)
        out = {"events": page, "total": len(evs), "next": nxt if nxt < len(evs) else None}
        if len(json.dumps(out)) <= srv.chunk_max:
            return out
        if len(page) <= 1:
            page = [{"event": "too_large", "t": page[0].get("t") if page else 0}]
        else:
            page = page[:-1]
