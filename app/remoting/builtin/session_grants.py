"""One-time session ids: the server's memory between the handshake port and the
transport port. Sans-I/O like the handshake machines: time is an argument.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field


@dataclass
class _Grant:
    session_id: str = field(repr=False)
    expires_at: float


class SessionGrants:
    """The one-time session ids a listener handed out in 200 answers, until the
    transport port sees one. Sans-I/O like the cores: time is an argument.

    A listen opens one session, so the first valid id voids every other one."""

    def __init__(self) -> None:
        self._grants: list[_Grant] = []

    def __len__(self) -> int:
        return len(self._grants)

    def issue(self, session_id: str, now: float, valid_for: float) -> None:
        self._grants.append(_Grant(session_id, now + valid_for))

    def consume(self, session_id: str, now: float) -> bool:
        """True once for a pending, unexpired id. Compared in constant time against
        every pending id (a mismatch reveals nothing about how close it was)."""
        offered = session_id.encode("ascii", "replace")
        found = False
        for grant in self._grants:
            same = hmac.compare_digest(grant.session_id.encode("ascii"), offered)
            found = found or (same and grant.expires_at > now)
        if found:
            self._grants.clear()
        return found

    def expire(self, now: float) -> int:
        """Forget the ids whose time is up; how many were forgotten."""
        before = len(self._grants)
        self._grants = [g for g in self._grants if g.expires_at > now]
        return before - len(self._grants)
