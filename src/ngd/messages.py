"""Text pieces shared by messages: lists of names that stay one short line, and the default
column names x0, x1, ..."""
import functools


def name_list(names, limit=10):
    """'a, b, c' for at most ``limit`` names, else the first ``limit`` then 'and N more': a
    message stays one readable line however wide the data."""
    names = [str(name) for name in names]
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


def default_names(p):
    """["x0", ..., "x{p-1}"]: the names of columns that have none (a new list each call)."""
    return list(_default_names(int(p)))


@functools.lru_cache(maxsize=4)
def _default_names(p):
    """The tuple behind default_names: built once per width (a wide fit repeated, as on a
    path or in cross-validation, does not format 1e5 names each time)."""
    return tuple(f"x{j}" for j in range(p))
