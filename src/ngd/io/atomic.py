"""All-or-nothing file writes: temporary files in the target folders, then renames."""
import os
import tempfile


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_files_atomic(outputs):
    """Write every (path, text or bytes) pair, all or nothing as far as the OS allows.

    Each content goes to a temporary file in its target's folder first; only when all are
    complete are they renamed into place, so an error (disk full, permission) leaves no
    partial or new file behind. Files get the usual permissions (0666 minus the umask).
    """
    staged = []
    mode = 0o666 & ~_umask()
    try:
        for path, content in outputs:
            folder = os.path.dirname(os.path.abspath(path))
            handle, tmp = tempfile.mkstemp(prefix=".ngd-", suffix=".tmp", dir=folder)
            staged.append((tmp, path))
            data = content.encode("utf-8") if isinstance(content, str) else content
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.chmod(tmp, mode)
        for tmp, path in staged:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)
        raise
