"""The probe's access-control cases: does the server demand authentication, and how well
does it guard it (RFC 2326 §D.1: HTTP authentication, RFC 7616 Digest, RFC 7617 Basic)?

``check_demand`` runs first: a DESCRIBE without credentials says whether the server
demands them and how (its challenges); with the user's credentials, every later request of
the battery then goes through an ``AuthChannel``, which answers as a careful client does.
Against a server that demands authentication, ``check_guards`` then asks, each on a
connection of its own: is Basic offered or accepted over plain TCP, is a Digest request
accepted twice, is a nonce the server never issued accepted, and do the refusals of an
unknown user and of a wrong password differ.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from analysis.probe.auth import (
    CHALLENGE_HEADER,
    Answerer,
    Offer,
    basic_header,
    digest_header,
    read_offers,
    request_line,
    strongest,
    with_authorization,
)
from analysis.probe.model import Channel, ProbeExchange, Verdict
from analysis.probe.wire import Reply, Target
from analysis.wire.rtsp_status import Status

# (case, title, source, what a well-guarded server answers), in the battery's order.
DEMAND_CASE = (
    "auth_required",
    "authentication demanded",
    "RFC 2326 §D.1, RFC 7235 §3.1",
    "401 with WWW-Authenticate, or 200 (open)",
)
GUARD_CASES = (
    (
        "auth_basic",
        "Basic over plain TCP",
        "RFC 7617 §4",
        "Basic neither offered nor accepted",
    ),
    (
        "auth_replay",
        "the same Digest answer twice",
        "RFC 7616 §3.4, §5.5",
        "401 for the copy: the nonce count must grow",
    ),
    (
        "auth_unknown_nonce",
        "a nonce the server never issued (or one expired)",
        "RFC 7616 §3.3, §5.4",
        "401, with stale=true",
    ),
    (
        "auth_user_leak",
        "an unknown user against a wrong password",
        "RFC 7616 §3.4.4, §5.7",
        "the same 401 for both",
    ),
)
NO_CREDENTIALS = (
    "the server demands authentication: give credentials (rtsp://USER:PASSWORD@host/... "
    "or --user and --password)"
)
LIKELY_USER = "admin"  # whose existence an open question leaks, when no user was given
# Reply fields that differ between any two replies and say nothing about the user.
VOLATILE_HEADERS = frozenset({"cseq", "date", "session", "content-length"})
VOLATILE_PARAMS = ("nonce", "opaque")


class Judged(Protocol):
    """A case's result, as far as the access cases look at it."""

    @property
    def verdict(self) -> Verdict: ...


class Battery(Protocol):
    """What a case needs of the battery run: the target, connections without credentials,
    numbered requests, the common verdict, and the report."""

    target: Target

    def raw_connect(self) -> Channel: ...
    def request(
        self, method: str, uri: str, headers: Sequence[tuple[str, str]] = ...
    ) -> tuple[bytes, int]: ...
    def judge(
        self, case: str, data: bytes, outcome: ProbeExchange, cseq: int | None, *, passes: set[int]
    ) -> Judged: ...
    def add(
        self,
        case: str,
        data: bytes,
        verdict: Verdict,
        reason: str,
        outcome: ProbeExchange | None = None,
    ) -> Judged: ...
    def amend(self, verdict: Verdict, reason: str) -> None: ...


@dataclass(frozen=True)
class Demand:
    """What the first case learnt: the challenges (none: open), whether our credentials
    were accepted, and why the rest of the battery cannot run (None when it can)."""

    offers: list[Offer]
    accepted: bool = False
    blocked: str | None = None


def challenges(reply: Reply | None) -> list[Offer]:
    """The offers of a 401's WWW-Authenticate fields (none for another reply)."""
    if reply is None or reply.status != Status.UNAUTHORIZED:
        return []
    return read_offers([v for n, v in reply.headers if n.lower() == CHALLENGE_HEADER.lower()])


class AuthChannel:
    """A channel answering challenges as a careful client does: the adopted offer's
    Authorization on every request, a 401 answered once more (and again when only the
    nonce was stale, RFC 7616 §3.3)."""

    def __init__(self, inner: Channel, answerer: Answerer) -> None:
        self.inner = inner
        self.answerer = answerer

    def exchange(self, request: bytes) -> ProbeExchange:
        """Send ``request`` with credentials; the reply to its last retry."""
        method, uri = request_line(request)
        header = self.answerer.header(method, uri)
        outcome = self.inner.exchange(with_authorization(request, header) if header else request)
        for attempt in range(2):
            offer = self.answerer.adopt(challenges(outcome.reply))
            if offer is None or (attempt and not offer.stale):
                break
            header = self.answerer.header(method, uri)
            assert header is not None  # an offer was adopted
            outcome = self.inner.exchange(with_authorization(request, header))
        return outcome

    def wait_interleaved(self, timeout: float) -> int:
        """As the inner channel."""
        return self.inner.wait_interleaved(timeout)

    def close(self) -> None:
        """As the inner channel."""
        self.inner.close()


def check_demand(run: Battery, answerer: Answerer | None) -> Demand:
    """The auth_required case: a DESCRIBE without credentials, then (when the server asked
    for them and we have them) one with."""
    try:
        channel = run.raw_connect()
    except OSError as exc:
        run.add(DEMAND_CASE[0], b"", Verdict.FAIL, f"could not connect: {exc}")
        return Demand([])
    try:
        data, cseq = run.request("DESCRIBE", run.target.url, [("Accept", "application/sdp")])
        outcome = channel.exchange(data)
        passes: set[int] = {Status.OK, Status.UNAUTHORIZED}
        result = run.judge(DEMAND_CASE[0], data, outcome, cseq, passes=passes)
        reply = outcome.reply
        if reply is None or result.verdict is not Verdict.PASS:
            return Demand([])
        if reply.status != Status.UNAUTHORIZED:
            run.amend(Verdict.PASS, "open: DESCRIBE was served without credentials")
            return Demand([])
        offers = challenges(reply)
        if not offers:
            run.amend(Verdict.FAIL, "401 without WWW-Authenticate (RFC 7235 §3.1)")
            return Demand([], blocked="the server's 401 names no way to authenticate")
        demanded = f"demands authentication: offers {', '.join(o.describe() for o in offers)}"
        if answerer is None:
            run.amend(Verdict.PASS, demanded)
            return Demand(offers, blocked=NO_CREDENTIALS)
        answerer.adopt(offers)
        data, _ = run.request("DESCRIBE", run.target.url, [("Accept", "application/sdp")])
        checked = AuthChannel(channel, answerer).exchange(data)
        if checked.reply is None or checked.reply.status == Status.UNAUTHORIZED:
            why = f"the server refused user {answerer.user!r} ({_got(checked)})"
            run.amend(Verdict.PASS, f"{demanded}; {why}")
            return Demand(offers, blocked=f"{why}: check the credentials")
        scheme = answerer.offer.describe() if answerer.offer else "?"
        run.amend(Verdict.PASS, f"{demanded}; {scheme} accepted for {answerer.user!r}")
        return Demand(offers, accepted=True)
    finally:
        channel.close()


def check_guards(run: Battery, demand: Demand, answerer: Answerer | None) -> None:
    """The four guard cases, each on a connection of its own (with ``answerer`` only when
    the server accepted its credentials)."""
    offers = demand.offers
    answerer = answerer if demand.accepted else None
    for case, check in (
        ("auth_basic", _basic),
        ("auth_replay", _replay),
        ("auth_unknown_nonce", _unknown_nonce),
        ("auth_user_leak", _user_leak),
    ):
        channel = None
        try:
            channel = run.raw_connect()
            check(run, channel, offers, answerer)
        except OSError as exc:
            run.add(case, b"", Verdict.FAIL, f"could not connect: {exc}")
        finally:
            if channel is not None:
                channel.close()


def _ask(
    run: Battery, channel: Channel, authorization: str | None = None
) -> tuple[bytes, ProbeExchange]:
    """DESCRIBE the target on ``channel`` (with ``authorization``): what was sent and what
    came back."""
    data, _ = run.request("DESCRIBE", run.target.url, [("Accept", "application/sdp")])
    if authorization is not None:
        data = with_authorization(data, authorization)
    return data, channel.exchange(data)


def _fresh_offer(
    run: Battery, channel: Channel, scheme: str = "digest", algorithm: str | None = None
) -> Offer | None:
    """A new challenge of ``scheme`` (and ``algorithm``) from the server: the strongest in
    its 401 to a DESCRIBE without credentials."""
    _, outcome = _ask(run, channel)
    found = [
        o
        for o in challenges(outcome.reply)
        if o.scheme == scheme and algorithm in (None, o.algorithm)
    ]
    return strongest(found)


def _basic(run: Battery, channel: Channel, offers: list[Offer], answerer: Answerer | None) -> None:
    if not any(o.scheme == "basic" for o in offers):
        schemes = ", ".join(o.describe() for o in offers)
        run.add("auth_basic", b"", Verdict.PASS, f"Basic not offered ({schemes})")
        return
    if answerer is None:
        run.add(
            "auth_basic",
            b"",
            Verdict.WARN,
            "Basic offered over plain TCP: a client that takes it sends its password in clear",
        )
        return
    data, outcome = _ask(run, channel, basic_header(answerer.user, answerer.password))
    accepted = outcome.reply is not None and outcome.reply.status == Status.OK
    run.add(
        "auth_basic",
        data,
        Verdict.WARN,
        ("Basic accepted" if accepted else "Basic offered (our Basic answer was refused)")
        + " over plain TCP: the password crosses the network in clear",
        outcome,
    )


def _replay(run: Battery, channel: Channel, offers: list[Offer], answerer: Answerer | None) -> None:
    case = "auth_replay"
    if answerer is None:
        run.add(case, b"", Verdict.SKIP, f"not run: {NO_CREDENTIALS}")
        return
    offer = _fresh_offer(run, channel)
    if offer is None:
        run.add(case, b"", Verdict.SKIP, "not run: no Digest offered")
        return
    user, password = answerer.user, answerer.password
    first_header = digest_header(offer, user, password, "DESCRIBE", run.target.url)
    _, first = _ask(run, channel, first_header)
    if first.reply is None or first.reply.status != Status.OK:
        run.add(case, b"", Verdict.SKIP, f"not run: our Digest answer was refused ({_got(first)})")
        return
    data, copy = _ask(run, channel, first_header)
    if copy.reply is not None and copy.reply.status == Status.OK:
        if offer.qops:
            run.add(
                case,
                data,
                Verdict.FAIL,
                "the same Digest answer (nonce and nc) was accepted twice: a captured request "
                "can be replayed",
                copy,
            )
        else:
            run.add(
                case,
                data,
                Verdict.WARN,
                "Digest offered without qop (RFC 2069): no nonce count, so a captured request "
                "is accepted again while its nonce lives",
                copy,
            )
        return
    # A server offering qop may still take RFC 2069's answer (MD5, no qop), which has no
    # count to check.
    legacy = _fresh_offer(run, channel, algorithm="md5")
    if offer.qops and legacy is not None:
        legacy_header = digest_header(
            legacy, user, password, "DESCRIBE", run.target.url, use_qop=False
        )
        _, once = _ask(run, channel, legacy_header)
        legacy_data, twice = _ask(run, channel, legacy_header)
        replayable = all(o.reply is not None and o.reply.status == Status.OK for o in (once, twice))
        if replayable:
            run.add(
                case,
                legacy_data,
                Verdict.WARN,
                f"the copy was refused ({_got(copy)}), but Digest answers without qop "
                "(RFC 2069) are accepted, twice: they carry no count to replay-check",
                twice,
            )
            return
    run.add(case, data, Verdict.PASS, f"the copy was refused: {_got(copy)}", copy)


def _unknown_nonce(
    run: Battery, channel: Channel, offers: list[Offer], answerer: Answerer | None
) -> None:
    case = "auth_unknown_nonce"
    if answerer is None:
        run.add(case, b"", Verdict.SKIP, f"not run: {NO_CREDENTIALS}")
        return
    offer = strongest([o for o in offers if o.scheme == "digest"])
    if offer is None:
        run.add(case, b"", Verdict.SKIP, "not run: no Digest offered")
        return
    made_up = secrets.token_hex(16)
    url = run.target.url
    header = digest_header(offer, answerer.user, answerer.password, "DESCRIBE", url, nonce=made_up)
    data, outcome = _ask(run, channel, header)
    reply = outcome.reply
    if reply is not None and reply.status == Status.OK:
        run.add(
            case,
            data,
            Verdict.FAIL,
            "a right answer to a nonce the server never issued was accepted: its nonces are "
            "not checked, so none ever expires",
            outcome,
        )
        return
    if reply is not None and reply.status == Status.UNAUTHORIZED:
        stale = any(o.stale for o in challenges(reply))
        note = "stale=true" if stale else "without stale=true (a client must ask its user again)"
        run.add(case, data, Verdict.PASS, f"refused: 401 {note}", outcome)
        return
    run.add(case, data, Verdict.WARN, f"answered {_got(outcome)}; expected 401", outcome)


def _user_leak(
    run: Battery, channel: Channel, offers: list[Offer], answerer: Answerer | None
) -> None:
    case = "auth_user_leak"
    known = answerer.user if answerer is not None else LIKELY_USER
    unknown = "probe-" + secrets.token_hex(6)
    wrong = "not-the-password-" + secrets.token_hex(4)
    scheme = "digest" if any(o.scheme == "digest" and o.answerable for o in offers) else "basic"
    seen = []
    for user in (known, unknown):
        offer = _fresh_offer(run, channel, scheme)
        if offer is None:
            run.add(case, b"", Verdict.SKIP, f"not run: the server offered no {scheme} answer")
            return
        if scheme == "digest":
            header = digest_header(offer, user, wrong, "DESCRIBE", run.target.url)
        else:
            header = basic_header(user, wrong)
        data, outcome = _ask(run, channel, header)
        seen.append((data, outcome, _shape(outcome)))
    (_, _, known_shape), (data, outcome, unknown_shape) = seen
    if known_shape != unknown_shape:
        differences = [k for k in known_shape if known_shape[k] != unknown_shape[k]]
        run.add(
            case,
            data,
            Verdict.FAIL,
            f"a wrong password for {known!r} and an unknown user got different refusals "
            f"({', '.join(differences)}): who exists can be learnt",
            outcome,
        )
        return
    run.add(
        case,
        data,
        Verdict.PASS,
        f"the same refusal ({_got(outcome)}) for a wrong password of {known!r} and an unknown user",
        outcome,
    )


def _shape(outcome: ProbeExchange) -> dict[str, object]:
    """A reply with what differs between any two replies (nonces, CSeq, dates) left out."""
    reply = outcome.reply
    if reply is None:
        return {"reply": "closed" if outcome.closed else "none"}
    fields = sorted(n.lower() for n, _ in reply.headers if n.lower() not in VOLATILE_HEADERS)
    offers = [
        (o.scheme, sorted((k, v) for k, v in o.params.items() if k not in VOLATILE_PARAMS))
        for o in challenges(reply)
    ]
    return {
        "status": (reply.status, reply.reason),
        "header fields": fields,
        "challenges": offers,
        "body": reply.body,
    }


def _got(outcome: ProbeExchange) -> str:
    if outcome.reply is not None:
        return outcome.reply.head
    return "connection closed" if outcome.closed else (outcome.error or "no reply")
