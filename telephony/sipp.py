"""sipp (Debian `sip-tester`) as a real SIP peer for tests and benchmarks: scenarios, RTP pcaps, a runner.

sipp replays RTP from pcap files, so `write_rtp_pcap` turns any 8 kHz PCM into a G.711 RTP stream (the
Debian pcaps are fixed 8 s recordings) and `write_pcap` writes any timed RTP packets. Scenarios are built
as text so each test states the SDP and the responses it expects; `run_sipp` runs one sipp process
bounded in time, in a scratch directory.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from telephony import g711

SIPP = shutil.which("sipp")
DEBIAN_PCAPS = Path("/usr/share/sip-tester")

# --- pcap ----------------------------------------------------------------------------------------------


def _ip_checksum(header: bytes) -> int:
    s = sum(struct.unpack("!10H", header))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def write_pcap(path: str | Path, records: list[tuple[float, bytes]]) -> None:
    """A classic pcap of UDP datagrams (10.0.0.1:40000 -> 10.0.0.2:6000), each (seconds, payload): sipp
    replays the payloads (RTP) at those offsets."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]  # Ethernet link type
    for n, (at, payload) in enumerate(records):
        udp = struct.pack("!HHHH", 40000, 6000, 8 + len(payload), 0) + payload
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), n & 0xFFFF, 0, 64, 17, 0,
                         socket.inet_aton("10.0.0.1"), socket.inet_aton("10.0.0.2"))
        ip = ip[:10] + struct.pack("!H", _ip_checksum(ip)) + ip[12:]
        frame = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + udp
        usec = round(at * 1_000_000)
        out.append(struct.pack("<IIII", usec // 1_000_000, usec % 1_000_000, len(frame), len(frame)) + frame)
    Path(path).write_bytes(b"".join(out))


def rtp_packet(pt: int, seq: int, ts: int, ssrc: int, payload: bytes, marker: bool = False) -> bytes:
    return struct.pack("!BBHII", 0x80, pt | (0x80 if marker else 0), seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + payload


def write_rtp_pcap(path: str | Path, pcm8k: np.ndarray, codec: str = "PCMA", ssrc: int = 0x1234,
                   first_seq: int = 0) -> None:
    """Write 8 kHz int16 audio as a 20 ms G.711 RTP stream in a pcap sipp can replay. sipp sends the
    RTP headers as they are: a second pcap in the same call needs a later `first_seq` (the receiver
    drops packets whose sequence and timestamp went backwards)."""
    pt = g711.PAYLOAD_TYPES[codec]
    payload = g711.ENCODE[pt](pcm8k)
    records = []
    for n, off in enumerate(range(0, len(payload) - 159, 160)):
        seq = first_seq + n
        records.append((n * 0.02, rtp_packet(pt, seq, seq * 160, ssrc, payload[off:off + 160], marker=n == 0)))
    write_pcap(path, records)


# --- scenarios -----------------------------------------------------------------------------------------

_HDR = """Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:[field0]@[local_ip]:[local_port]>;tag=[pid]SIPpTag[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>{to_tag}
      Call-ID: [call_id]
      CSeq: {cseq} {method}
      Contact: <sip:sipp@[local_ip]:[local_port]>
      Max-Forwards: 70"""


def request(method: str, cseq: int, body: str = "", ctype: str = "", to_tag: bool = True,
             retrans: bool = True, routed: bool = False) -> str:
    """One request. `routed`: an in-dialog request through a proxy (Record-Route was saved with rrs)."""
    hdr = _HDR.format(to_tag="[peer_tag_param]" if to_tag else "", cseq=cseq, method=method)
    extra = f"\n      Content-Type: {ctype}" if ctype else ""
    if routed:
        extra += "\n      [routes]"
    attr = ' retrans="500"' if retrans else ""
    target = "[next_url]" if routed else "sip:[service]@[remote_ip]:[remote_port]"
    return (f"""  <send{attr}><![CDATA[
      {method} {target} SIP/2.0
      {hdr}{extra}
      Content-Length: [len]

{body}]]></send>
""")


def sdp(payloads: dict[int, str], dtmf: bool = True, direction: str = "sendrecv", version: int = 1) -> str:
    """An audio offer; `payloads` maps RTP payload type -> rtpmap (e.g. {8: "PCMA/8000"})."""
    pts = list(payloads) + ([101] if dtmf else [])
    lines = [f"a=rtpmap:{pt} {m}" for pt, m in payloads.items()]
    if dtmf:
        lines += ["a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-15"]
    return "\n".join(
        ["v=0", f"o=sipp 1 {version} IN IP4 [local_ip]", "s=-", "c=IN IP4 [local_ip]", "t=0 0",
         f"m=audio [auto_media_port] RTP/AVP {' '.join(map(str, pts))}", *lines, f"a={direction}", ""]
    )


def uac(steps: list[str], offer: str | None = None, expect: int = 200, proxy: bool = False) -> str:
    """A UAC scenario: INVITE with `offer`, expect `expect`; if 200, ACK, run `steps`, send BYE.
    `proxy`: the call goes through a record-routing proxy (ACK and BYE follow the route set)."""
    offer = offer if offer is not None else sdp({8: "PCMA/8000", 0: "PCMU/8000"})
    parts = [request("INVITE", 1, offer, "application/sdp", to_tag=False),
             '  <recv response="100" optional="true"/>\n',
             '  <recv response="180" optional="true"/>\n']
    if expect != 200:
        parts.append(f'  <recv response="{expect}"/>\n')
        parts.append("""  <send><![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      [last_From:]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

]]></send>
""")
    else:
        rrs = ' rrs="true"' if proxy else ""
        parts.append(f'  <recv response="200" rtd="true"{rrs}/>\n')
        parts.append(request("ACK", 1, retrans=False, routed=proxy))
        parts.extend(steps)
        if not any("BYE" in s and "recv" in s for s in steps):
            parts.append(request("BYE", 9, routed=proxy))
            parts.append('  <recv response="200"/>\n')
    return '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="voicebot">\n' + "".join(parts) + \
        "</scenario>\n"


def play(pcap: str | Path, wait_ms: int) -> str:
    return f"""  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>
  <pause milliseconds="{wait_ms}"/>
"""


def pause(ms: int) -> str:
    return f'  <pause milliseconds="{ms}"/>\n'


def reinvite(cseq: int, offer: str) -> str:
    """A re-INVITE inside the call (hold: an offer with a=sendonly; resume: a=sendrecv), then ACK."""
    return (request("INVITE", cseq, offer, "application/sdp") + '  <recv response="100" optional="true"/>\n'
            + '  <recv response="200"/>\n' + request("ACK", cseq, retrans=False))


def info_dtmf(digit: str, cseq: int) -> str:
    return request("INFO", cseq, f"Signal={digit}\nDuration=160\n", "application/dtmf-relay") + \
        '  <recv response="200"/>\n'


OK_TO_LAST = """  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

]]></send>
"""


def expect_bye(timeout_ms: int) -> str:
    """Wait for the other side to hang up and confirm it."""
    return f'  <recv request="BYE" timeout="{timeout_ms}"/>\n' + OK_TO_LAST


# --- running sipp --------------------------------------------------------------------------------------


@dataclass
class SippResult:
    returncode: int
    out: str
    errors: str  # sipp's error log: unexpected messages, timeouts
    collected: str = ""  # content of the files matching run_sipp's `collect` glob (e.g. "*_rtt.csv")

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def free_port(host: str = "127.0.0.1", kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


async def run_sipp(target: str | None, scenario: str | None = None, *, builtin: str | None = None,
                   local_ip: str = "127.0.0.1", local_port: int = 0, calls: int = 1, limit: int = 1,
                   rate: float = 10.0,
                   timeout_s: float = 30.0, service: str = "bot", user: str = "sipp",
                   extra: tuple[str, ...] = (), collect: str | None = None) -> SippResult:
    """Run sipp against `target` ("ip:port"; None for a UAS) until `calls` calls are done or `timeout_s`
    passed. `scenario` is scenario XML text; `builtin` names one of sipp's own (uac, uas, uac_pcap)."""
    if SIPP is None:
        raise RuntimeError("sipp is not installed (Debian package sip-tester)")
    with tempfile.TemporaryDirectory(prefix="sipp-") as tmp:
        work = Path(tmp)
        (work / "pcap").symlink_to(DEBIAN_PCAPS)  # the built-in uac_pcap wants ./pcap/g711a.pcap
        (work / "users.csv").write_text(f"SEQUENTIAL\n{user};\n")
        sip_port = local_port or free_port(local_ip)
        args = [SIPP, *([target] if target else []), "-i", local_ip, "-p", str(sip_port),
                "-mp", str(free_port(local_ip) & ~1), "-m", str(calls), "-l", str(limit), "-r", str(rate),
                "-s", service, "-inf", "users.csv", "-nostdin", "-trace_err", "-error_file", "err.log",
                "-timeout", f"{int(timeout_s)}s", "-timeout_error",
                "-recv_timeout", f"{int(timeout_s * 1000)}",
                *extra]
        if scenario is not None:
            (work / "scenario.xml").write_text(scenario)
            args += ["-sf", "scenario.xml"]
        else:
            args += ["-sn", builtin or "uac"]
        proc = await asyncio.create_subprocess_exec(*args, cwd=work, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.STDOUT)
        try:
            try:
                out, _ = await asyncio.wait_for(proc.communicate(), timeout_s + 10)
            except TimeoutError:
                proc.kill()
                out, _ = await proc.communicate()
        finally:  # also when the test gave up on us (cancelled): never leave sipp running
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        err = work / "err.log"
        found = sorted(work.glob(collect)) if collect else []
        collected = "".join(p.read_text(errors="replace") for p in found)
        return SippResult(proc.returncode or 0, out.decode(errors="replace")[-4000:],
                          err.read_text(errors="replace")[-4000:] if err.exists() else "", collected)


def uas_reply(status: str, headers: str, body: str = "") -> str:
    """A UAS's `<send>` of a response to the last request: `headers` (newline-separated) after the dialog's
    own, then `body`."""
    return f"""  <send><![CDATA[
      SIP/2.0 {status}
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      {headers}
      Content-Length: {"[len]" if body else "0"}

{body}]]></send>
"""


def registrar(password: str, realm: str = "voicebot.test") -> str:
    """A UAS scenario acting as a registrar: challenge, check the digest against `password`, answer 200
    (or 403), then accept the un-REGISTER sent at shutdown."""
    def reply(status: str, extra: str = "") -> str:
        return uas_reply(status, "[last_Contact:]" + extra)
    challenge = f'\n      WWW-Authenticate: Digest realm="{realm}", nonce="5f1a2b3c4d", algorithm=MD5'
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="registrar">
  <recv request="REGISTER"/>
{reply("401 Unauthorized", challenge)}  <recv request="REGISTER">
    <action>
      <ereg regexp="username=\\"([^\\"]+)\\"" search_in="hdr" header="Authorization:" assign_to="junk,user"/>
      <verifyauth assign_to="authok" username="[$user]" password="{password}"/>
      <log message="REGISTER auth [$junk]"/>
    </action>
  </recv>
  <nop hide="true" test="authok" next="good"/>
{reply("403 Forbidden")}  <nop hide="true" next="end"/>
  <label id="good"/>
{reply("200 OK", chr(10) + "      Expires: 300")}  <recv request="REGISTER" timeout="15000"/>
{reply("200 OK")}  <label id="end"/>
</scenario>
"""


def slow_uas(ring_ms: int) -> str:
    """A UAS (e.g. a human agent) that rings for `ring_ms` before answering with PCMU, then waits for the BYE."""
    def reply(status: str, body: str = "") -> str:
        ctype = "\n      Content-Type: application/sdp" if body else ""
        return uas_reply(status, "Contact: <sip:[local_ip]:[local_port];transport=[transport]>" + ctype, body)
    answer = sdp({0: "PCMU/8000"}, dtmf=False)
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="slow agent">
  <recv request="INVITE"/>
{reply("180 Ringing")}  <pause milliseconds="{ring_ms}"/>
{reply("200 OK", answer)}  <recv request="ACK"/>
  <recv request="BYE"/>
{OK_TO_LAST}</scenario>
"""
