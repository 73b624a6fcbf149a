"""Turn exceptions into one-line errors and exit codes: 2 for bad input, 1 for internal."""
import click


class InputError(click.ClickException):
    """Bad data or arguments: ``Error: <message>`` on stderr, exit code 2."""

    exit_code = 2

    def __init__(self, message):
        super().__init__(" ".join(str(message).split()))


class InternalError(click.ClickException):
    """An unexpected failure: one line, exit code 1."""

    exit_code = 1

    def __init__(self, exc):
        text = " ".join(str(exc).split()) or type(exc).__name__
        super().__init__(f"internal error: {type(exc).__name__}: {text} "
                         "(rerun with --debug for a traceback)")


class Interrupted(click.ClickException):
    """Ctrl-C (KeyboardInterrupt): one line, exit code 130 (128 + SIGINT) as shells use."""

    exit_code = 130

    def __init__(self):
        super().__init__("interrupted")
