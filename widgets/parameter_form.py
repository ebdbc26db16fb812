"""ParameterForm: a form built from a template's ``parameters`` cell."""

from __future__ import annotations

import html
import json
import threading
from pathlib import Path

import yaml

from scs_nb.atomic import write_atomic
from scs_nb.batch.params import parameters_cell, validate_parameters
from scs_nb.batch.runner import run_template
from scs_nb.batch.templates import Template, find_template
from scs_nb.errors import ToolBoxPathError

from ._base import Tool


class ParameterForm(Tool):
    """Edit a template's parameters, validated exactly as ``scs-nb run`` does.

    Each parameter of the template's ``parameters`` cell becomes a widget
    (int/float: number boxes, bool: checkbox, ``Literal[...]``: dropdown,
    ``str``, lists, dicts and parameters that may be ``None``: text parsed by
    type); its ``# help`` comment is the tooltip and the line beside it.
    Buttons run the template inline (in this kernel), headless (papermill,
    like ``scs-nb run``), or export the values as YAML for
    ``scs-nb run TEMPLATE -f FILE`` / ``scs-nb batch``.

    ``value`` is the validated parameter dict (raises ParameterError when a
    value is invalid); ``errors`` shows the validation message in the form.

    Parameters
    ----------
    template : str or Template
        The template, or its name (``find_template``).
    values : dict, optional
        Initial parameter values (unknown names raise ParameterError).
    out : str or Path, optional
        Folder for a headless run's notebook and report (default
        ``<template>_out``).
    interactive : bool, optional
        Force live controls or the headless summary (default: detected).
    **overrides
        More initial values, as keyword arguments.
    """

    title = "Parameters"

    def __init__(self, template, values=None, out=None, interactive=None, **overrides):
        super().__init__(interactive)
        import ipywidgets as w  # heavy: only when a widget is created

        self.template = template if isinstance(template, Template) else find_template(template)
        self.spec = self.template.parameters()
        self.title = f"Parameters of {self.template.name}"
        initial = {name: p.default for name, p in self.spec.items()}
        given = dict(values or {})
        given.update(overrides)
        unknown = [k for k in given if k not in self.spec]
        if unknown:
            validate_parameters(self.spec, given, template=self.template.name)  # raises
        initial.update(given)
        self.inputs = {name: self._make_input(p, initial[name]) for name, p in self.spec.items()}
        self.validity = w.HTML()
        self.output = w.Output()
        self.out_dir = w.Text(
            value=str(out or f"{self.template.name}_out"),
            description="output",
            layout=w.Layout(width="30em"),
            tooltip="folder for the executed notebook and its HTML report",
        )
        self.yaml_path = w.Text(
            value=f"{self.template.name}_params.yaml",
            description="YAML",
            layout=w.Layout(width="30em"),
        )
        self.overwrite = w.Checkbox(value=False, description="overwrite", indent=False)
        self.run_inline_btn = w.Button(
            description="run inline",
            icon="play",
            tooltip="run the template's cells in this kernel",
        )
        self.run_headless_btn = w.Button(
            description="run headless",
            icon="rocket",
            tooltip="execute a copy with papermill (scs-nb run)",
        )
        self.export_btn = w.Button(
            description="export YAML",
            icon="download",
            tooltip="write the values for scs-nb run -f / scs-nb batch",
        )
        self.run_inline_btn.on_click(self.guard(lambda _b: self.run_inline()))
        self.run_headless_btn.on_click(self.guard(lambda _b: self.run_headless(wait=False)))
        self.export_btn.on_click(
            self.guard(lambda _b: self.export_yaml(self.yaml_path.value, self.overwrite.value))
        )
        for widget in self.inputs.values():
            widget.observe(self.guard(self._on_change), names="value")
        self.result = None
        self._thread = None
        self._check()

    # -- the result --------------------------------------------------------
    @property
    def raw_values(self) -> dict:
        """What the widgets hold (text fields as strings, parsed on validation)."""
        return {name: self._read(self.spec[name], widget) for name, widget in self.inputs.items()}

    @property
    def value(self) -> dict:
        """Validated values (``validate_parameters``: the rules of ``scs-nb run``)."""
        return validate_parameters(self.spec, self.raw_values, template=self.template.name)

    @property
    def valid(self) -> bool:
        """Whether the values are valid (also updates the form's message and buttons)."""
        return self._check()

    def set(self, **values):
        """Set widget values from Python (strings are parsed as on the command line).

        Parameters
        ----------
        **values
            Parameter values by name; an unknown name raises ParameterError.

        Returns
        -------
        bool
            Whether all values are now valid.
        """
        unknown = {k: v for k, v in values.items() if k not in self.spec}
        if unknown:
            validate_parameters(self.spec, unknown, template=self.template.name)  # raises
        for name, v in values.items():
            self._write(self.spec[name], self.inputs[name], v)
        return self._check()

    def to_yaml(self) -> str:
        """The validated values as a YAML mapping (``scs-nb run -f``).

        Returns
        -------
        str
            A YAML document with a comment header naming the template.
        """
        header = (
            f"# parameters of template {self.template.name}\n"
            f"# scs-nb run {self.template.name} -f THIS_FILE\n"
        )
        return header + yaml.safe_dump(self.value, sort_keys=False, default_flow_style=None)

    def export_yaml(self, path, overwrite=False) -> Path:
        """Write ``to_yaml()`` to ``path`` atomically; an existing file is
        replaced only with ``overwrite``.

        Parameters
        ----------
        path : str or Path
            The YAML file to write (``~`` is expanded).
        overwrite : bool, optional
            Replace an existing file (otherwise ToolBoxPathError).

        Returns
        -------
        Path
            The file written.
        """
        path = Path(path).expanduser()
        if path.exists() and not overwrite:
            raise ToolBoxPathError(
                f"{path} already exists; tick 'overwrite' (overwrite=True) "
                "or choose another file name"
            )
        write_atomic(path, self.to_yaml())
        self.validity.value = f"wrote <code>{html.escape(str(path))}</code>"
        return path

    def cells_with_values(self) -> list:
        """The template's code cells, the parameters cell replaced by the values.

        Returns
        -------
        list of str
            Source of each code cell, in order.
        """
        nb = self.template.notebook()
        pcell = parameters_cell(nb)
        values = self.value
        lines = [f"{name} = {values[name]!r}" for name in self.spec]
        cells = []
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            cells.append("\n".join(lines) if cell is pcell else cell.source)
        return cells

    def run_inline(self, namespace=None):
        """Run the template's cells with these values in this kernel (outputs
        go to the form's output area). Returns the namespace.

        Parameters
        ----------
        namespace : dict, optional
            Run the cells with ``exec`` in this namespace; by default in the
            IPython kernel's user namespace (or a new dict outside IPython).

        Returns
        -------
        dict
            The namespace the cells ran in.
        """
        cells = self.cells_with_values()
        self.output.clear_output()
        try:
            from IPython import get_ipython  # heavy, and optional here: only to run cells

            ip = get_ipython()
        except ImportError:
            ip = None
        if ip is not None and namespace is None:
            with self.output:
                for source in cells:
                    res = ip.run_cell(source)
                    if not res.success:
                        res.raise_error()
            return ip.user_ns
        ns = {} if namespace is None else namespace
        with self.output:
            for source in cells:
                exec(compile(source, f"<{self.template.name}>", "exec"), ns)
        return ns

    def run_headless(self, wait=True, **kwargs):
        """Execute the template with papermill (``scs_nb.batch.run_template``)
        into ``out_dir``; in the background unless ``wait``. Returns the
        RunResult (or the thread).

        Parameters
        ----------
        wait : bool, optional
            Run in this thread and return the result (default); False runs in
            a daemon thread, the result then in ``self.result``.
        **kwargs
            Passed to ``run_template``.

        Returns
        -------
        RunResult or threading.Thread
            The result, or the thread running the template.
        """
        values = self.value
        out = self.out_dir.value
        overwrite = self.overwrite.value

        def job():
            self.validity.value = f"running {html.escape(self.template.name)} headless ..."
            res = run_template(
                self.template, values, out=out, overwrite=overwrite, progress=False, **kwargs
            )
            self.result = res
            color = "#070" if res.ok else "#b00"
            self.validity.value = (
                f"<span style='color:{color}'>"
                f"{html.escape(res.message).replace(chr(10), '<br>')}</span>"
            )
            return res

        if wait:
            return job()
        self._thread = threading.Thread(target=self.guard(job), daemon=True)
        self._thread.start()
        return self._thread

    def summary(self):
        """The template's name and the validated values (or why they are invalid).

        Returns
        -------
        str
            One line.
        """
        try:
            vals = self.value
        except Exception as exc:  # reported, not raised
            return f"parameters of {self.template.name}: INVALID: {exc}"
        return f"parameters of {self.template.name}: " + ", ".join(
            f"{k}={v!r}" for k, v in vals.items()
        )

    # -- internals ---------------------------------------------------------
    def _build_layout(self):
        import ipywidgets as w  # heavy: only when a widget is shown

        rows = [w.HTML(f"<b>{html.escape(self.title)}</b>")]
        for name, widget in self.inputs.items():
            p = self.spec[name]
            rows.append(
                w.HBox(
                    [
                        widget,
                        w.HTML(
                            f"<small>{html.escape(p.help)} "
                            f"<i>({html.escape(p.annotation)})</i></small>"
                        ),
                    ]
                )
            )
        rows += [
            self.validity,
            w.HBox([self.run_inline_btn, self.run_headless_btn, self.out_dir, self.overwrite]),
            w.HBox([self.export_btn, self.yaml_path]),
            self.output,
            self.errors,
        ]
        return w.VBox(rows)

    def display(self):
        """Show the form, or (headless) print the values."""
        if self.interactive:
            from IPython.display import display  # heavy: only when shown

            display(self.widget())
        else:
            print(self.summary())

    def _on_change(self, change):
        self._check()

    def _check(self) -> bool:
        try:
            _ = self.value  # validates: raises on an invalid value
        except Exception as exc:  # shown in the form
            self.validity.value = f"<span style='color:#b00'>{html.escape(str(exc))}</span>"
            for b in (self.run_inline_btn, self.run_headless_btn, self.export_btn):
                b.disabled = True
            return False
        self.validity.value = "<span style='color:#070'>parameters valid</span>"
        for b in (self.run_inline_btn, self.run_headless_btn, self.export_btn):
            b.disabled = False
        return True

    @staticmethod
    def _kind(p):
        if p.type == "choice":
            return "choice"
        if p.nullable or p.required:
            return "text"
        return {"int": "int", "float": "float", "bool": "bool", "str": "str"}.get(p.type, "text")

    def _make_input(self, p, value):
        import ipywidgets as w  # heavy: only when a widget is created

        kind = self._kind(p)
        common = dict(
            description=p.name,
            tooltip=p.help,
            style={"description_width": "10em"},
            layout=w.Layout(width="28em"),
        )
        if kind == "int":
            widget = w.IntText(**common)
        elif kind == "float":
            widget = w.FloatText(**common)
        elif kind == "bool":
            widget = w.Checkbox(indent=True, **common)
        elif kind == "choice":
            widget = w.Dropdown(
                options=[(repr(c) if not isinstance(c, str) else c, c) for c in p.choices],
                **common,
            )
        else:
            widget = w.Text(placeholder="required" if p.required else "", **common)
        self._write(p, widget, value)
        return widget

    def _write(self, p, widget, value):
        kind = self._kind(p)
        if kind in ("int", "float", "bool", "choice") and not isinstance(value, str):
            widget.value = value
        elif kind in ("int", "float", "bool", "choice"):
            widget.value = p.check(value)
        elif kind == "str":
            widget.value = "" if value is None else str(value)
        else:  # text parsed by type
            if value is None:
                widget.value = "" if p.required else "None"
            elif isinstance(value, str):
                widget.value = value
            elif p.type in ("list", "dict"):
                widget.value = json.dumps(value)
            elif isinstance(value, bool):
                widget.value = "true" if value else "false"
            else:
                widget.value = repr(value) if isinstance(value, float) else str(value)

    def _read(self, p, widget):
        kind = self._kind(p)
        if kind == "text":
            text = widget.value.strip()
            return None if text == "" else text
        return widget.value
