"""Parameter files and bounds on parameter values, checked before anything parses or
expands them.

A parameter value reaches the kernel as Python source; a value with shared parts (YAML
aliases) or deep nesting can be small as given and huge, or too deep for Python's
parsers, once written out. So: parameter files are at most :data:`MAX_FILE_BYTES`,
a ``-p`` text at most :data:`MAX_TEXT` characters, and every value at most
:data:`MAX_DEPTH` levels deep with :data:`MAX_ITEMS` items in all, aliases counted
each time they are used; a value that contains itself is refused. YAML keys must be
names (a list key is refused), given once.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ToolBoxValueError

__all__ = [
    "ParameterError",
    "MAX_FILE_BYTES",
    "MAX_TEXT",
    "MAX_DEPTH",
    "MAX_ITEMS",
    "check_text",
    "check_value",
]


class ParameterError(ToolBoxValueError):
    """A template parameter is unknown, missing, of the wrong type or too large."""


#: the largest parameter file (-f), bytes
MAX_FILE_BYTES = 1 << 20
#: the longest -p value, characters
MAX_TEXT = 1 << 20
#: the deepest nesting of lists and dicts in a value
MAX_DEPTH = 32
#: the most items (list items, dict keys and values, counted as written out) of a value
MAX_ITEMS = 100_000

_OPEN, _CLOSE = "[{(", "]})"


def check_text(name, text):
    """Refuse a ``-p`` text longer than :data:`MAX_TEXT` or nested deeper than
    :data:`MAX_DEPTH` brackets (outside quotes) before a parser sees it.

    Parameters
    ----------
    name : str
        The parameter.
    text : str
        The value as given.

    Raises
    ------
    ParameterError
    """
    if len(text) > MAX_TEXT:
        raise ParameterError(
            f"parameter {name!r}: the value is {len(text)} characters long; at most "
            f"{MAX_TEXT} are accepted (put large inputs in a file the template reads)"
        )
    depth, quote, escaped = 0, None, False
    for c in text:
        if quote:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c in _OPEN:
            depth += 1
            if depth > MAX_DEPTH:
                raise ParameterError(
                    f"parameter {name!r}: the value is nested more than {MAX_DEPTH} "
                    "levels deep; flatten it"
                )
        elif c in _CLOSE:
            depth -= 1


def check_value(name, value, where=None):
    """Refuse a value nested deeper than :data:`MAX_DEPTH`, with more than
    :data:`MAX_ITEMS` items once its shared parts (YAML aliases) are written out, or
    that contains itself. Linear in the distinct parts of the value.

    Parameters
    ----------
    name : str
        The parameter (or the file) the value is for.
    value : object
        A parsed value.
    where : str, optional
        Where it comes from (a parameter file), for the message.

    Raises
    ------
    ParameterError
    """
    label = f"parameter {name!r}" + (f" in {where}" if where else "")
    sizes = {}  # id -> items as written out, for parts already measured
    open_ = set()  # ids of the parts being measured (a cycle comes back to one)

    def measure(obj, depth):
        if not isinstance(obj, (list, tuple, dict, set)):
            return 1
        key = id(obj)
        if key in sizes:
            return sizes[key]
        if key in open_:
            raise ParameterError(
                f"{label}: the value contains itself (a YAML alias to an "
                "enclosing node); write it out"
            )
        if depth >= MAX_DEPTH:
            raise ParameterError(
                f"{label}: the value is nested more than {MAX_DEPTH} levels deep; flatten it"
            )
        open_.add(key)
        parts = [x for kv in obj.items() for x in kv] if isinstance(obj, dict) else obj
        total = 1
        for part in parts:
            total += measure(part, depth + 1)
            if total > MAX_ITEMS:
                raise ParameterError(
                    f"{label}: the value has more than {MAX_ITEMS} items once "
                    "written out (YAML aliases count each time they are used); put large "
                    "inputs in a file the template reads"
                )
        open_.discard(key)
        sizes[key] = total
        return total

    measure(value, 0)


def _unique_loader():
    import yaml  # optional: only for YAML parameter files

    class Loader(yaml.SafeLoader):
        pass

    def mapping(loader, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"a key is a {type(key).__name__}; keys must be names",
                    key_node.start_mark,
                ) from None
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {key!r} is given twice (lines {seen[key] + 1} and "
                    f"{key_node.start_mark.line + 1}); keep one",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line
        return loader.construct_mapping(node, deep=deep)

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    return Loader


class _LazyLoader:
    _cls = None

    def __call__(self, stream):
        if _LazyLoader._cls is None:
            _LazyLoader._cls = _unique_loader()
        return _LazyLoader._cls(stream)


_UniqueKeyLoader = _LazyLoader()


def load_parameter_file(path) -> dict:
    """Parameters from a YAML (or JSON) mapping file."""
    import yaml  # optional: only for YAML parameter files

    path = Path(path)
    if path.is_dir():
        raise ParameterError(
            f"parameter file {str(path)!r} is a folder; pass -f with a YAML "
            "file of `name: value` lines"
        )
    try:
        size = path.stat().st_size
    except OSError:
        size = 0  # open() below says why
    if size > MAX_FILE_BYTES:
        raise ParameterError(
            f"parameter file {str(path)!r} is {size / 2**20:.1f} MiB; parameter files are "
            f"at most {MAX_FILE_BYTES // 2**20} MiB (put large inputs in a file the "
            "template reads)"
        )
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.load(f.read(MAX_FILE_BYTES + 1), Loader=_UniqueKeyLoader)
    except (RecursionError, MemoryError):
        raise ParameterError(
            f"parameter file {str(path)!r} is nested too deeply to be read; flatten it"
        ) from None
    except FileNotFoundError:
        raise ParameterError(f"parameter file {str(path)!r} does not exist") from None
    except UnicodeDecodeError:
        raise ParameterError(
            f"parameter file {str(path)!r} is not a text file; pass -f with "
            "a YAML file of `name: value` lines"
        ) from None
    except OSError as exc:
        raise ParameterError(
            f"parameter file {str(path)!r} cannot be read: {exc.strerror or exc}"
        ) from None
    except yaml.YAMLError as exc:
        raise ParameterError(f"parameter file {str(path)!r} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise ParameterError(
            f"parameter file {str(path)!r} must hold a mapping "
            "`name: value`, one parameter per line"
        )
    for name, value in data.items():
        check_value(name, value, where=str(path))
    return data
