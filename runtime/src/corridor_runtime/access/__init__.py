"""Who may see what on a node's HTTP APIs: sign-in (the partner's OpenID provider, or the node's own
accounts), roles per node, tokens for automation, and the audit trail of personal data
(docs/access.md)."""

from .roles import Role, parse_roles
from .store import AccessError, AccessStore, Principal
from .web import Audit, NodeAccess, allow, audit_as_csv, audited

__all__ = [
    "AccessError",
    "AccessStore",
    "Audit",
    "NodeAccess",
    "Principal",
    "Role",
    "allow",
    "audit_as_csv",
    "audited",
    "parse_roles",
]
