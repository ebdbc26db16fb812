"""The report's recorded-results table (every record with its value, error, unit, run
and label; long lists cut; replaced, never duplicated) and progress bars kept in their
final state."""

import nbformat

from scs_nb.batch.report import RESULTS_TAG, add_header, results_html

RECORDS = [
    {
        "name": "w0",
        "value": 50.0312,
        "error": 0.0961,
        "unit": "um",
        "run": 150,
        "label": "beam radius (1/e²)",
    },
    {
        "name": "pulse_ids",
        "value": list(range(1000, 1480, 24)),
        "error": None,
        "unit": None,
        "run": 32,
    },
]


def test_table_lists_every_record():
    html = results_html(RECORDS)
    assert "Recorded results" in html
    for text in ("<code>w0</code>", "50.0312", "± 0.0961", "um", "150", "beam radius (1/e²)"):
        assert text in html
    # 20 pulse ids: eight shown, the length given
    assert "1000, 1024" in html and "(20 values)" in html and "1456" not in html
    assert results_html([]) == ""


def test_cell_added_once_at_the_end():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# T"), nbformat.v4.new_code_cell("x = 1")]
    for _ in range(2):
        add_header(nb, "knife_edge", {"proposal": 900001, "run": 150}, records=RECORDS)
    tagged = [c for c in nb.cells if RESULTS_TAG in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and nb.cells[-1] is tagged[0]
    add_header(nb, "knife_edge", {"proposal": 900001, "run": 150})
    assert not [c for c in nb.cells if RESULTS_TAG in c.metadata.get("tags", [])]


def test_progress_bar_keeps_its_final_state():
    from scs_nb.batch.report import collapse_streams

    nb = nbformat.v4.new_notebook()
    out = [
        nbformat.v4.new_output("stream", name="stdout", text="photons: 6943\n"),
        nbformat.v4.new_output("stream", name="stderr", text="\rfit:   0%|  | 0/24"),
        nbformat.v4.new_output("stream", name="stderr", text="\rfit: 100%|##| 24/24"),
        nbformat.v4.new_output("stream", name="stderr", text=["\n", "\rsum:   0%\rsum: 100%\n"]),
    ]
    nb.cells = [nbformat.v4.new_code_cell("x", outputs=out)]
    collapse_streams(nb)
    texts = [(o.name, o.text) for o in nb.cells[0].outputs]
    assert texts == [("stdout", "photons: 6943\n"), ("stderr", "fit: 100%|##| 24/24\nsum: 100%\n")]
