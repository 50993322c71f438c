"""SIP settings: one dataclass, checked once so a bad value fails at start-up with a one-line reason."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from telephony.uri import USER_PART, check_uri

SUPPORTED_CODECS = ("G722", "PCMU", "PCMA")  # what the pjsua2 wheel has that a phone network speaks
TRANSPORTS = ("udp", "tcp", "tls")
PJSUA_MAX_CALLS = 4  # compiled into the pjsua2 wheel: the 5th INVITE gets 486 whatever we configure
MAX_CALL_RATE = 15.0  # a flood at 25 new calls/s crashed pjsua's 64-slot ioqueue, 20/s held: see admission.py


_KINDS = {"str": (str,), "int": (int,), "float": (int, float), "None": (type(None),), "tuple": (tuple, list)}
_KIND_NAMES = {(str,): "text", (int,): "a whole number", (int, float): "a number", (tuple, list): "a list",
               (str, type(None)): "text"}


def _kinds(annotation: str) -> tuple[type, ...]:
    """The runtime types a field's annotation ("str | None", "tuple[str, ...]") accepts."""
    kinds: list[type] = []
    for part in annotation.split("|"):
        kinds.extend(_KINDS[part.strip().split("[", 1)[0]])
    return tuple(dict.fromkeys(kinds))


class SipConfigError(ValueError):
    """A SIP setting that cannot work; the message names the setting and what is wrong."""


class SipStartError(RuntimeError):
    """The SIP side could not start or stopped (port in use, bad certificate, a worker exited, ...): one
    line saying why."""


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
    record_dir: str | None = None  # created if missing; stored as an absolute path
    tls_cert: str | None = None
    tls_key: str | None = None
    # CA bundle (PEM). Set: TLS peers must present a certificate it signed, callers and called parties alike
    # (mutual TLS, as a SIP trunk does it). Unset: TLS encrypts but does not check who is at the other end.
    tls_ca: str | None = None
    codecs: tuple[str, ...] = SUPPORTED_CODECS
    user_agent: str = "voicebot"
    log_level: int = 1  # pjsip's own log level routed to logging ("pjsip"); 0 = silent, 5 = SIP messages
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if isinstance(self.allowed_networks, str):
            raise SipConfigError("allowed_networks: give a list of CIDRs, not one string")
        for f in fields(self):
            if not f.init:
                continue
            kinds, value = _kinds(str(f.type)), getattr(self, f.name)
            if value == "" and type(None) in kinds:  # `record_dir = ""` in a TOML file means "not set"
                object.__setattr__(self, f.name, None)
                continue
            if not isinstance(value, kinds) or isinstance(value, bool):
                raise SipConfigError(f"{f.name}: {value!r} should be {_KIND_NAMES.get(kinds, kinds)}")
        try:
            bind = ipaddress.ip_address(self.bind)
        except ValueError:
            raise SipConfigError(f"bind: {self.bind!r} is not an IP address") from None
        if bind.version != 4:
            # the transports and the media sockets are created as IPv4 (pjsua's UDP/TCP/TLS types)
            raise SipConfigError(f"bind: {self.bind!r}: IPv6 is not supported, give an IPv4 address")
        if not 0 <= self.port <= 65535:
            raise SipConfigError(f"port: {self.port} is outside 0..65535")
        if self.transport not in TRANSPORTS:
            raise SipConfigError(f"transport: {self.transport!r} is not one of {', '.join(TRANSPORTS)}")
        if self.transport == "tls":
            for name in ("tls_cert", "tls_key", "tls_ca"):
                path = getattr(self, name)
                if not path and name != "tls_ca":
                    raise SipConfigError(f"{name}: required for transport 'tls'")
                if path and not Path(path).is_file():
                    raise SipConfigError(f"{name}: {path}: no such file")
        if self.registrar:
            check_uri(self.registrar, "registrar")
        if self.username is not None and not USER_PART.match(self.username):
            raise SipConfigError(f"username: {self.username!r} cannot be the user part of a SIP URI "
                                 "(no spaces, @, <, >, quotes)")
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
        if self.record_dir is not None:
            object.__setattr__(self, "record_dir", _writable_dir(self.record_dir))
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


def _writable_dir(path: str) -> str:
    """`path` made absolute and created; a recording that cannot be written must fail at start-up, not drop
    every call (the recorder opens its file when a call starts)."""
    p = Path(path).expanduser().absolute()
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SipConfigError(f"record_dir: {path}: cannot create it ({e.strerror or e})") from None
    if not os.access(p, os.W_OK | os.X_OK):
        raise SipConfigError(f"record_dir: {path}: not writable")
    return str(p)
