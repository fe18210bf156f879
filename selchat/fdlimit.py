"""The open-file limit: every connection is a descriptor, so a server (or a load generator) for
hundreds of clients needs more than the usual soft limit of 1024."""

from __future__ import annotations


def raise_open_file_limit(needed: int) -> int | None:
    """Raise the soft limit towards ``needed`` (never past the hard limit); the limit now in
    force, or None where there is no such limit (RLIM_INFINITY, or not POSIX)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return None
    if soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft
