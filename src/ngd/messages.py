"""Text pieces shared by messages: lists of names that stay one short line."""


def name_list(names, limit=10):
    """'a, b, c' for at most ``limit`` names, else the first ``limit`` then 'and N more': a
    message stays one readable line however wide the data."""
    names = [str(name) for name in names]
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"
