"""pjsua2 objects for one call: the `BotCall` (signalling callbacks) and its `MediaPort` (20 ms audio).

Both forward to a `CallListener` (the call's `SipCallTransport`). Call callbacks run on the pjsip thread;
`MediaPort` callbacks run on the conference bridge's clock thread, which serves every call in the
process every 20 ms: they only move bytes (ctypes, no SWIG walk) and never block. Every callback body is
wrapped: an exception escaping into pjsip leaves the call mute or the process dead.
"""

from __future__ import annotations

import logging
from typing import Protocol

import pjsua2 as pj

from telephony import framebuf
from telephony.endpoint import SipEndpoint
from telephony.pjlog import log_exception

log = logging.getLogger(__name__)

_AUDIO = pj.PJMEDIA_FRAME_TYPE_AUDIO
_NONE = pj.PJMEDIA_FRAME_TYPE_NONE
FRAME_BYTES = 640  # 20 ms at 16 kHz s16: the bridge's clock rate (see endpoint)
_DTMF_METHODS = {pj.PJSUA_DTMF_METHOD_RFC2833: "rfc2833", pj.PJSUA_DTMF_METHOD_SIP_INFO: "info"}


class CallListener(Protocol):
    # pjsip thread
    def on_state(self, state: int, code: int, reason: str) -> None: ...
    def on_media(self, active: bool) -> None: ...
    def on_dtmf(self, digit: str, method: str) -> None: ...
    def on_transfer_status(self, code: int, reason: str, final: bool) -> None: ...
    def on_transfer_request(self, target: str) -> BotCall | None: ...

    # clock thread: must return within microseconds
    def bot_frame(self) -> bytes | None: ...
    def caller_frame(self, pcm: bytes | None) -> None: ...


class MediaPort(pj.AudioMediaPort):
    """Our end of the conference bridge for one call: 16 kHz mono s16, 20 ms frames."""

    def __init__(self, listener: CallListener) -> None:
        super().__init__()
        self.listener: CallListener | None = listener
        self.errors = 0
        fmt = pj.MediaFormatAudio()
        fmt.init(pj.PJMEDIA_FORMAT_PCM, 16000, 1, 20000, 16)
        self.createPort("voicebot", fmt)

    def onFrameRequested(self, frame: pj.MediaFrame) -> None:  # noqa: N802 - pjsua2 name
        try:
            listener = self.listener
            pcm = listener.bot_frame() if listener is not None else None
            if pcm is not None and len(pcm) == FRAME_BYTES:
                frame.type = _AUDIO
                framebuf.write(frame.buf, pcm)
                frame.size = FRAME_BYTES
            else:
                frame.type = _NONE  # the bridge sends silence
        except Exception:
            self._error("onFrameRequested")

    def onFrameReceived(self, frame: pj.MediaFrame) -> None:  # noqa: N802 - pjsua2 name
        try:
            listener = self.listener
            if listener is None:
                return
            pcm = framebuf.read(frame.buf) if frame.type == _AUDIO else None
            listener.caller_frame(pcm if pcm and len(pcm) == FRAME_BYTES else None)
        except Exception:
            self._error("onFrameReceived")

    def _error(self, where: str) -> None:
        self.errors += 1
        if self.errors <= 3:  # once per call is enough to diagnose; 50/s would flood the log
            log_exception(log, "%s", where)


class BotCall(pj.Call):
    """One SIP dialog. Lives on the pjsip thread; the endpoint frees it there after DISCONNECTED."""

    def __init__(
        self,
        endpoint: SipEndpoint,
        account: pj.Account,
        listener: CallListener | None,
        call_id: int = pj.PJSUA_INVALID_ID,
    ) -> None:
        super().__init__(account, call_id)
        self.endpoint = endpoint
        self.listener: CallListener | None = listener
        self.port: MediaPort | None = None
        self.audio: pj.AudioMedia | None = None
        self.media_index = -1
        self.released = False
        if call_id != pj.PJSUA_INVALID_ID:
            endpoint.live_calls[call_id] = self

    def track(self) -> None:
        """Register an outgoing call once makeCall gave it an id."""
        self.endpoint.live_calls[self.getId()] = self

    # --- pjsua2 callbacks (pjsip thread) -----------------------------------------------------------
    def onCallState(self, prm: pj.OnCallStateParam) -> None:  # noqa: N802
        try:
            ci = self.getInfo()
            if ci.state != pj.PJSIP_INV_STATE_DISCONNECTED:
                self.endpoint.live_calls.setdefault(ci.id, self)  # e.g. a call pjsua made for a REFER
            if self.listener is not None:
                self.listener.on_state(ci.state, ci.lastStatusCode, ci.lastReason)
            if ci.state == pj.PJSIP_INV_STATE_DISCONNECTED:
                self.listener = None  # told already
                self.release()
                self.endpoint.live_calls.pop(ci.id, None)
                self.endpoint.drop_later(self)  # deleting a pj.Call inside its own callback is unsafe
        except Exception:
            log_exception(log, "onCallState")

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:  # noqa: N802
        try:
            ci = self.getInfo()
            active = False
            for i, m in enumerate(ci.media):
                if m.type == pj.PJMEDIA_TYPE_AUDIO and m.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                    self._connect(i)
                    active = True
                    break
            if self.listener is not None:
                self.listener.on_media(active)
        except Exception:
            log_exception(log, "onCallMediaState")

    def onDtmfDigit(self, prm: pj.OnDtmfDigitParam) -> None:  # noqa: N802
        try:
            if self.listener is not None:
                self.listener.on_dtmf(prm.digit, _DTMF_METHODS.get(prm.method, str(prm.method)))
        except Exception:
            log_exception(log, "onDtmfDigit")

    def onCallTransferStatus(self, prm: pj.OnCallTransferStatusParam) -> None:  # noqa: N802
        try:
            if self.listener is not None:
                self.listener.on_transfer_status(prm.statusCode, prm.reason, bool(prm.finalNotify))
        except Exception:
            log_exception(log, "onCallTransferStatus")

    def onCallTransferRequest(self, prm: pj.OnCallTransferRequestParam) -> None:  # noqa: N802
        try:
            new = self.listener.on_transfer_request(prm.dstUri) if self.listener is not None else None
            if new is None:
                prm.statusCode = 603  # Decline: a bot's callers do not get to move it elsewhere
            else:
                prm.newCall = new
        except Exception:
            prm.statusCode = 500
            log_exception(log, "onCallTransferRequest")

    # --- media ------------------------------------------------------------------------------------
    def _connect(self, index: int) -> None:
        if self.port is None:
            self.port = MediaPort(self.listener)  # type: ignore[arg-type]
        # Wire (again) on every activation: after hold/resume or a codec change pjsua may rebuild the
        # stream, possibly under the same conference slot, and the old connections are gone with it.
        # Connecting an existing pair is a no-op for the bridge.
        self.media_index = index
        self.audio = self.getAudioMedia(index)
        self.audio.startTransmit(self.port)
        self.port.startTransmit(self.audio)

    def rx_stats(self) -> dict[str, int]:
        """Receive-side counters of the audio stream: RTP packets, and what the jitter buffer did."""
        if self.media_index < 0 or self.released:
            return {"packets": 0}
        try:
            st = self.getStreamStat(self.media_index)
        except pj.Error:
            return {"packets": 0}
        rx, jb = st.rtcp.rxStat, st.jbuf
        return {"packets": int(rx.pkt), "lost": int(rx.loss), "jb_lost": int(jb.lost),
                "jb_discard": int(jb.discard), "jb_empty": int(jb.empty), "jb_avg_ms": int(jb.avgDelayMsec)}

    def codec(self) -> str:
        if self.media_index < 0 or self.released:
            return ""
        try:
            return self.getStreamInfo(self.media_index).codecName
        except pj.Error:
            return ""

    def release(self) -> None:
        """Disconnect and free the media port now, on the pjsip thread, before any GC gets to it."""
        if self.released:
            return
        self.released = True
        port, self.port = self.port, None
        listener, self.listener = self.listener, None
        if listener is not None:  # torn down without a DISCONNECTED (SIP stack stopping): say so
            try:
                listener.on_state(pj.PJSIP_INV_STATE_DISCONNECTED, 0, "SIP stack stopped")
            except Exception:
                log_exception(log, "release")
        if port is None:
            return
        port.listener = None  # the clock thread may still tick once: make it a no-op
        for a, b in ((self.audio, port), (port, self.audio)):
            if a is not None and b is not None:
                try:
                    a.stopTransmit(b)
                except pj.Error:
                    pass  # the stream is already gone with the call
        self.audio = None
        pj.AudioMediaPort.__swig_destroy__(port)
