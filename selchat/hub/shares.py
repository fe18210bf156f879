"""Who is in a shared room on which processes, when one person may be on several (issue 24).

A room's ``remote`` names each person on other processes once, with one process that has them
(``(name, node)``); ``also`` holds the other processes that have the same person in it: for a
member here, every process beside this one. So a room lists and counts a person once, says one
join when the first of their processes brings them and one leave when the last lets them go,
however many processes their devices are on. Pure functions of a Room, with no effects: the
callers say what is told.
"""

from __future__ import annotations

from selchat.hub.state import Room


def take_out(nodes_of: dict[str, set[str]] | None, key: str, node: str) -> bool:
    """``node`` no longer has the person ``key`` (an empty set goes): True if it had."""
    nodes = nodes_of.get(key) if nodes_of else None
    if nodes is None or node not in nodes:
        return False
    nodes.discard(node)
    if not nodes:
        del nodes_of[key]  # type: ignore[union-attr]
    return True


def also_at(room: Room, key: str, node: str) -> None:
    """One more process has the person ``key`` in the room."""
    also = room.also
    if also is None:
        also = room.also = {}
    nodes = also.get(key)
    if nodes is None:
        also[key] = {node}
    else:
        nodes.add(node)


def seen_at(room: Room, key: str, name: str, node: str) -> bool:
    """Another process says the person (not a member here) is in the room: True if the room
    did not have them before, so its members hear them come."""
    found = room.remote.get(key)
    if found is None:
        room.remote[key] = (name, node)
        return True
    if found[1] != node:
        also_at(room, key, node)
    return False


def unseen_at(room: Room, key: str, node: str) -> bool:
    """A process no longer has the person in the room (their devices there went): True if no
    process has them now, so its members hear them go."""
    if take_out(room.also, key, node):
        return False
    found = room.remote.get(key)
    if found is None or found[1] != node:
        return False
    nodes = room.also.get(key) if room.also else None
    if nodes:  # another process has them still: it is the one named now
        room.remote[key] = (found[0], nodes.pop())
        if not nodes:
            del room.also[key]  # type: ignore[union-attr]
        return False
    del room.remote[key]
    return True


def gone_from(room: Room, key: str) -> bool:
    """The person left the room (a part or a kick, which every process of theirs follows): True
    if the room had them on another process."""
    if room.also:
        room.also.pop(key, None)
    return room.remote.pop(key, None) is not None


def here_too(room: Room, key: str) -> bool:
    """The person comes into the room here while other processes have them in it (another device
    of theirs): they are a member here now, and those processes are kept in ``also``. True if the
    room had them already, so nobody hears them come."""
    found = room.remote.pop(key, None)
    if found is None:
        return False
    also_at(room, key, found[1])
    return True


def still_elsewhere(room: Room, key: str, name: str) -> bool:
    """The person's devices here have gone, not the person from the room: True if another process
    has them in it still (then they are remote again), so nobody hears them go."""
    nodes = room.also.pop(key, None) if room.also else None
    if not nodes:
        return False
    room.remote[key] = (name, nodes.pop())
    if nodes:
        room.also[key] = nodes  # type: ignore[index]
    return True
