"""The SIP account: our identity, optional registration, and the door incoming calls come through."""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import urlsplit

import pjsua2 as pj

from telephony.endpoint import SipEndpoint
from telephony.pjlog import log_exception
from telephony.settings import SipSettings

log = logging.getLogger(__name__)

# (pjsua call id, source "ip:port" of the INVITE) -> None; runs on the pjsip thread
IncomingHandler = Callable[[int, str], None]


class BotAccount(pj.Account):
    def __init__(self, on_incoming: IncomingHandler, live_calls: dict[int, object]) -> None:
        super().__init__()
        self._on_incoming = on_incoming
        self._live_calls = live_calls  # the endpoint's: call id -> BotCall
        self.reg_status: tuple[int, str] | None = None  # last REGISTER outcome, None = never tried

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:  # noqa: N802 - pjsua2 name
        try:
            self._on_incoming(prm.callId, prm.rdata.srcAddress)
        except Exception:
            log_exception(log, "onIncomingCall")
            if prm.callId in self._live_calls:
                return  # the handler's BotCall owns the call (and its user data): it answers or frees it
            try:  # never leave an INVITE unanswered
                call = pj.Call(self, prm.callId)
                op = pj.CallOpParam()
                op.statusCode = 500
                call.hangup(op)
            except pj.Error:
                pass

    def onRegState(self, prm: pj.OnRegStateParam) -> None:  # noqa: N802 - pjsua2 name
        try:
            self.reg_status = (prm.code, prm.reason)
            ok = 200 <= prm.code < 300
            log.log(logging.INFO if ok else logging.WARNING, "registration: %d %s", prm.code, prm.reason)
        except Exception:
            log_exception(log, "onRegState")


def account_uri(settings: SipSettings, port: int) -> str:
    """Our own SIP URI: the registered AOR when registering, else user@our address."""
    user = settings.username or "voicebot"
    if settings.registrar:
        host = urlsplit(settings.registrar.replace(":", "://", 1)).netloc or settings.registrar
        return f"sip:{user}@{host}"
    host = settings.public_address or settings.bind
    host = f"[{host}]" if ":" in host else host
    scheme = "sips" if settings.transport == "tls" else "sip"
    suffix = "" if settings.transport == "udp" else f";transport={settings.transport}"
    return f"{scheme}:{user}@{host}:{port}{suffix}"


def create_gate_account(endpoint: SipEndpoint, on_incoming: IncomingHandler) -> BotAccount:
    """The account refused INVITEs are steered to (admission.py): its calls get loopback media, so
    refusing them opens no socket. Call on the pjsip thread."""
    host = endpoint.settings.bind
    cfg = pj.AccountConfig()
    cfg.idUri = f"sip:refused@{f'[{host}]' if ':' in host else host}:{endpoint.port}"
    cfg.sipConfig.transportId = endpoint.transport_id
    cfg.regConfig.registerOnAdd = False
    cfg.mediaConfig.useLoopMedTp = True
    acc = BotAccount(on_incoming, endpoint.live_calls)
    acc.create(cfg, False)
    endpoint.accounts.append(acc)
    return acc


def create_account(endpoint: SipEndpoint, on_incoming: IncomingHandler) -> BotAccount:
    """Create and add the account. Call on the pjsip thread."""
    s = endpoint.settings
    cfg = pj.AccountConfig()
    cfg.idUri = account_uri(s, endpoint.port)
    cfg.sipConfig.transportId = endpoint.transport_id
    if s.username and s.password:  # also answers a proxy's 407 on outgoing calls
        cfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", s.realm, s.username, 0, s.password))
    if s.registrar:
        cfg.regConfig.registrarUri = s.registrar
        cfg.regConfig.registerOnAdd = True
    else:
        cfg.regConfig.registerOnAdd = False
    cfg.mediaConfig.transportConfig.boundAddress = s.bind
    if s.public_address:
        cfg.mediaConfig.transportConfig.publicAddress = s.public_address
    acc = BotAccount(on_incoming, endpoint.live_calls)
    acc.create(cfg, True)
    endpoint.accounts.append(acc)
    return acc
