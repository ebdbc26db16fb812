"""Finding templates: by name in the ``scs_nb.templates`` package, or by path."""

from __future__ import annotations

import difflib
import hashlib
import importlib.resources as res
import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..atomic import check_name
from ..errors import ToolBoxPathError
from .params import load_parameter_file, notebook_parameters

__all__ = ["Template", "templates_dir", "list_templates", "find_template", "template_inputs"]


def templates_dir() -> Path:
    """The folder of the shipped templates (package ``scs_nb.templates``)."""
    try:
        path = Path(str(res.files("scs_nb.templates")))
        if path.is_dir():
            return path
    except (ImportError, TypeError):
        pass
    # a source checkout where templates/ is not (yet) mapped as a package
    return Path(__file__).resolve().parents[2] / "templates"


class _Node(dict):
    """A dict with attribute access, like nbformat's NotebookNode."""

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    @classmethod
    def wrap(cls, obj):
        if isinstance(obj, dict):
            return cls({k: cls.wrap(v) for k, v in obj.items()})
        if isinstance(obj, list):
            return [cls.wrap(v) for v in obj]
        return obj


@dataclass
class Template:
    """A notebook template: its name, path and a lazily read notebook."""

    name: str
    path: Path

    def notebook(self):
        """The notebook as attribute-access dicts (read as JSON: importing nbformat
        costs seconds, and listing or validating needs none of it)."""
        try:
            with open(self.path, encoding="utf-8") as f:
                data = json.load(f)
            if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
                raise ValueError("no 'cells' list")
            if data.get("nbformat", 4) < 4:
                raise ValueError(
                    f"nbformat {data.get('nbformat')} is too old; save it with a current Jupyter"
                )
        except (OSError, ValueError) as exc:
            raise ToolBoxPathError(
                f"template {str(self.path)!r} is not a readable notebook: {exc}"
            ) from None
        nb = _Node.wrap(data)
        nb.setdefault("metadata", _Node())
        for cell in nb.cells:
            src = cell.get("source", "")
            cell["source"] = "".join(src) if isinstance(src, list) else src
            cell.setdefault("metadata", _Node())
        return nb

    def digest(self) -> str:
        """The SHA-256 of the template file's content (hex): outputs record it, so an
        output made by another file of the same name is not taken for this one's.

        Returns
        -------
        str
        """
        try:
            with open(self.path, "rb") as f:
                return hashlib.sha256(f.read()).hexdigest()
        except OSError as exc:
            raise ToolBoxPathError(
                f"template {str(self.path)!r} cannot be read: {exc.strerror or exc}"
            ) from None

    def description(self, nb=None) -> str:
        """First line of the first markdown cell, without leading '#'."""
        nb = nb or self.notebook()
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                for line in cell.source.splitlines():
                    line = line.strip().lstrip("#").strip()
                    if line:
                        return line
                break
        return ""

    def parameters(self, nb=None) -> dict:
        """The parameters declared in the template's ``parameters`` cell.

        Parameters
        ----------
        nb : notebook node, optional
            The template, already read (``notebook()``); default read it.

        Returns
        -------
        dict
            ``{name: Parameter}`` in the order of the cell.

        Raises
        ------
        ParameterError
            If the notebook has no cell tagged ``parameters`` or it cannot be
            parsed.
        """
        return notebook_parameters(nb or self.notebook(), where=f"template {self.name!r}")

    def kernel_name(self, nb=None):
        """The Jupyter kernel the template was saved with.

        Parameters
        ----------
        nb : notebook node, optional
            The template, already read (``notebook()``); default read it.

        Returns
        -------
        str or None
            The ``kernelspec`` name of the notebook metadata; None if it has
            none.
        """
        nb = nb or self.notebook()
        return nb.metadata.get("kernelspec", {}).get("name")


def list_templates(folder=None) -> list:
    """The templates shipped with the package (or in ``folder``), sorted by name."""
    folder = Path(folder) if folder else templates_dir()
    if not folder.is_dir():
        return []
    return [
        Template(p.stem, p)
        for p in sorted(folder.glob("*.ipynb"))
        if not p.name.startswith(".") and ".ipynb_checkpoints" not in p.parts
    ]


def find_template(name_or_path) -> Template:
    """A template by name (``scs-nb templates``) or by path to an ``.ipynb`` file."""
    text = check_name(name_or_path, "template")
    path = Path(text).expanduser()
    if text.endswith(".ipynb") or "/" in text or path.is_file():
        if not path.is_file():
            raise ToolBoxPathError(f"template file {text!r} does not exist")
        if path.suffix != ".ipynb":
            raise ToolBoxPathError(f"template {text!r} is not an .ipynb notebook")
        return Template(check_name(path.stem, "template name"), path.resolve())
    available = list_templates()
    names = {t.name: t for t in available}
    if text in names:
        return names[text]
    close = difflib.get_close_matches(text, list(names), n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ToolBoxPathError(
        f"no template named {text!r}.{hint} Available: {', '.join(names) or '(none)'} "
        "(`scs-nb templates`), or pass a path to an .ipynb file."
    )


def safe_name(name: str) -> str:
    """A file-name-safe version of a template name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "notebook"


def template_inputs(template, parameters=None, param_file=None):
    """The template, its notebook, its parameter spec and the values given for it:
    those of the YAML ``param_file`` overridden by ``parameters`` (not yet validated)."""
    tpl = template if isinstance(template, Template) else find_template(template)
    check_name(tpl.name, "template name")
    check_name(tpl.path, "template path")
    if param_file is not None:
        check_name(param_file, "parameter file")
    nb = tpl.notebook()
    given = dict(load_parameter_file(param_file)) if param_file else {}
    given.update(parameters or {})
    return tpl, nb, tpl.parameters(nb), given
