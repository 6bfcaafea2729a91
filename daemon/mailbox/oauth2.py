"""OAuth2 access tokens for IMAP XOAUTH2 logins (Gmail, Microsoft 365): the refresh-token grant.

`AccessTokens` trades the configured refresh token for an access token at the provider's
token endpoint (RFC 6749 section 6, a form POST over httpx), keeps it in memory, and asks
for a new one shortly before it expires (`token()`) or when the IMAP server refused it
(`refreshed()`). A new refresh token in the answer (Microsoft rotates them) replaces the old
one for the rest of the process's life. Tokens and secrets are never logged.

Errors, translated here from httpx and the endpoint's JSON (RFC 6749 section 5.2):

    invalid_grant                    RefreshTokenRevoked (a ConfigError naming where the
                                     refresh token comes from); `problem` says so until a
                                     refresh succeeds again, for the health check
    invalid_client, unauthorized_client  ConfigError naming imap.oauth2_client_id
    invalid_scope                    ConfigError naming imap.oauth2_scope
    another error code, a 4xx without one  ConfigError naming imap.oauth2_token_url
    connection error, timeout, 5xx, 429, 408  MailboxUnavailable: try again later
    a 2xx that is not a JSON object (garbage, an empty or cut answer)  MailboxUnavailable too:
                                     nothing a person must fix, so never an exit 2 at start-up
    a 2xx JSON object without an access token  ConfigError naming imap.oauth2_token_url (not a
                                     token endpoint)
    no whole answer within the timeout (a trickle), an answer past MAX_ANSWER_BYTES
                                     MailboxUnavailable (the timeout bounds the whole exchange,
                                     and the answer is read no further than the cap)

One `AccessTokens` per configuration lives for the whole process (`tokens_for()`), shared
by the passes' connections and the IDLE watcher; `login_problem()` is what a health check
reads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import httpx

from daemon.ats.bounded import MAX_ANSWER_BYTES, AnswerTooLarge, bound, exchange
from daemon.config import OAuth2Settings
from daemon.errors import ConfigError, MailboxUnavailable

log = logging.getLogger(__name__)
EARLY_SECONDS = 300  # refresh this long before the access token expires (at most half its life)
DEFAULT_LIFETIME = 3600  # when the endpoint does not say (`expires_in` is only RECOMMENDED)
TIMEOUT_SECONDS = 30.0
_CLIENT_ERRORS = ("invalid_client", "unauthorized_client")
_TRANSIENT_STATUSES = (408, 429)


class RefreshTokenRevoked(ConfigError):
    """The provider refused the refresh token (invalid_grant): revoked, expired or for another client."""


class AccessTokens:
    """Access tokens from one refresh token, cached in memory and refreshed before they expire."""

    def __init__(self, settings: OAuth2Settings, *, transport: httpx.BaseTransport | None = None,
                 clock: Callable[[], float] = time.monotonic, timeout: float = TIMEOUT_SECONDS):
        self.settings = settings
        self._refresh_token = settings.refresh_token
        self._transport, self._clock, self._timeout = transport, clock, timeout
        self._lock = threading.Lock()
        self._token = ""
        self._renew_at = 0.0
        self.problem: str | None = None  # why a login cannot work now (a revoked refresh token), else None

    def token(self) -> str:
        """A current access token: the cached one, or a new one when it is about to expire."""
        with self._lock:
            if not self._token or self._clock() >= self._renew_at:
                self._refresh()
            return self._token

    def refreshed(self) -> str:
        """A new access token, whatever the cache holds: the server refused the last one."""
        with self._lock:
            self._refresh()
            return self._token

    def _refresh(self) -> None:
        answer = self._post()
        self._token = str(answer["access_token"])
        lifetime = _lifetime(answer.get("expires_in"))
        self._renew_at = self._clock() + lifetime - min(EARLY_SECONDS, lifetime / 2)
        rotated = answer.get("refresh_token")
        if isinstance(rotated, str) and rotated and rotated != self._refresh_token:
            self._refresh_token = rotated
            log.info("oauth2.refresh_token_rotated")
        self.problem = None
        log.info("oauth2.token_refreshed", extra={"expires_in": lifetime})

    def _post(self) -> dict[str, object]:
        form = {"grant_type": "refresh_token", "refresh_token": self._refresh_token,
                "client_id": self.settings.client_id}
        if self.settings.client_secret:
            form["client_secret"] = self.settings.client_secret
        if self.settings.scope:
            form["scope"] = self.settings.scope
        try:
            with bound(httpx.Client(transport=self._transport, timeout=self._timeout)) as client:
                request = client.build_request("POST", self.settings.token_url, data=form,
                                               headers={"Accept": "application/json"})
                response = exchange(client, request, seconds=self._timeout, clock=time.monotonic)
        except httpx.HTTPError as exc:
            said = str(exc) if str(exc).startswith("no complete answer") else type(exc).__name__
            raise MailboxUnavailable(f"the OAuth2 token endpoint did not answer ({said}); "
                                     "trying again later") from exc
        except AnswerTooLarge as exc:
            log.error("oauth2.answer_too_large", extra={"limit": MAX_ANSWER_BYTES})
            raise MailboxUnavailable(f"the OAuth2 token endpoint answered more than {exc.limit} bytes "
                                     "(read no further); trying again later") from exc
        return self._answer(response)

    def _answer(self, response: httpx.Response) -> dict[str, object]:
        """The JSON of a good answer, or the error it means."""
        status = response.status_code
        if status >= 500 or status in _TRANSIENT_STATUSES:
            raise MailboxUnavailable(f"the OAuth2 token endpoint answered {status}; trying again later")
        readable = _json_object(response)
        body = readable or {}
        if response.is_success and isinstance(body.get("access_token"), str) and body["access_token"]:
            return body
        if response.is_success and readable is None:
            # Garbage, an empty or cut answer: the endpoint misbehaved; nothing a person must fix.
            log.warning("oauth2.answer_unreadable", extra={"status": status})
            raise MailboxUnavailable(f"the OAuth2 token endpoint answered {status} with no readable JSON "
                                     "object; trying again later")
        raise self._refused(status, body)

    def _refused(self, status: int, body: dict[str, object]) -> ConfigError:
        error = str(body.get("error", "")) or f"HTTP {status}"
        said = str(body.get("error_description", ""))[:200]
        words = f"{error}{': ' + said if said else ''}"
        log.error("oauth2.refresh_refused", extra={"status": status, "error": error})
        if error == "invalid_grant":
            key = self.settings.refresh_token_key
            refused: ConfigError = RefreshTokenRevoked(
                f"the OAuth2 refresh token was refused ({words}): it was revoked, expired or issued to "
                f"another client; get a new one and put it in {key}, then restart", key=key)
        elif error in _CLIENT_ERRORS:
            refused = ConfigError(f"the OAuth2 token endpoint refused this client ({words}): check it and "
                                  "imap.oauth2_client_secret_file", key="imap.oauth2_client_id")
        elif error == "invalid_scope":
            refused = ConfigError(f"the OAuth2 token endpoint refused the scope ({words})", key="imap.oauth2_scope")
        else:
            refused = ConfigError(f"the OAuth2 token endpoint gave no access token ({words})",
                                  key="imap.oauth2_token_url")
        self.problem = str(refused)
        return refused


def _json_object(response: httpx.Response) -> dict[str, object] | None:
    """The answer's JSON object, or None when it is not one (garbage, empty, cut)."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _lifetime(value: object) -> float:
    """`expires_in` in seconds (a number, or a numeric string as some endpoints send), else the default."""
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return DEFAULT_LIFETIME
    return seconds if seconds > 0 else DEFAULT_LIFETIME


# -- one per configuration, for the life of the process -----------------------------------

_shared: dict[OAuth2Settings, AccessTokens] = {}
_shared_lock = threading.Lock()


def tokens_for(settings: OAuth2Settings) -> AccessTokens:
    """The process's one `AccessTokens` for `settings` (the passes and the IDLE watcher share it)."""
    with _shared_lock:
        if settings not in _shared:
            _shared[settings] = AccessTokens(settings)
        return _shared[settings]


def login_problem() -> str | None:
    """Why an OAuth2 login cannot work now (a refused refresh token), or None: for health checks."""
    with _shared_lock:
        return next((tokens.problem for tokens in _shared.values() if tokens.problem), None)
