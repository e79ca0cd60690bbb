"""Keeping the UserSig out of text and logs: redact_usersig, and the filter on urllib3's request lines."""

import logging
import re

_USERSIG_PARAMETER = re.compile(r"(usersig=)[^&\s'\"]+", re.IGNORECASE)
REDACTED = "<redacted>"


def redact_usersig(text: str) -> str:
    """``text`` with the value of any ``usersig=`` query parameter replaced by ``<redacted>``."""
    return _USERSIG_PARAMETER.sub(r"\1" + REDACTED, text)


class _RedactUserSigFilter(logging.Filter):
    """Redacts the UserSig from urllib3's DEBUG lines, which print every request URL."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "usersig=" in message.lower():
            record.msg = redact_usersig(message)
            record.args = ()
        return True


_redact_filter = _RedactUserSigFilter()


def install_log_redaction() -> None:
    """Put the redacting filter on urllib3's loggers (once, however often it is called)."""
    for name in ("urllib3.connectionpool", "urllib3.connection"):
        log = logging.getLogger(name)
        if _redact_filter not in log.filters:
            log.addFilter(_redact_filter)
