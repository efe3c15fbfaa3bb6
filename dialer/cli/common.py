"""What every command shares: the consoles, the one-line failure, the settings option."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from dialer.logs import setup_logging
from dialer.settings import Settings, SettingsError, load_settings

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="Settings file (default: $DIALER_CONFIG or config/dialer.yaml)."
    ),
]
console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def settings_from(config: Path | None) -> Settings:
    """The settings, or a one-line error naming the file, the key and the reason."""
    try:
        settings = load_settings(config)
    except SettingsError as exc:
        fail(str(exc))
    setup_logging(settings.logging.level, settings.logging.format)
    from dialer.store.keyfile import KeyFileError, install_from

    try:
        install_from(settings.privacy)  # debtor data at rest is sealed with it
    except KeyFileError as exc:
        fail(str(exc))
    return settings
