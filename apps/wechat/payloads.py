"""Reading callback XML safely. WeChat's XML is flat: <xml><Field>value</Field>...</xml>.

defusedxml refuses DTDs and entities, so XXE and entity-expansion payloads fail cleanly
instead of reading files or eating memory.
"""

from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from apps.wechat.crypto import BadPayload


def xml_fields(body: bytes | str) -> dict[str, str]:
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise BadPayload(f"unreadable XML: {type(exc).__name__}") from exc
    if root.tag != "xml":
        raise BadPayload("root element is not <xml>")
    return {child.tag: child.text or "" for child in root}
