"""Agents' `#commands` on the first lines of a mailed reply. Pure: text in, `Commands` out.

Grammar: after any blank lines, each line that starts with `#` and a word is a command, until
the first other line; the rest is the reply. `#123` or `# heading` is text, not a command.

    #note                     the reply is an internal note
    #status <status>          open, in progress (in_progress), resolved, closed
    #priority <priority>      low, medium, high, urgent
    #assign me | <email> | nobody
    #tag <tag>[, <tag>...]    adds tags
    #close                    same as #status closed
    #send / #drop             send or drop the agent's held reply on this ticket

Whether a mail may carry commands at all (a staff user's own token and From) is decided by the
caller; a customer's `#status` is never parsed. Unknown or malformed commands are `problems`:
the caller then applies nothing and says so in the receipt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from support.models import Priority, Status

from .addresses import normalize_address

_COMMAND = re.compile(r"^#([A-Za-z][A-Za-z_-]*)(?:\s+(.*))?$")
KNOWN = ("note", "status", "priority", "assign", "tag", "close", "send", "drop")
_STATUS_WORDS = {"in progress": "in_progress", "in-progress": "in_progress", "inprogress": "in_progress"}


@dataclass(frozen=True)
class Commands:
    text: str
    lines: tuple[str, ...] = ()
    internal: bool = False
    status: str | None = None
    priority: str | None = None
    assign: str | None = None  # "me", "nobody" or an address
    tags: tuple[str, ...] = ()
    send_held: bool = False
    drop_held: bool = False
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def any(self) -> bool:
        return bool(self.lines)


def parse_commands(text: str) -> Commands:
    lines = (text or "").splitlines()
    index = 0
    found = Commands(text="")
    while index < len(lines):
        line = lines[index].strip()
        if not line:
            index += 1
            continue
        match = _COMMAND.match(line)
        if match is None:
            break
        found = _apply(found, match.group(1).lower(), " ".join((match.group(2) or "").split()), line)
        index += 1
    return replace(found, text="\n".join(lines[index:]).strip())


def _apply(found: Commands, name: str, value: str, line: str) -> Commands:
    found = replace(found, lines=(*found.lines, line))
    if name not in KNOWN:
        return _problem(found, f"{line}: unknown command (known: {', '.join('#' + k for k in KNOWN)}).")
    if name in ("note", "close", "send", "drop") and value:
        return _problem(found, f"{line}: #{name} takes no value.")
    if name == "note":
        return replace(found, internal=True)
    if name == "send":
        return replace(found, send_held=True)
    if name == "drop":
        return replace(found, drop_held=True)
    if name in ("status", "close"):
        return _status(found, Status.CLOSED.value if name == "close" else value, line)
    if name == "priority":
        wanted = value.lower()
        if wanted not in Priority.values:
            return _problem(found, f"{line}: the priority is one of {', '.join(Priority.values)}.")
        if found.priority not in (None, wanted):
            return _problem(found, f"{line}: the priority was already set to {found.priority}.")
        return replace(found, priority=wanted)
    if name == "assign":
        return _assign(found, value, line)
    tags = tuple(t.strip() for t in value.split(",") if t.strip())
    if not tags:
        return _problem(found, f"{line}: name the tag, for example #tag refund.")
    return replace(found, tags=(*found.tags, *tags))


def _status(found: Commands, value: str, line: str) -> Commands:
    wanted = _STATUS_WORDS.get(value.lower(), value.lower())
    if wanted not in Status.values:
        return _problem(found, f"{line}: the status is one of open, in progress, resolved, closed.")
    if found.status not in (None, wanted):
        return _problem(found, f"{line}: the status was already set to {found.status}.")
    return replace(found, status=wanted)


def _assign(found: Commands, value: str, line: str) -> Commands:
    wanted = value.lower()
    if wanted in ("me", "nobody", "none"):
        target = "nobody" if wanted == "none" else wanted
    else:
        target = normalize_address(wanted)
        if not target:
            return _problem(found, f"{line}: assign to me, nobody, or an agent's address.")
    if found.assign not in (None, target):
        return _problem(found, f"{line}: the ticket was already assigned by an earlier line.")
    return replace(found, assign=target)


def _problem(found: Commands, problem: str) -> Commands:
    return replace(found, problems=(*found.problems, problem))
