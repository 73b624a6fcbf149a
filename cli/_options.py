"""Options shared by several commands (one definition each, applied as decorators)."""
import math

import click

from ngd.elastic_net import MAX_ABS

LINKS = ("identity", "log", "logit", "probit", "cloglog", "inverse", "inverse_squared")
DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|",
                   "space": " "}


class FiniteFloat(click.FloatRange):
    """A float option that refuses nan and infinities (click.FloatRange lets nan through
    every bound, and inf through a missing one), within the given range."""

    name = "float"

    def _describe_range(self):
        """The range for --help ('' without bounds: no '[x<=None]')."""
        return "" if self.min is None and self.max is None else super()._describe_range()

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


def finite_float(min=None, max=None, min_open=False, max_open=False):
    """The type of a finite float option in [min, max] (open ends as FloatRange)."""
    return FiniteFloat(min=min, max=max, min_open=min_open, max_open=max_open)


def scale_float():
    """The type of a penalty or damping option: finite, in [0, MAX_ABS] (the library's cap:
    above it the curvature's squared diagonal overflows)."""
    return finite_float(min=0, max=MAX_ABS)


def _delimiter(ctx, param, value):
    if value is None:
        return None
    value = DELIMITER_NAMES.get(value.lower(), value) if len(value) > 1 else value
    if len(value) != 1 or value in "\"\r\n":
        raise click.BadParameter(f"must be one character (or tab, comma, semicolon, pipe, "
                                 f"space), got {value!r}")
    return value


def column_list(ctx, param, value):
    """'a,b,c' -> ['a', 'b', 'c'] (None stays None); empty names are an error."""
    if value is None:
        return None
    names = [name.strip() for name in value.split(",")]
    if not all(names):
        raise click.BadParameter(f"expected comma-separated column names, got {value!r}")
    return names


def normalised_choice(choices):
    """Callback accepting any case and '-' for '_' (e.g. inverse-squared)."""
    def callback(ctx, param, value):
        if value is None:
            return None
        key = value.strip().lower().replace("-", "_")
        if key not in choices:
            raise click.BadParameter(f"{value!r} is not one of {', '.join(choices)}")
        return key
    return callback


delimiter_option = click.option(
    "--delimiter", default=None, callback=_delimiter, metavar="CHAR",
    help="CSV field delimiter: one character, or tab/comma/semicolon/pipe/space  "
         "[default: sniffed from the file]")
json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print one JSON document on stdout instead of text.")


_MODEL_DATA_OPTIONS = (
    click.option("--model", default="logistic",
                 help="Model to fit, checked by the library ('-' and '_' are equivalent)."),
    click.option("--link", default=None, callback=normalised_choice(LINKS),
                 metavar="[" + "|".join(LINKS) + "]",
                 help="Link function (GLM models)  [default: the model's canonical link]"),
    click.option("--power", type=finite_float(), default=None,
                 help="Tweedie power (model tweedie)."),
    click.option("--target", default=None,
                 help="Target column of a CSV  [default: last column]"),
    click.option("--features", default=None, callback=column_list, metavar="A,B,...",
                 help="Feature columns of a CSV  [default: every column without another "
                      "role]"),
    click.option("--weights", default=None, metavar="COL",
                 help="Column of sample weights (CSV)."),
    click.option("--offset", default=None, metavar="COL",
                 help="Column added to the linear predictor (CSV)."),
    click.option("--trials", default=None, metavar="COL",
                 help="Column of binomial trials; the target holds successes (CSV)."),
    click.option("--categorical", default=None, callback=column_list, metavar="A,B,...",
                 help="String columns to one-hot encode (first level dropped; new columns "
                      "named col=level)."),
    click.option("--dropna", is_flag=True,
                 help="Drop rows with a missing cell in a used column (count on stderr) "
                      "instead of stopping with an error."),
    delimiter_option,
)


def model_data_options(command):
    """--model, --link, --power and the data options (--target ... --delimiter) of the
    commands that fit (fit, check), in that order in --help."""
    for option in reversed(_MODEL_DATA_OPTIONS):
        command = option(command)
    return command
