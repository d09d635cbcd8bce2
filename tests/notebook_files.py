"""Small synthetic notebooks shaped like the analysts' ones, for runner and fault tests."""

from __future__ import annotations

from pathlib import Path

import nbformat

SUMMARY_CELL = (
    "from IPython.display import display\n"
    'display({"application/json": {"accounts": 3, "query_chars": len(looker)}}, raw=True)'
)


def make_notebook(
    path: Path, cells: list[str], *, parameters: str | None = 'looker = ""', summary: bool = False
) -> Path:
    """A notebook: optional tagged parameters cell, then `cells`, then an optional summary."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    if parameters is not None:
        cell = nbformat.v4.new_code_cell(parameters)
        cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    nb.cells.extend(nbformat.v4.new_code_cell(source) for source in cells)
    if summary:
        cell = nbformat.v4.new_code_cell(SUMMARY_CELL)
        cell.metadata["tags"] = ["summary"]
        nb.cells.append(cell)
    nbformat.write(nb, path)
    return path
