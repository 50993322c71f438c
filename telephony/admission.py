"""Which incoming INVITEs get a real media stream: the guard that keeps a call flood from crashing us.

pjsua opens an RTP and an RTCP socket for every incoming INVITE with SDP *before* the application sees
the call, and the pjsua2 wheel's select() ioqueue has 64 slots, each held ~0.5 s after its socket closes.
Measured here: ~300 INVITE/s (a SIP scanner rate) from anywhere, even a network we answer 403, hit
`pj_ioqueue_register_sock2: Assertion !pj_list_empty(&ioqueue->free_list)` and killed the process;
with this gate a 300/s flood of short calls survived at 10, 15 and 20 admitted calls/s, not at 25.
So before pjsua creates media (`Endpoint.onSelectAccount`), each INVITE is sorted:
- "allow": from an allowed network and within the call-rate budget -> the real account;
- "forbidden": source outside `allowed_networks` -> the gate account (loopback media, no socket) -> 403;
- "overload": allowed but over `rate` new calls per second -> the gate account -> 503.
`SipSettings.max_call_rate` (default 10/s, at most 15/s) sets the budget.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from telephony.settings import SipSettings

ALLOW, FORBIDDEN, OVERLOAD = "allow", "forbidden", "overload"


def source_ip(source: str) -> str:
    """The IP of a pjsip source address: "ip:port", "[v6]:port", or a bare IP."""
    if "]" in source or source.count(":") == 1:
        return source.rsplit(":", 1)[0].strip("[]")
    return source


class InviteGate:
    def __init__(self, settings: SipSettings, rate: float, burst: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.rate, self.burst = rate, burst
        self._clock = clock
        self._tokens = burst
        self._last = clock()

    def decide(self, source: str) -> str:
        """Sort one INVITE by its source ("ip:port", "[v6]:port" or a bare IP)."""
        if not self.settings.allows(source_ip(source)):
            return FORBIDDEN
        return ALLOW if self._take() else OVERLOAD

    def _take(self) -> bool:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False
