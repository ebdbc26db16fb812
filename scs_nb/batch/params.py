"""Template parameters: read from the ``parameters`` cell, checked before a kernel starts.

The template contract: the first code cell is tagged ``parameters`` and holds only
annotated literal assignments, each followed by a ``# help`` comment::

    proposal: int = 900001                 # proposal number
    run: int = None                        # run number (required)
    dark_run: int | None = None            # dark run; None = no dark subtraction
    xaxis: Literal["delay", "nrj"] = "delay"  # what to bin against
    bin_width: float = 0.1                 # bin width in units of xaxis
    modules: list[int] = [0, 1, 2, 3]      # DSSC modules to process

* ``name: T = None`` makes the parameter **required**: a value must be given.
* ``name: T | None = None`` (or ``Optional[T]``) is optional and may stay ``None``.
* Types: ``int``, ``float``, ``str``, ``bool``, ``list`` / ``list[int|float|str|bool]``,
  ``dict`` and ``Literal[...]`` (a choice among literals).
* ``proposal`` and ``run``/``*_run`` integers are also range-checked; floats must be
  finite (no NaN, no inf).
* A constraint may close the help comment, in parentheses: ``(> 0)``, ``(>= 1)``,
  ``(< 10)``, ``(0..15)`` (inclusive), ``(non-empty)``, or several separated by commas
  (``(0..15, non-empty)``); numbers apply to the value or to each item of a list. The
  validator enforces it and ``scs-nb run T --help`` shows it.

Values given on the command line (``-p name=value``) are strings parsed according to
the annotation; values from a YAML file already have a type, which is checked.
"""

from __future__ import annotations

import ast
import difflib
import io
import json
import math
import re
import tokenize
from dataclasses import dataclass, field

from ..errors import ToolBoxValueError
from ..facility import validate_proposal, validate_run
from .limits import ParameterError, check_text, check_value, load_parameter_file

__all__ = [
    "Parameter",
    "ParameterError",
    "parse_parameters_source",
    "notebook_parameters",
    "validate_parameters",
    "parse_assignments",
    "load_parameter_file",
    "format_value",
    "parameters_table",
    "parse_constraints",
    "constraint_text",
]

_SCALARS = {"int": int, "float": float, "str": str, "bool": bool}
_TRUE = {"true", "yes", "on", "1", "y", "t"}
_FALSE = {"false", "no", "off", "0", "n", "f"}


@dataclass
class Parameter:
    """One template parameter, as declared in the ``parameters`` cell."""

    name: str
    type: str  # 'int', 'float', 'str', 'bool', 'list', 'dict', 'choice'
    default: object = None
    help: str = ""
    required: bool = False
    nullable: bool = False
    item_type: str | None = None  # for lists: element type
    choices: tuple = field(default_factory=tuple)  # for Literal[...]
    annotation: str = ""  # the annotation as written
    constraints: tuple = field(default_factory=tuple)  # ((op, value), ...) from the help

    def expects(self) -> str:
        """Human description of what a value must be."""
        if self.type == "choice":
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        elif self.type == "list":
            text = f"a list of {self.item_type}" if self.item_type else "a list"
            text += " (e.g. 1,2,3 or [1, 2, 3])"
        elif self.type == "bool":
            text = "a bool (true/false)"
        elif self.type == "dict":
            text = "a dict (JSON/YAML mapping)"
        else:
            text = f"a{'n' if self.type == 'int' else ''} {self.type}"
        if self.constraints:
            text += f" ({constraint_text(self.constraints)})"
        if self.nullable:
            text += " or None"
        return text

    def check(self, value, source="value"):
        """Return ``value`` converted to this parameter's type, or raise ParameterError.

        Strings are parsed (command line); other objects are type-checked (YAML, Python).
        """
        # the text None stands for None, except for a str that cannot be None
        if value is None or (
            isinstance(value, str)
            and value.strip() in ("None", "null")
            and (self.type != "str" or self.nullable)
        ):
            if self.nullable:
                return None
            raise ParameterError(
                f"parameter {self.name!r} is required: pass "
                f"-p {self.name}=VALUE with {self.expects()}"
            )
        if isinstance(value, str):
            check_text(self.name, value)
        check_value(self.name, value)
        try:
            if isinstance(value, str) and self.type != "str":
                out = self._parse(value)
            else:
                out = self._coerce(value)
            check_value(self.name, out)
        except (RecursionError, MemoryError):
            raise ParameterError(
                f"parameter {self.name!r}: the value is too deeply nested or too large"
            ) from None
        except (ValueError, TypeError, SyntaxError) as exc:
            detail = str(exc) if isinstance(exc, TypeError) else ""
            raise ParameterError(
                f"parameter {self.name!r} expects {self.expects()}, got {value!r}"
                + (f" ({detail})" if detail and detail != str(value) else "")
            ) from None
        _range_check(self.name, out)
        self._constrain(out, value)
        return out

    def _constrain(self, out, given):
        """Finite floats always; then the constraints declared in the help comment."""
        items = out if isinstance(out, list) else [out]
        for v in items:
            if isinstance(v, float) and not math.isfinite(v):
                raise ParameterError(
                    f"parameter {self.name!r} expects a finite number, got {given!r}"
                )
        for op, bound in self.constraints:
            if op == "non-empty":
                if hasattr(out, "__len__") and len(out) == 0:
                    raise ParameterError(
                        f"parameter {self.name!r} must not be empty "
                        f"({constraint_text(self.constraints)}), got {given!r}"
                    )
                continue
            for v in items:
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    continue
                if not _OPS[op](v, bound):
                    what = "each item of " if isinstance(out, list) else ""
                    raise ParameterError(
                        f"parameter {self.name!r}: {what}the value must be "
                        f"{constraint_text(self.constraints)}, got {given!r}"
                    )

    # -- conversions -------------------------------------------------------
    def _parse(self, text: str):
        text = text.strip()
        if self.type == "list":
            if text.startswith("["):
                items = ast.literal_eval(text)
                if not isinstance(items, (list, tuple)):
                    raise ValueError("not a list")
            elif text == "":
                items = []
            else:
                items = [t.strip() for t in text.split(",")]
            return [self._item(v) for v in items]
        if self.type == "dict":
            try:
                out = json.loads(text)
            except json.JSONDecodeError:
                out = ast.literal_eval(text)
            return self._coerce(out)
        return _scalar(self.type if self.type != "choice" else None, text, self)

    def _coerce(self, value):
        if self.type == "list":
            if not isinstance(value, (list, tuple)):
                raise TypeError(f"a {type(value).__name__} is not a list")
            return [self._item(v) for v in value]
        if self.type == "dict":
            if not isinstance(value, dict):
                raise TypeError(f"a {type(value).__name__} is not a dict")
            return dict(value)
        if self.type == "choice":
            if value not in self.choices or isinstance(value, bool) != any(
                isinstance(c, bool) and c == value for c in self.choices
            ):
                raise ValueError("not an allowed choice")
            return value
        return _typed(self.type, value)

    def _item(self, v):
        if self.item_type is None:
            return v
        if isinstance(v, str) and self.item_type != "str":
            return _scalar(self.item_type, v.strip(), self)
        return _typed(self.item_type, v)


def _typed(kind, value):
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"a {type(value).__name__} is not an int")
        return int(value)
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"a {type(value).__name__} is not a float")
        return float(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise TypeError(f"a {type(value).__name__} is not a bool")
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise TypeError(f"a {type(value).__name__} is not a str; quote it")
        return value
    raise TypeError(f"unsupported type {kind}")


def _scalar(kind, text, param):
    if kind is None:  # Literal choice: match against the choices' text
        for c in param.choices:
            if (str(c).lower() if isinstance(c, bool) else str(c)) == text or repr(c) == text:
                return c
        raise ValueError("not an allowed choice")
    if kind == "int":
        if not re.fullmatch(r"[+-]?\d+", text.replace("_", "")):
            raise ValueError("")
        return int(text.replace("_", ""))
    if kind == "float":
        value = float(text)
        return value
    if kind == "bool":
        low = text.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError("")
    return text


def _range_check(name, value):
    if isinstance(value, bool) or not isinstance(value, int):
        return
    try:
        if name == "proposal":
            validate_proposal(value)
        elif name == "run" or name.endswith("_run") or name == "darkrun":
            validate_run(value)
    except ToolBoxValueError as exc:
        raise ParameterError(f"parameter {name!r}: {exc}") from None


# -- constraints in the help comment ---------------------------------------------
# The last parenthesised group of a help comment is a constraint when every part of it
# (separated by ',') is one of: '> N', '>= N', '< N', '<= N', 'A..B' (inclusive) or
# 'non-empty'. Numbers apply to the value, or to each item of a list. Examples:
#     bin_width: float = 0.5   # bin width in ps (> 0)
#     module_group: int = 0    # module group (0..3)
#     modules: list[int] = [0]  # DSSC modules (0..15, non-empty)
# Any other parenthesised text, e.g. '(ps)', stays plain help.
_OPS = {
    ">": lambda v, b: v > b,
    ">=": lambda v, b: v >= b,
    "<": lambda v, b: v < b,
    "<=": lambda v, b: v <= b,
}
_NUM = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_TERM = re.compile(
    rf"\s*(?:(?P<op>>=|<=|>|<)\s*(?P<n>{_NUM})|(?P<a>{_NUM})\s*\.\.\s*"
    rf"(?P<b>{_NUM})|(?P<ne>non-empty))\s*"
)


def _num(text):
    v = float(text)
    return int(v) if v.is_integer() and not re.search(r"[.eE]", text) else v


def parse_constraints(help_text) -> tuple:
    """``((op, bound), ...)`` of the constraint at the end of a help text, or ()."""
    m = re.search(r"\(([^()]*)\)\s*$", help_text or "")
    if not m:
        return ()
    out = []
    for part in m.group(1).split(","):
        t = _TERM.fullmatch(part)
        if not t:
            return ()
        if t.group("op"):
            out.append((t.group("op"), _num(t.group("n"))))
        elif t.group("ne"):
            out.append(("non-empty", None))
        else:
            out += [(">=", _num(t.group("a"))), ("<=", _num(t.group("b")))]
    return tuple(out)


def constraint_text(constraints) -> str:
    """The constraints of a parameter as its help text shows them.

    Parameters
    ----------
    constraints : iterable
        Parsed constraints (see :func:`parse_constraints`).

    Returns
    -------
    str
        E.g. ``'> 0'`` or ``'0..15'``.
    """
    parts, i = [], 0
    c = list(constraints)
    while i < len(c):
        op, b = c[i]
        if op == ">=" and i + 1 < len(c) and c[i + 1][0] == "<=":
            parts.append(f"{b}..{c[i + 1][1]}")
            i += 2
            continue
        parts.append("non-empty" if op == "non-empty" else f"{op} {b}")
        i += 1
    return ", ".join(parts)


# -- reading the parameters cell ----------------------------------------------
def _annotation(node, name, lineno):
    """(type, item_type, choices, nullable) from an annotation AST node."""
    bad = ParameterError(
        f"line {lineno}: parameter {name!r} has an unsupported annotation "
        f"{ast.unparse(node)!r}; use int, float, str, bool, list, list[int], dict, "
        "Literal[...] or 'T | None'"
    )
    # T | None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        parts = [node.left, node.right]
        nones = [p for p in parts if isinstance(p, ast.Constant) and p.value is None]
        others = [p for p in parts if p not in nones]
        if len(nones) != 1 or len(others) != 1:
            raise bad
        kind, item, choices, _ = _annotation(others[0], name, lineno)
        return kind, item, choices, True
    if isinstance(node, ast.Name):
        if node.id in _SCALARS or node.id in ("list", "dict"):
            return node.id, None, (), False
        raise bad
    if isinstance(node, ast.Subscript):
        base = (
            node.value.id
            if isinstance(node.value, ast.Name)
            else (node.value.attr if isinstance(node.value, ast.Attribute) else None)
        )
        if base == "Optional":
            kind, item, choices, _ = _annotation(node.slice, name, lineno)
            return kind, item, choices, True
        if base in ("list", "List"):
            if isinstance(node.slice, ast.Name) and node.slice.id in _SCALARS:
                return "list", node.slice.id, (), False
            raise bad
        if base == "Literal":
            elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            try:
                choices = tuple(ast.literal_eval(e) for e in elts)
            except ValueError:
                raise bad from None
            return "choice", None, choices, False
    raise bad


def _comments(source):
    """Map line number -> comment text (without '#')."""
    out = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                out[tok.start[0]] = tok.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError):
        pass
    return out


def parse_parameters_source(source: str, where="parameters cell") -> dict:
    """Parse the text of a ``parameters`` cell into ``{name: Parameter}``.

    Raises ParameterError (naming the line) for anything that is not an annotated
    literal assignment with a help comment.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ParameterError(f"{where}: syntax error at line {exc.lineno}: {exc.msg}") from None
    comments = _comments(source)
    params = {}
    for stmt in tree.body:
        line = stmt.lineno
        if not (
            isinstance(stmt, ast.AnnAssign)
            and isinstance(stmt.target, ast.Name)
            and stmt.value is not None
        ):
            raise ParameterError(
                f"{where}, line {line}: only annotated assignments such as "
                f"`run: int = 1  # run number` are allowed, got {ast.unparse(stmt)!r}"
            )
        name = stmt.target.id
        kind, item, choices, nullable = _annotation(stmt.annotation, name, line)
        try:
            default = ast.literal_eval(stmt.value)
        except ValueError:
            raise ParameterError(
                f"{where}, line {line}: the value of {name!r} must be a literal "
                f"(number, string, bool, list, dict or None), got {ast.unparse(stmt.value)!r}"
            ) from None
        help_text = comments.get(stmt.end_lineno) or comments.get(line, "")
        if not help_text:
            raise ParameterError(
                f"{where}, line {line}: parameter {name!r} needs a `# help` comment describing it"
            )
        if name in params:
            raise ParameterError(f"{where}, line {line}: parameter {name!r} defined twice")
        p = Parameter(
            name,
            kind,
            default,
            help_text,
            required=(default is None and not nullable),
            nullable=nullable,
            item_type=item,
            choices=choices,
            annotation=ast.unparse(stmt.annotation),
            constraints=parse_constraints(help_text),
        )
        if default is not None:
            try:
                p.default = p._coerce(default)
                p._constrain(p.default, default)
            except (TypeError, ValueError):
                raise ParameterError(
                    f"{where}, line {line}: default {default!r} of {name!r} is not {p.expects()}"
                ) from None
        params[name] = p
    return params


def parameters_cell(nb):
    """The cell tagged ``parameters`` of a notebook node, or None."""
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            return cell
    return None


def notebook_parameters(nb, where="template") -> dict:
    """``{name: Parameter}`` of a notebook node (nbformat)."""
    cell = parameters_cell(nb)
    if cell is None:
        raise ParameterError(
            f"{where} has no code cell tagged 'parameters'; tag the cell "
            "holding the parameters (View > Cell toolbar > Tags)"
        )
    return parse_parameters_source(cell.source, where=f"{where}: parameters cell")


# -- values from the command line and files -------------------------------------
def parse_assignments(items) -> dict:
    """``['run=10', 'xaxis=delay']`` -> ``{'run': '10', 'xaxis': 'delay'}`` (strings)."""
    out = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise ParameterError(f"-p expects NAME=VALUE, got {item!r}")
        out[name] = value
    return out


def validate_parameters(spec: dict, given: dict, template="template") -> dict:
    """Check ``given`` values against ``spec``; return the complete parameter dict.

    Unknown names, wrong types and missing required values raise ParameterError with
    a message naming the parameter and what it expects.
    """
    unknown = [k for k in given if k not in spec]
    if unknown:
        name = unknown[0]
        close = difflib.get_close_matches(name, list(spec), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ParameterError(
            f"unknown parameter {name!r} for {template}{hint}; known parameters: "
            f"{', '.join(spec)} (see `scs-nb run {template} --help`)"
        )
    values = {}
    for name, p in spec.items():
        if name in given:
            values[name] = p.check(given[name])
        elif p.required:
            raise ParameterError(
                f"parameter {name!r} of {template} is required: pass "
                f"-p {name}=VALUE with {p.expects()}"
            )
        else:
            values[name] = p.default
    return values


def format_value(param: Parameter, value) -> str:
    """The ``-p`` text that parses back to ``value``."""
    if value is None:
        return "None"
    if param.type == "bool" or isinstance(value, bool):
        return "true" if value else "false"
    if param.type in ("list", "dict"):
        return json.dumps(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def parameters_table(spec: dict) -> str:
    """A text table of name, type, default and help."""
    rows = [("NAME", "TYPE", "DEFAULT", "HELP")]
    for p in spec.values():
        default = "(required)" if p.required else repr(p.default)
        rows.append((p.name, p.annotation, default, p.help))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(
        "  " + "  ".join(c.ljust(w) for c, w in zip(r[:3], widths)) + "  " + r[3] for r in rows
    )
