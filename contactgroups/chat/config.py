"""How to reach one Chat app: its credentials, address, timeouts, rate and retry settings."""

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from contactgroups.chat import protocol
from contactgroups.chat.ratelimit import STORE_SCHEMES

# Chat's regional API domains (the seed page's seven).
REGION_DOMAINS = {
    "china": "console.tim.qq.com",
    "singapore": "adminapisgp.im.qcloud.com",
    "seoul": "adminapikr.im.qcloud.com",
    "tokyo": "adminapijpn.im.qcloud.com",
    "frankfurt": "adminapiger.im.qcloud.com",
    "silicon-valley": "adminapiusa.im.qcloud.com",
    "jakarta": "adminapiidn.im.qcloud.com",
}

# The most bytes of one answer the client reads (ChatConfig.max_answer_bytes by default); a longer answer is
# refused unread, past this point. The largest answers Chat legitimately sends are pages of get_contact_group and
# get_list. One conversation in them is at most about 2.5 KB: a 256-byte custom mark written with JSON escapes
# (at most 6 characters a byte, 1,536), the 64 characters of the standard mark, the ids of 20 groups (about 420),
# its UserID or group id (escaped, under 300) and the field names (about 120). A page of 1,000 such conversations
# (the most a user can group or mark; Chat documents no page size, and its pages are far shorter) is 2.5 MB, and
# the 20 group names 64 bytes each add a few KB: 4 MiB leaves over half as much again to spare.
MAX_ANSWER_BYTES = 4 * 1024 * 1024
# The longest a call made outside a page (a sync, a pull, a sweep, an import) may take: connecting, sending and
# reading the whole answer, by default (ChatConfig.deadline).
CALL_DEADLINE_SECONDS = 30.0


@dataclass(frozen=True)
class ChatConfig:
    """Everything a ChatClient needs to reach one Chat app.

    ``base_url`` (scheme, host and port, e.g. the sandbox ``http://127.0.0.1:8081``) wins over ``region``.
    ``connect_timeout`` and ``read_timeout`` bound each wait on the socket; ``deadline`` bounds each HTTP attempt
    as a whole, from connecting to the last byte of the answer (an answer dripped a byte at a time included), and
    ``max_answer_bytes`` its answer's length. ``ChatClient.within`` puts one deadline on several calls.
    ``rate_limit`` is calls a second per endpoint; no endpoint goes past its own documented rate
    (``protocol.CALLS_PER_SECOND``: 100 for multiaccount_import and account_check).
    ``rate_limit_storage`` says where calls are counted (``ratelimit``): ``memory://`` in this process,
    ``redis://host:port/db`` (or ``rediss://``, ``unix://``) across processes. The secret key (and the storage
    URI, which may hold a password) never appear in the repr.
    """

    sdkappid: int
    secret_key: str = field(repr=False)
    admin_identifier: str
    region: str | None = None
    base_url: str | None = None
    connect_timeout: float = 3.05
    read_timeout: float = 10.0
    deadline: float = CALL_DEADLINE_SECONDS
    max_answer_bytes: int = MAX_ANSWER_BYTES
    rate_limit: float = protocol.CALLS_PER_SECOND_MAX
    rate_limit_storage: str = field(default="memory://", repr=False)
    # Below 1: a background client, whose calls wait while every caller's calls fill this share of the rate.
    rate_share: float = 1.0
    max_retries: int = 3
    backoff_base: float = 0.2
    usersig_ttl: int = 86400

    def __post_init__(self):
        problems = []
        if isinstance(self.sdkappid, bool) or not isinstance(self.sdkappid, int) or self.sdkappid <= 0:
            problems.append(f"sdkappid must be a positive integer, not {self.sdkappid!r}.")
        if not isinstance(self.secret_key, str) or not self.secret_key:
            problems.append("secret_key must be the app's non-empty secret key.")
        problems += [f"admin_identifier: {m}" for m in protocol.validate_user_id(self.admin_identifier or "")]
        if self.base_url:
            if not self.base_url.startswith(("http://", "https://")):
                problems.append(f"base_url must start with http:// or https://, not {self.base_url!r}.")
        elif self.region:
            if self.region not in REGION_DOMAINS:
                problems.append(f"region {self.region!r} is not one of: {', '.join(REGION_DOMAINS)}.")
        else:
            problems.append(f"Give a region ({', '.join(REGION_DOMAINS)}) or a base_url.")
        if not (self.connect_timeout > 0 and self.read_timeout > 0):
            problems.append("connect_timeout and read_timeout must be positive.")
        if not self.deadline > 0:
            problems.append("deadline must be a positive number of seconds.")
        if isinstance(self.max_answer_bytes, bool) or not isinstance(self.max_answer_bytes, int) \
                or self.max_answer_bytes <= 0:
            problems.append(f"max_answer_bytes must be a positive whole number, not {self.max_answer_bytes!r}.")
        if not self.rate_limit > 0:
            problems.append("rate_limit must be a positive number of calls a second.")
        if urlsplit(self.rate_limit_storage or "").scheme not in STORE_SCHEMES:
            problems.append("rate_limit_storage must be memory:// or a Redis URL (redis://, rediss://, unix://).")
        if not 0 < self.rate_share <= 1:
            problems.append("rate_share must be above 0 and at most 1.")
        if self.max_retries < 0 or self.backoff_base < 0:
            problems.append("max_retries and backoff_base cannot be negative.")
        if self.usersig_ttl <= 0:
            problems.append("usersig_ttl must be a positive number of seconds.")
        if problems:
            raise ValueError("Invalid Chat configuration: " + " ".join(problems))

    @property
    def api_base(self) -> str:
        """``scheme://host[:port]`` that the endpoint paths are appended to."""
        if self.base_url:
            return self.base_url.rstrip("/")
        return f"https://{REGION_DOMAINS[self.region]}"

    def endpoint_url(self, endpoint: str) -> str:
        """The URL of ``endpoint`` without its query string."""
        return f"{self.api_base}/v4/{endpoint}"

    def rate_for(self, endpoint: str) -> float:
        """Calls a second allowed to ``endpoint``: the configured rate, capped at the endpoint's documented one."""
        documented = protocol.CALLS_PER_SECOND.get(endpoint, protocol.CALLS_PER_SECOND_MAX)
        return min(self.rate_limit, documented)
