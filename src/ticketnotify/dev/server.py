"""``ticketnotify dev``: loopback peers that keep what they receive, a page to read it, guest pages."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import socket
from collections.abc import Generator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError
from ..events import Guest

if TYPE_CHECKING:  # the CLI imports this module: framework extras load only when `dev` runs
    from .catcher import Catcher
    from .guest_site import GuestSite

DEMO_TICKET = "DEMO-1"
DEMO_GUEST = Guest(email="guest@example.com", locale="en", time_zone="Europe/Stockholm",
                   name="Demo Guest")


class DevServer:
    """The catcher: start with ``async with DevServer(folder) as dev``; ``dev.addresses()`` says where.

    Everything received is kept as files under ``folder`` (``mail/*.eml``, ``push/*.json``)
    and listed again after a restart; nothing is overwritten. The guest-link keys are kept
    in ``folder/keys.json`` so links in earlier emails still open after a restart.

    Args:
        folder: where mail, pushes, keys, the demo outbox and code store live.
        host: the address every server listens on (default ``127.0.0.1``).
        smtp_port: the SMTP port (0: a free one).
        web_port: the web page's port (0: a free one).
        push: also run the APNs and FCM stand-ins (needs the ``demo`` extra).

    Raises:
        ConfigurationError: a port is taken, or an extra is missing (``ticketnotify[devserver]``).
    """

    def __init__(self, folder: Path, *, host: str = "127.0.0.1", smtp_port: int = 0,
                 web_port: int = 0, push: bool = True) -> None:
        self.folder = folder
        self.host = host
        self.smtp_port = smtp_port
        self.web_port = web_port
        self.push = push
        self.catcher: Catcher | None = None
        self._exit = contextlib.AsyncExitStack()
        self._serving: asyncio.Task[None] | None = None
        self._server: Any = None
        self.site: GuestSite | None = None

    async def __aenter__(self) -> DevServer:
        try:
            import uvicorn

            from ..loopback.stack import LoopbackStack
            from .catcher import Catcher
        except ImportError as exc:
            raise ConfigurationError(f"ticketnotify dev needs {exc.name}: pip install "
                                     "'ticketnotify[devserver]'") from exc
        self.folder.mkdir(parents=True, exist_ok=True)
        self.catcher = Catcher(self.folder)
        try:
            return await self._start(uvicorn, LoopbackStack)
        except BaseException:
            await self._exit.aclose()
            raise

    async def _start(self, uvicorn: Any, stack_class: Any) -> DevServer:
        from .catcher import PushRecorder
        from .guest_site import DemoTicket, GuestSite
        from .web import build_app

        assert self.catcher is not None
        stack = stack_class(mail_dir=self.folder / "mail", push=self.push)
        stack.smtp.host, stack.smtp.port = self.host, self.smtp_port
        try:
            await self._exit.enter_async_context(stack)
        except OSError as exc:
            raise ConfigurationError(f"cannot listen for SMTP on {self.host}:{self.smtp_port} "
                                     f"({exc.strerror}); pick another --smtp-port") from exc
        self.stack = stack
        for service in ("apns", "fcm"):
            standin = getattr(stack, service)
            if standin is not None:
                # Accept the host's own key, team and topic: this is a catcher, not a checker.
                standin.verify_key = None
                if service == "apns":
                    standin.topic = None
                standin.requests = PushRecorder(self.folder / "push", service)
        sock = self._listen(self.web_port)
        self.web_port = sock.getsockname()[1]
        keys, secret, first_run = self._keys()
        site = GuestSite(self.folder / "site", base_url=self.web_url, smtp_host="127.0.0.1",
                         smtp_port=stack.smtp.port, keys=keys, code_secret=secret)
        self._exit.push_async_callback(site.aclose)
        self.site = site
        site.add(DemoTicket(DEMO_TICKET, "My deposit does not show", DEMO_GUEST, [
            "Guest: I sent money yesterday and it does not show in my account.",
            "Support: Thanks, we found it; it shows now. Does everything look right?"]))
        site.add(DemoTicket("DEMO-2", "Another question", DEMO_GUEST, ["A second ticket."]))

        config = uvicorn.Config(build_app(self.catcher, site, self.addresses, DEMO_TICKET),
                                log_level="warning", lifespan="off")
        server = _quiet_server(config)
        self._server = server
        self._serving = asyncio.create_task(server.serve(sockets=[sock]))
        self._exit.push_async_callback(self._stop_web)
        if first_run:
            await site.notify(DEMO_TICKET, "dev-demo-received")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._exit.aclose()

    async def _stop_web(self) -> None:
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            await self._serving

    async def wait(self) -> None:
        """Until the web server ends (it stops on ``stop()``)."""
        if self._serving is not None:
            await self._serving

    def stop(self) -> None:
        """Ask the web server to finish; ``wait`` then returns."""
        if self._server is not None:
            self._server.should_exit = True

    @property
    def web_url(self) -> str:
        """The catcher page, e.g. ``http://127.0.0.1:8025``."""
        return f"http://{self.host}:{self.web_port}"

    def addresses(self) -> dict[str, str]:
        """What to point the host at, label → value."""
        found = {"web page": self.web_url + "/",
                 "SMTP (no TLS, no auth)": f"{self.host}:{self.stack.smtp.port}"}
        apns, fcm = getattr(self.stack, "apns", None), getattr(self.stack, "fcm", None)
        if apns is not None and fcm is not None:
            found["APNs base URL (HTTP/2, TLS)"] = apns.base_url
            found["FCM v1 endpoint base"] = fcm.endpoint_base
            found["FCM token URI"] = fcm.token_uri
            found["FCM project id"] = fcm.project_id
            found["CA file to trust for APNs/FCM"] = apns.certificate.ca_file
        found["files"] = str(self.folder.resolve())
        return found

    def _listen(self, port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, port))
        except OSError as exc:
            sock.close()
            raise ConfigurationError(f"cannot listen for the web page on {self.host}:{port} "
                                     f"({exc.strerror}); pick another --web-port") from exc
        sock.listen(128)
        sock.setblocking(False)
        return sock

    def _keys(self) -> tuple[list[bytes], bytes, bool]:
        """The link keys and code secret of this folder (made on the first run)."""
        path = self.folder / "keys.json"
        if path.is_file():
            saved = json.loads(path.read_text("utf-8"))
            return [bytes.fromhex(k) for k in saved["link_keys"]], bytes.fromhex(saved["code_secret"]), False
        keys, secret = [secrets.token_bytes(32)], secrets.token_bytes(32)
        path.write_text(json.dumps({"link_keys": [k.hex() for k in keys],
                                    "code_secret": secret.hex()}), "utf-8")
        return keys, secret, True


def _quiet_server(config: Any) -> Any:
    """A uvicorn ``Server`` without its own signal handling (``run_dev`` handles signals)."""
    import uvicorn

    class QuietServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Generator[None, None, None]:
            yield

    return QuietServer(config)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dev`` to the command line."""
    parser = subparsers.add_parser(
        "dev", help="catch mail and push locally and click through the guest pages",
        description="Run loopback SMTP, APNs and FCM servers that keep everything they receive "
                    "(files in --dir, listed again after a restart), a web page showing it, "
                    "and the guest pages wired to a demo ticket. Prints where to point the host.")
    parser.add_argument("--dir", type=Path, default=Path(".ticketnotify-dev"),
                        help="where received mail and pushes are kept (default: .ticketnotify-dev)")
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    parser.add_argument("--smtp-port", type=int, default=0, help="SMTP port (default: a free one)")
    parser.add_argument("--web-port", type=int, default=0, help="web page port (default: a free one)")
    parser.add_argument("--no-push", action="store_true", help="mail only: no APNs/FCM stand-ins")
    parser.set_defaults(func=lambda args: asyncio.run(run_dev(args)))


async def run_dev(args: argparse.Namespace) -> int:
    """Start, print the addresses, serve until SIGINT/SIGTERM."""
    import signal

    async with DevServer(args.dir, host=args.host, smtp_port=args.smtp_port,
                         web_port=args.web_port, push=not args.no_push) as dev:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print("ticketnotify dev: point your host at")
        for label, value in dev.addresses().items():
            print(f"  {label}: {value}")
        print("Ctrl-C stops; received messages stay in the folder.", flush=True)
        stopped = asyncio.create_task(stop.wait())
        serving = asyncio.create_task(dev.wait())
        await asyncio.wait({stopped, serving}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        dev.stop()
    return 0
