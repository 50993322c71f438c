"""telephony: SIP calls for voicebot, on pjsua2.

- `settings.SipSettings`: what to listen on, who may call, registration, recording, codecs.
- `server.SipServer(settings, on_call)`: answers calls (one `on_call(transport)` task each) and places
  them (`await server.call(uri)`); `serve()` blocks until SIGINT/SIGTERM or `stop()`.
- `call_transport.SipCallTransport`: one call as a voicebot `Transport` (20 ms 16 kHz frames, DTMF,
  hang-up, blind transfer, stereo recording).
- `caller`: the built-in SIP caller (`python -m telephony.caller URI --play in.wav --record out.wav`).
- `responder`: a stand-in bot for trying the line without the engines (`python -m telephony.responder`).
- `sipp`: sipp scenarios and G.711 pcaps for tests and benchmarks.
Importing this package does not load pjsua2; the modules that need it do.
"""
