"""``ngd bench``: run the benchmark suite of an ngd source checkout (``python -m bench``)."""
import os
import pathlib
import subprocess
import sys

import click

from ngd.cli._errors import InputError


def find_checkout(start=None):
    """The ngd source checkout holding ``start`` (default: the working folder), or None: the
    nearest folder with bench/__main__.py next to a pyproject.toml that names ngd."""
    folder = pathlib.Path(start or os.getcwd()).resolve()
    for candidate in (folder, *folder.parents):
        project = candidate / "pyproject.toml"
        if (candidate / "bench" / "__main__.py").is_file() and project.is_file():
            try:
                text = project.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if 'name = "ngd"' in text:
                return candidate
    return None


@click.command("bench", context_settings={"ignore_unknown_options": True,
                                          "allow_interspersed_args": False},
               epilog="\b\nExamples (from a clone of the repository):\n"
                      "  ngd bench --quick\n"
                      "  ngd bench --only kernels --json results.json\n"
                      "  ngd bench -- --help        # the suite's own options")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def bench_command(args):
    """Run the benchmark suite (python -m bench) of the source checkout you are in.

    ARGS are passed to the suite unchanged: --quick, --only kernels|solvers, --json PATH,
    --repeat N, --quiet. The benchmarks are not installed with the package; this command
    looks for them in the working folder and its parents. Timings go to stdout.
    """
    root = find_checkout()
    if root is None:
        raise InputError("no ngd source checkout here: the benchmarks (bench/) ship with the "
                         "repository, not the package; run 'ngd bench' inside a clone of ngd "
                         "(or 'python -m bench' from its root)")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(root)] + ([env["PYTHONPATH"]]
                                                        if env.get("PYTHONPATH") else []))
    done = subprocess.run([sys.executable, "-m", "bench", *args], cwd=root, env=env)
    sys.exit(done.returncode)
