"""SIP URIs without pjsua2: is this something we can call, and who is calling (the caller ID).

Pure text, so the command line can check a URI before it loads the engines, and the settings can check
a registrar before the SIP stack starts.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')  # a display name, which may itself look like a URI
_ANGLE = re.compile(r"<([^>]*)>")
_SCHEME = re.compile(r"^\s*(sips?|tel):(.*)$", re.IGNORECASE)
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_HOST = rf"(?:\[[0-9A-Fa-f:.]+\]|{_LABEL}(?:\.{_LABEL})*\.?)"
_USER = r"[A-Za-z0-9\-_.!~*'()&=+$,;?/%]+"
_CALLABLE = re.compile(rf"^sips?:(?:{_USER}(?::[^@\s<>\"]*)?@)?{_HOST}(?::\d{{1,5}})?(?:;[^\s<>\"?]*)?(?:\?\S*)?$",
                       re.IGNORECASE)
USER_PART = re.compile(rf"^{_USER}$")


def check_uri(uri: str, what: str = "uri") -> str:
    """`uri` stripped, if it is a sip:/sips: URI with a host; else SipConfigError naming `what`."""
    from telephony.settings import SipConfigError  # settings checks URIs with this module: import late

    text = (uri or "").strip() if isinstance(uri, str) else ""
    if not _CALLABLE.match(text):
        raise SipConfigError(f"{what}: {uri!r} is not a SIP URI (e.g. sip:alice@192.0.2.10:5060)")
    return text


def uri_user(uri: str) -> str | None:
    """The user (number) of a SIP/tel URI or name-addr, else its host: what the CRM looks up.

    '"Alice" <sip:+15551234@pbx;user=phone>' -> '+15551234'; '<tel:+15551234>' -> '+15551234';
    'sip:%2B15551234@h' -> '+15551234'; 'sip:[2001:db8::1]:5060' -> '2001:db8::1'.
    """
    text = _QUOTED.sub("", uri or "")
    m = _ANGLE.search(text)
    m = _SCHEME.match(m.group(1) if m else text)
    if not m:
        return None
    scheme, rest = m.group(1).lower(), m.group(2).strip()
    if scheme == "tel":
        number = unquote(re.split(r"[;?]", rest, maxsplit=1)[0])
        return number or None
    head = rest.split("?", 1)[0]
    if "@" in head:
        user = head.rsplit("@", 1)[0].split(":", 1)[0]  # user[:password]@host
        return unquote(user) or None
    if head.startswith("["):
        host = head[1:].split("]", 1)[0]
    else:
        host = re.split(r"[:;]", head, maxsplit=1)[0]
    return host or None
