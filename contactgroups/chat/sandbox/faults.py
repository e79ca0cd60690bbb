"""The faults the sandbox injects on purpose (drops, timeouts, HTTP errors, error codes, latency, a rate limit, answers
whose headers or body are dripped slowly, answers padded huge)."""

from dataclasses import asdict, dataclass, replace

from contactgroups.chat import errors, protocol
from contactgroups.chat.sandbox.parsing import is_int

DEFAULT_TIMEOUT_SECONDS = 30.0
# The most padding an answer can be given: enough for any cap a client may set, little enough for a test machine.
PAD_BYTES_MAX = 256 * 1024 * 1024

FAULT_DROP = "drop"
FAULT_TIMEOUT = "timeout"
FAULT_HTTP_ERROR = "http_error"
FAULT_FAIL = "fail"


@dataclass(frozen=True)
class Faults:
    """What the sandbox does wrong on purpose; docs/sandbox.md describes each field."""

    latency_ms: float = 0
    fail_rate: float = 0.0
    fail_codes: tuple[int, ...] = ()
    fail_info: str = ""
    timeout_rate: float = 0.0
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    drop_rate: float = 0.0
    http_error_rate: float = 0.0
    ambiguous: bool = False
    endpoints: tuple[str, ...] = ()
    max_faults: int | None = None
    rate_limit: int = 0
    drip_bytes_per_second: float = 0
    drip_headers_bytes_per_second: float = 0
    pad_bytes: int = 0

    RATES = ("drop_rate", "timeout_rate", "http_error_rate", "fail_rate")

    def updated(self, changes: dict) -> "Faults":
        """A copy with ``changes`` applied, or ValueError naming the first bad field."""
        known = {name for name in self.__dataclass_fields__} | {"seed"}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(unknown)}")
        values = {name: value for name, value in changes.items() if name != "seed"}
        for name in (*self.RATES, "latency_ms", "timeout_seconds"):
            if name in values:
                value = values[name]
                if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                    raise ValueError(f"{name} must be a number, 0 or more")
                if name in self.RATES and value > 1:
                    raise ValueError(f"{name} must be between 0 and 1")
        if "fail_codes" in values:
            codes = values["fail_codes"]
            if not isinstance(codes, list | tuple) or not all(is_int(code) and code != errors.OK for code in codes):
                raise ValueError("fail_codes must be a list of non-zero integer codes")
            values["fail_codes"] = tuple(codes)
        if "fail_info" in values and not isinstance(values["fail_info"], str):
            raise ValueError("fail_info must be a string")
        if "endpoints" in values:
            names = values["endpoints"]
            if not isinstance(names, list | tuple) or not all(name in protocol.ENDPOINTS for name in names):
                raise ValueError(f"endpoints must list names from: {', '.join(protocol.ENDPOINTS)}")
            values["endpoints"] = tuple(names)
        if "ambiguous" in values and not isinstance(values["ambiguous"], bool):
            raise ValueError("ambiguous must be true or false")
        if "max_faults" in values and values["max_faults"] is not None:
            if not is_int(values["max_faults"]) or values["max_faults"] < 0:
                raise ValueError("max_faults must be an integer, 0 or more, or null")
        if "rate_limit" in values and (not is_int(values["rate_limit"]) or values["rate_limit"] < 0):
            raise ValueError("rate_limit must be an integer, 0 or more")
        for name in ("drip_bytes_per_second", "drip_headers_bytes_per_second"):
            value = values.get(name, 0)
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1e9:
                raise ValueError(f"{name} must be a number, 0 or more")
        if "pad_bytes" in values and (not is_int(values["pad_bytes"]) or not 0 <= values["pad_bytes"] <= PAD_BYTES_MAX):
            raise ValueError(f"pad_bytes must be an integer from 0 to {PAD_BYTES_MAX}")
        if "seed" in changes and not is_int(changes["seed"]):
            raise ValueError("seed must be an integer")
        result = replace(self, **values)
        if sum(getattr(result, name) for name in self.RATES) > 1:
            raise ValueError(f"{', '.join(self.RATES)} together must not exceed 1")
        return result

    def rate_for(self, endpoint: str) -> int:
        """Calls a second allowed to ``endpoint``: ``rate_limit``, never above the endpoint's documented rate."""
        if not self.rate_limit:
            return 0
        return min(self.rate_limit, protocol.CALLS_PER_SECOND.get(endpoint, protocol.CALLS_PER_SECOND_MAX))

    def touches(self, endpoint: str) -> bool:
        return not self.endpoints or endpoint in self.endpoints

    def shapes_answer(self, endpoint: str, exempt: bool) -> bool:
        """Whether the answer to a call of ``endpoint`` is dripped or padded (never for the end user's app)."""
        shaping = self.drip_bytes_per_second or self.drip_headers_bytes_per_second or self.pad_bytes
        return bool(shaping) and not exempt and self.touches(endpoint)

    def as_dict(self) -> dict:
        document = asdict(self)
        document["fail_codes"] = list(self.fail_codes)
        document["endpoints"] = list(self.endpoints)
        return document
