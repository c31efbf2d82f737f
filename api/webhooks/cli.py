"""``cutwatch admin subscriber ...``: the operator issues and revokes webhook subscriber keys.

Only the standard library (and api.cli's helpers, themselves stdlib-only) at the top; the
service code loads when a handler runs.
"""

from __future__ import annotations

import argparse
import json
import sys

from cutwatch.api.cli import _ENV, _database_flags, on_database
from cutwatch.cli import CliError


def register(admin_commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub = admin_commands.add_parser(
        "subscriber", help="webhook subscriber API keys",
        description="Issue, list and revoke the API keys NGOs and newsrooms use to manage "
        "their webhook subscriptions (docs/webhooks.md). " + _ENV)
    actions = sub.add_subparsers(dest="subscriber_command", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="issue a key (printed once as JSON; stored hashed)")
    _database_flags(add)
    add.add_argument("--name", required=True, help="who the key is for")
    add.set_defaults(handler=_add)
    listing = actions.add_parser("list", help="list subscribers (never their keys)")
    _database_flags(listing)
    listing.set_defaults(handler=_list)
    revoke = actions.add_parser("revoke", help="revoke a subscriber's key")
    _database_flags(revoke)
    revoke.add_argument("subscriber_id")
    revoke.set_defaults(handler=_revoke)


def _add(args: argparse.Namespace) -> int:
    from cutwatch.api.webhooks.subscribers import issue_key

    name = args.name.strip()
    if not name or len(name) > 200:
        raise CliError("--name must be 1 to 200 characters")
    issued = on_database(args, lambda conn: issue_key(conn, name))
    json.dump(issued.model_dump(mode="json"), sys.stdout, indent=2)
    print()
    return 0


def _list(args: argparse.Namespace) -> int:
    from cutwatch.api.webhooks.subscribers import all_subscribers

    for subscriber in on_database(args, all_subscribers):
        revoked = subscriber.revoked_at
        state = f"revoked {revoked:%Y-%m-%d}" if revoked else "active"
        print(f"{subscriber.id}\t{subscriber.created_at:%Y-%m-%d}\t{state}\t{subscriber.name}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from cutwatch.api.webhooks.subscribers import revoke_key

    if not on_database(args, lambda conn: revoke_key(conn, args.subscriber_id)):
        raise CliError(f"no subscriber {args.subscriber_id}")
    print(f"revoked {args.subscriber_id}")
    return 0
