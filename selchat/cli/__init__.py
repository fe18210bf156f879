"""The ``selchat`` command: errors become one line and an exit status, never a traceback.

``common`` holds the group and the configuration, ``serve`` the server's command, ``accounts``
and ``rooms`` the operator's changes to accounts and rooms, ``hooks`` the webhooks', ``data`` the database's (backup,
restore, check), ``tools`` the rest; importing them registers their commands on ``main``.
"""

from selchat.cli import accounts as _accounts
from selchat.cli import data as _data
from selchat.cli import hooks as _hooks
from selchat.cli import rooms as _rooms
from selchat.cli import serve as _serve
from selchat.cli import tools as _tools
from selchat.cli.common import ConfigError, fail, main, read_config_file, server_config
from selchat.cli.serve import serve

__all__ = ["ConfigError", "fail", "main", "read_config_file", "serve", "server_config"]
del _accounts, _data, _hooks, _rooms, _serve, _tools


def _show_environment(command: object) -> None:
    """Every option read from the environment says which variable, in --help ([env var: ...])."""
    import click

    for param in getattr(command, "params", ()):
        if isinstance(param, click.Option) and param.envvar:
            param.show_envvar = True
    for sub in getattr(command, "commands", {}).values():
        _show_environment(sub)


_show_environment(main)
