"""SIP settings: one dataclass, checked once so a bad value fails at start-up with a one-line reason."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, fields
from pathlib import Path

SUPPORTED_CODECS = ("G722", "PCMU", "PCMA")  # what the pjsua2 wheel has that a phone network speaks
TRANSPORTS = ("udp", "tcp", "tls")
PJSUA_MAX_CALLS = 4  # compiled into the pjsua2 wheel: the 5th INVITE gets 486 whatever we configure
MAX_CALL_RATE = 15.0  # a flood at 25 new calls/s crashed pjsua's 64-slot ioqueue, 20/s held: see admission.py


_TYPES: dict[str, tuple[type, ...]] = {
    "bind": (str,), "port": (int,), "transport": (str,), "realm": (str,), "max_calls": (int,),
    "rtp_timeout_s": (int, float), "max_call_rate": (int, float), "log_level": (int,), "user_agent": (str,),
    "allowed_networks": (tuple, list, str), "codecs": (tuple, list),
    **{k: (str, type(None)) for k in ("public_address", "registrar", "username", "password", "record_dir",
                                      "tls_cert", "tls_key")},
}
_TYPE_NAMES = {(str,): "text", (int,): "a whole number", (int, float): "a number",
               (tuple, list, str): "a list of CIDRs", (tuple, list): "a list", (str, type(None)): "text"}


class SipConfigError(ValueError):
    """A SIP setting that cannot work; the message names the setting and what is wrong."""


@dataclass(frozen=True)
class SipSettings:
    bind: str = "127.0.0.1"
    port: int = 5060  # 0 = any free port (tests); see SipServer.port for the one chosen
    transport: str = "udp"
    public_address: str | None = None  # what to put in Contact/SDP when behind NAT
    registrar: str | None = None  # e.g. "sip:pbx.example.com"; None = no registration
    username: str | None = None
    password: str | None = None
    realm: str = "*"
    allowed_networks: tuple[str, ...] = ("127.0.0.0/8",)
    max_calls: int = PJSUA_MAX_CALLS
    max_call_rate: float = 10.0  # new calls per second (burst as many); more get 503: see admission.py
    rtp_timeout_s: float = 10.0
    record_dir: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    codecs: tuple[str, ...] = SUPPORTED_CODECS
    user_agent: str = "voicebot"
    log_level: int = 1  # pjsip's own log level routed to logging ("pjsip"); 0 = silent, 5 = SIP messages
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for name, kinds in _TYPES.items():
            value = getattr(self, name)
            if not isinstance(value, kinds) or isinstance(value, bool):
                raise SipConfigError(f"{name}: {value!r} should be {_TYPE_NAMES[kinds]}")
        try:
            ipaddress.ip_address(self.bind)
        except ValueError:
            raise SipConfigError(f"bind: {self.bind!r} is not an IP address") from None
        if not 0 <= self.port <= 65535:
            raise SipConfigError(f"port: {self.port} is outside 0..65535")
        if self.transport not in TRANSPORTS:
            raise SipConfigError(f"transport: {self.transport!r} is not one of {', '.join(TRANSPORTS)}")
        if self.transport == "tls":
            for name in ("tls_cert", "tls_key"):
                path = getattr(self, name)
                if not path:
                    raise SipConfigError(f"{name}: required for transport 'tls'")
                if not Path(path).is_file():
                    raise SipConfigError(f"{name}: {path}: no such file")
        if self.registrar and not self.registrar.startswith(("sip:", "sips:")):
            raise SipConfigError(f"registrar: {self.registrar!r} is not a sip: URI")
        if self.registrar and not (self.username and self.password):
            raise SipConfigError("registrar: username and password are required to register")
        if not 1 <= self.max_calls <= PJSUA_MAX_CALLS:
            raise SipConfigError(
                f"max_calls: {self.max_calls} is outside 1..{PJSUA_MAX_CALLS} "
                "(the pjsua2 wheel's limit; run more worker processes for more calls)"
            )
        if not 0 < self.max_call_rate <= MAX_CALL_RATE:
            raise SipConfigError(
                f"max_call_rate: {self.max_call_rate} is outside (0, {MAX_CALL_RATE:g}] new calls per second "
                "(more crashes pjsua's 64-socket ioqueue under a flood)"
            )
        if not self.rtp_timeout_s > 0:
            raise SipConfigError(f"rtp_timeout_s: {self.rtp_timeout_s} must be > 0")
        if not self.codecs:
            raise SipConfigError("codecs: at least one codec is needed")
        for c in self.codecs:
            if c not in SUPPORTED_CODECS:
                raise SipConfigError(f"codecs: {c!r} is not one of {', '.join(SUPPORTED_CODECS)}")
        if isinstance(self.allowed_networks, str):
            raise SipConfigError("allowed_networks: give a list of CIDRs, not one string")
        nets = []
        for cidr in self.allowed_networks:
            try:
                nets.append(ipaddress.ip_network(cidr, strict=False))
            except ValueError:
                raise SipConfigError(f"allowed_networks: {cidr!r} is not a CIDR network") from None
        object.__setattr__(self, "networks", tuple(nets))

    @classmethod
    def from_mapping(cls, values: dict[str, object], **overrides: object) -> SipSettings:
        """Settings from a config section (e.g. TOML `[sip]`): lists become tuples, unknown keys fail."""
        known = {f.name for f in fields(cls) if f.init}
        merged = {**values, **{k: v for k, v in overrides.items() if v is not None}}
        unknown = sorted(set(merged) - known)
        if unknown:
            raise SipConfigError(f"{unknown[0]}: not a SIP setting (known: {', '.join(sorted(known))})")
        fixed = {k: tuple(v) if isinstance(v, list) else v for k, v in merged.items()}
        try:
            return cls(**fixed)  # type: ignore[arg-type]
        except TypeError as e:
            raise SipConfigError(str(e).splitlines()[0]) from None

    def allows(self, ip: str) -> bool:
        """Whether a request from source address `ip` may open a call."""
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(addr in n for n in self.networks if n.version == addr.version)
