"""The server's wiring: the reactor, the hub and the parts between them.

Each part owns one job: ``Connections`` (session.py) a connection's codec, feeding and timers;
``Effects`` (effects.py) the interpreter of what the hub returns; ``Fanout`` (fanout.py) the turn's
batch; the services (services.py, shared.py) the store, the worker and, with ``--redis``, the
backplane, picked at start; ``Operator``, ``Console``, ``Signals`` and stats.py the rest. This
class builds them, routes the reactor's callbacks to them and owns the server's life.
"""

from __future__ import annotations

import logging
import ssl
import sys
import time
from collections.abc import Callable
from typing import Any

from selchat.codec import encode
from selchat.config import SPARE_FDS, ServerConfig, pause_marks
from selchat.errors import ErrorCode, ProtocolError
from selchat.fdlimit import raise_open_file_limit
from selchat.hub import Hub
from selchat.logsink import flush_logs
from selchat.metrics import MetricsCodec, parse_address
from selchat.news import News
from selchat.reactor import Conn, Reactor
from selchat.records import Result
from selchat.server import stats
from selchat.server.console import Console
from selchat.server.effects import Effects
from selchat.server.fanout import Fanout
from selchat.server.operator import BAN_SWEEP, Operator, config_bans
from selchat.server.services import LocalServices
from selchat.server.session import Connections, ConnState
from selchat.server.shared import SharedServices
from selchat.server.signals import Signals
from selchat.server.upkeep import UpkeepPoller
from selchat.store import Store as Database
from selchat.worker import Worker

log = logging.getLogger("selchat.server")
# what clients are told at a stop: a restart they come back after, or for good
RESTARTING, STOPPING = "Server restarting; reconnect in a moment", "Server is shutting down"



def error_payload(code: ErrorCode, message: str) -> bytes:
    return encode(ProtocolError(code, message).to_frame())


def server_ssl_context(cert: str, key: str) -> ssl.SSLContext:
    """TLS 1.2+ with the certificate and key given; raises OSError or ssl.SSLError if unusable."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


class ChatServer:
    def __init__(
        self,
        config: ServerConfig,
        *,
        wall_clock: Callable[[], float] = time.time,
        out: Any = None,
        reload: Callable[[], ServerConfig] | None = None,
    ) -> None:
        self.reload = reload  # builds the configuration anew on SIGHUP (from --config)
        self.started = 0.0  # the reactor's clock when serving began (for /stats)
        self.wall_clock = wall_clock
        self.out = out if out is not None else sys.stdout
        self.tls_context = (server_ssl_context(config.tls_cert, config.tls_key)
                            if config.tls_cert and config.tls_key else None)
        self.reactor = self._reactor(config)
        self.store = Database(config.db, history_max=config.history_max, replay=config.replay,
                              searchable=config.search, copies=bool(config.redis))
        self.hub = Hub(config, self.store.snapshot(), shared=bool(config.redis))
        self.bans = self.hub.bans  # names are the hub's to check, addresses the server's
        self.bans.replace_config(config_bans(config))
        self.address: tuple[str, int] | None = None
        self.metrics_address: tuple[str, int] | None = None
        self.shutting_down = False
        self.tally = stats.Tally()
        self.fanout = Fanout(self.reactor)
        self.connections = Connections(self.reactor, self.hub, config, self.fanout, self.bans, wall_clock,
                                       self.tally)
        self.links: SharedServices | None = None  # the services' Redis links, when shared
        self.services = self._services(config)
        self.effects = Effects(self.reactor, self.fanout, self.services, self.connections)
        self.connections.effects = self.effects
        self.apply = self.effects.apply
        self.operator = Operator(self)
        self.upkeep = UpkeepPoller(self)
        self.console = Console(self)
        self.signals = Signals(self.reactor, self.operator.reload_config, self.shutdown)
        self._config = config

    def _reactor(self, config: ServerConfig) -> Reactor:
        return Reactor(
            before_flush=self.before_flush,
            after_flush=self.after_flush,
            max_conns=config.max_clients,
            max_output=config.max_output,
            reject_payload=error_payload(
                ErrorCode.SERVER_FULL, f"server is full ({config.max_clients} clients); try later"
            ),
            linger=config.linger,
            plain_on_tls_payload=error_payload(
                ErrorCode.TLS_REQUIRED, "this server speaks TLS; connect with: selchat join --tls"
            ),
        )

    def _services(self, config: ServerConfig) -> LocalServices:
        """One process alone, or one of several sharing rooms through Redis: chosen once, here."""
        if not config.redis:
            return LocalServices(self.reactor, self.store, self.complete, self.connections.fail)
        self.links = SharedServices(self.reactor, self.store, self.complete, self.connections.fail, config,
                                    self.hub, self.hear, self.announce)
        return self.links

    @property
    def config(self) -> ServerConfig:
        return self._config

    @config.setter
    def config(self, config: ServerConfig) -> None:
        """A reload: every part that reads the configuration sees the new one."""
        self._config = config
        self.hub.config = config
        self.connections.config = config
        self.reactor.max_conns = config.max_clients
        self.reactor.output.max_output = config.max_output
        self.reactor.output.pause_high, self.reactor.output.pause_low = pause_marks(config.max_output)
        self.connections.pause_high = self.reactor.output.pause_high

    @property
    def worker(self) -> Worker | None:
        return self.services.worker

    # -- set-up and life ---------------------------------------------------------------------------
    def listen(self, reuse_port: bool = False) -> tuple[str, int]:
        self.address = self.reactor.listen(self.config.host, self.config.port, self.connections,
                                           tls=self.tls_context, reuse_port=reuse_port)
        return self.address

    def listen_metrics(self) -> tuple[str, int]:
        """The metrics listener (--metrics HOST:PORT), in the same loop as the chat."""
        assert self.config.metrics
        host, port = parse_address(self.config.metrics)
        self.metrics_address = self.reactor.listen(host, port, Scrapes(self), counted=False)
        shown = f"[{self.metrics_address[0]}]" if ":" in self.metrics_address[0] else self.metrics_address[0]
        log.info("metrics at http://%s:%d/metrics", shown, self.metrics_address[1])
        return self.metrics_address

    def start_worker(self) -> None:
        self.services.start_worker()

    def prepare(self) -> None:
        """What serving needs besides the listener (the signal wake-up, the worker), made before
        the server says it is listening, so that what it holds is settled by then."""
        self.signals.install()
        self.start_worker()

    def serve_forever(self, *, console: bool = False, signals: bool = True) -> None:
        if signals and self.signals.wake_r is None:
            self.signals.install()
        if console:
            self.reactor.add_reader(sys.stdin.fileno(), self.console.readable)
        if self.worker is None:
            self.start_worker()
        self.started = self.reactor.clock()
        self.reactor.call_later(BAN_SWEEP, self.operator.expire_bans)
        self.upkeep.start()
        self.services.start()
        try:
            self.reactor.run()
        finally:
            if signals:
                self.signals.restore()
            self.close_storage()
            log.info("server stopped")

    def close_storage(self) -> None:
        """Finish the worker's jobs, then commit everything and close the database."""
        self.services.close()

    def shutdown(self, reconnect: bool = True) -> None:
        """Stop: by a signal (SIGTERM, Ctrl-C) as a restart clients reconnect after, which is what
        a service manager's stop usually is; by the console's /shutdown for good."""
        if self.shutting_down:
            return
        self.shutting_down = True
        log.info("shutting down: %d connections", len(self.reactor.conns))
        self.apply(self.hub.shutdown(self.wall_clock(), RESTARTING if reconnect else STOPPING, reconnect))
        self.fanout.flush()
        self.services.stop()
        self.reactor.drain_and_stop(self.config.shutdown_grace)

    def before_flush(self) -> None:
        """The reactor's before-sleep hook: the turn's batch and its publications to other processes."""
        self.fanout.flush()
        self.services.before_flush()  # the turn's publications

    def after_flush(self) -> None:
        """Once the turn's output is written: its commit and its log lines, which nobody waits
        for, so that a commit never holds back the messages of its turn (p99 at a light load)."""
        self.services.after_flush()
        flush_logs()  # the turn's log lines, in one write

    # -- into the hub ------------------------------------------------------------------------------
    def complete(self, conn_id: int, result: Result) -> None:
        """A request's result, back into the hub."""
        label = self.connections.answering(conn_id)
        self.apply(self.hub.complete(conn_id, result, self.wall_clock()))
        self.connections.answered(conn_id, label)

    def hear(self, news: News) -> None:
        """News from another process, into the hub like any command."""
        self.apply(self.hub.hear(news, self.wall_clock()))

    def announce(self, text: str) -> None:
        self.apply(self.hub.announce(text, self.wall_clock()))

    # -- the operator's ----------------------------------------------------------------------------
    def kick(self, name: str, *, ban: bool = False) -> bool:
        return self.operator.kick(name, ban=ban)

    def ban(self, target: str, duration: str | None = None, reason: str = "", *, drop: bool = True) -> Any:
        return self.operator.ban(target, duration, reason, drop=drop)

    def unban(self, target: str) -> Any:
        return self.operator.unban(target)

    def reload_config(self) -> None:
        self.operator.reload_config()

    def console_line(self, line: str) -> None:
        self.console.line(line)

    def counters(self) -> dict[str, Any]:
        return stats.counters(self)

    def stats(self) -> str:
        return stats.summary(self)


def raise_fd_limit(max_clients: int) -> str | None:
    """Raise the open-file limit to fit ``max_clients``; a warning if it cannot."""
    needed = max_clients + SPARE_FDS
    soft = raise_open_file_limit(needed)
    if soft is not None and soft < needed:
        return (
            f"open-file limit is {soft} but --max-clients {max_clients} needs about {needed}; "
            f"raise it (ulimit -n {needed}) or lower --max-clients"
        )
    return None



class Scrapes:
    """The metrics listener's connections: one request, one answer, in the chat's loop."""

    def __init__(self, server: ChatServer) -> None:
        self.server = server

    def on_open(self, conn: Conn) -> None:
        server = self.server
        ctx = conn.ctx = ConnState(server.reactor.now)
        ctx.codec, ctx.wire, ctx.fresh = MetricsCodec(server.counters), None, False
        ctx.handshake = server.reactor.call_later(server.config.handshake_timeout, self._expired, conn)

    def on_data(self, conn: Conn, data: bytes) -> None:
        self.server.connections.feed(conn, conn.ctx, data)

    def on_close(self, conn: Conn, reason: str) -> None:
        tally = self.server.tally
        tally.closes[reason] = tally.closes.get(reason, 0) + 1
        if conn.ctx is not None and conn.ctx.handshake is not None:
            conn.ctx.handshake.cancel()

    def on_slow(self, conn: Conn) -> bytes:
        return b""  # a scrape that does not read its answer is only cut

    def _expired(self, conn: Conn) -> None:
        if conn.closing:
            return
        reactor = self.server.reactor
        reactor.send(conn, conn.ctx.codec.refuse(ProtocolError(ErrorCode.HANDSHAKE_TIMEOUT, "")))
        reactor.close(conn, "handshake_timeout")
