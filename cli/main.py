"""``ngd``: fit logistic regression and GLMs by natural gradient from the shell.

Exit codes: 0 success (also when a fit did not converge: a warning goes to stderr),
2 bad input or usage, 1 internal error, 130 interrupted (Ctrl-C). Every error is one line on stderr.
"""
import sys

import click

from ngd.cli._errors import InputError, InternalError, Interrupted
from ngd.exceptions import MissingDependencyError
from ngd.cli.bench import bench_command
from ngd.cli.check import check_command
from ngd.cli.fit import fit_command
from ngd.cli.info import info_command
from ngd.cli.policy import policy_command
from ngd.cli.predict import predict_command

CONTEXT = {"help_option_names": ["-h", "--help"], "show_default": True,
           "max_content_width": 100}


def _one_line_usage(exc, ctx):
    """A Click usage error as one line (no usage block), exit 2."""
    command = exc.ctx.command_path if exc.ctx is not None else "ngd"
    return InputError(f"{exc.format_message()} (see '{command} --help')")


class NgdGroup(click.Group):
    """Keeps commands in a fixed order and maps errors to one line and an exit code."""

    def list_commands(self, ctx):
        return list(self.commands)

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as exc:
            raise _one_line_usage(exc, None) from None

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as exc:
            if ctx.params.get("debug"):
                raise
            raise _one_line_usage(exc, ctx) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            if ctx.params.get("debug"):
                raise
            raise Interrupted() from None       # outputs are written atomically: no file
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            if isinstance(exc, (ValueError, TypeError, OSError, ArithmeticError,
                                MissingDependencyError)):
                raise InputError(exc) from None
            raise InternalError(exc) from None


@click.group(cls=NgdGroup, context_settings=CONTEXT, no_args_is_help=True,
             epilog="Exit codes: 0 success (a fit that did not converge prints a warning), "
                    "1 internal error, 2 bad input or usage; errors are one line on stderr.")
@click.version_option(package_name="ngd", prog_name="ngd")
@click.option("--debug", is_flag=True, help="Show Python tracebacks on errors.")
def cli(debug):
    """Natural-gradient fitting of logistic regression and GLMs, compared with Newton and
    SGD."""


cli.add_command(fit_command)
cli.add_command(check_command)
cli.add_command(predict_command)
cli.add_command(bench_command)
cli.add_command(info_command)
cli.add_command(policy_command)


def main():
    """Console-script entry point; exits quietly when stdout is a closed pipe."""
    try:
        cli.main(prog_name="ngd")
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(1)
