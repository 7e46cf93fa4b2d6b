"""Tables on the terminal that cut nothing a user needs, and stay parseable when piped.

One description of a table, three layouts:

- on a terminal wide enough, a rich table whose columns are never narrower than their
  longest word (ids and addresses are kept whole, never "2231000…");
- on a narrower terminal, first without the columns marked droppable (named below the
  table) until it fits and reads compactly, then, if it still does not fit, one stacked
  record per row (``header  value``);
- piped or redirected, tab-separated lines: a ``# title`` line, the header, one row per
  line, no colour and no wrapping, for grep, cut and awk.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

from rich.cells import cell_len
from rich.console import Console, JustifyMethod
from rich.table import Table
from rich.text import Text

Cell = str | Text  # a str is plain text, never markup: cells quote captures and servers


@dataclass(frozen=True)
class Column:
    """One column: ``whole`` keeps every value on its lines uncut (ids, addresses);
    ``drop`` ranks it among the columns left out on a narrow terminal (1 goes first)."""

    header: str
    justify: JustifyMethod = "left"
    whole: bool = False
    drop: int | None = None


@dataclass
class TableData:
    """A titled table of text cells; a cell's lines are kept apart in every layout."""

    title: str
    columns: list[Column]
    rows: list[list[Cell]] = field(default_factory=list)

    def add_row(self, *cells: Cell) -> None:
        """Append a row, one cell per column."""
        if len(cells) != len(self.columns):
            raise ValueError(f"{len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(list(cells))


def _text(cell: Cell) -> Text:
    return cell if isinstance(cell, Text) else Text(cell)


def _plain(cell: Cell) -> str:
    return cell.plain if isinstance(cell, Text) else cell


PADDING = 2  # a space either side of each cell
MAX_LINES_PER_ROW = 2  # on average: beyond that a narrower table (fewer columns) reads better
NO_WIDTHS: list[int] = []


def _extent(text: str, whole: bool) -> tuple[int, int]:
    """(narrowest, widest) a cell can be laid out: its longest word (its longest line when
    ``whole``) and its longest line."""
    lines = text.splitlines() or [""]
    widest = max(cell_len(line) for line in lines)
    if whole:
        return widest, widest
    words = text.split() or [""]
    return max(cell_len(word) for word in words), widest


def _widths(table: TableData, keep: list[int], room: int) -> list[int]:
    """Content widths of the kept columns that fit ``room`` columns with no word cut, or
    an empty list when none do. (rich's own fitting shrinks columns below their words.)"""
    narrow, wide = [], []
    for index in keep:
        column = table.columns[index]
        extents = [_extent(column.header, False)]
        extents += [_extent(_plain(row[index]), column.whole) for row in table.rows]
        narrow.append(max(e[0] for e in extents))
        wide.append(max(max(e[1] for e in extents), narrow[-1]))
    room -= len(keep) + 1 + PADDING * len(keep)  # borders and padding
    if sum(narrow) > room:
        return NO_WIDTHS
    widths = list(wide)
    while sum(widths) > room:
        # Take a column from the one with the most room to give, one character at a time.
        slack, index = max((w - n, i) for i, (w, n) in enumerate(zip(widths, narrow)))
        widths[index] -= min(slack, sum(widths) - room)
    return widths


def _rich_table(table: TableData, keep: list[int], widths: list[int]) -> Table:
    rich = Table(title=table.title)
    for index, width in zip(keep, widths):
        column = table.columns[index]
        rich.add_column(column.header, justify=column.justify, width=width)
    for row in table.rows:
        rich.add_row(*(_text(row[index]) for index in keep))
    return rich


def _print_tab_separated(console: Console, table: TableData) -> None:
    def line(cells: list[str]) -> str:
        # A cell's own lines, tabs and line breaks would break the row apart.
        return "\t".join(" ".join(c.split()) for c in cells)

    out = [f"# {table.title}", line([c.header for c in table.columns])]
    out += [line([_plain(cell) for cell in row]) for row in table.rows]
    # Straight to the file: rich would turn the tabs into spaces.
    console.file.write("\n".join(out) + "\n")


def _print_stacked(console: Console, table: TableData) -> None:
    console.print(Text(table.title, style="bold"))
    width = max(len(c.header) for c in table.columns)
    for row in table.rows:
        record = Table.grid(padding=(0, 2))
        record.add_column(no_wrap=True, style="dim", min_width=width)
        record.add_column(overflow="fold")
        for column, cell in zip(table.columns, row):
            record.add_row(column.header, _text(cell))
        console.print(record)
        console.print()


def _height(table: TableData, keep: list[int], widths: list[int]) -> int:
    """Terminal lines the rows take at these widths (words wrapped, never cut)."""
    total = 0
    for row in table.rows:
        lines = 1
        for index, width in zip(keep, widths):
            wrapped = sum(
                len(textwrap.wrap(line, width, break_long_words=False) or [""])
                for line in _plain(row[index]).splitlines() or [""]
            )
            lines = max(lines, wrapped)
        total += lines
    return total


def print_table(console: Console, table: TableData) -> None:
    """Print ``table`` in the layout the console calls for (see the module's docstring).

    On a terminal the droppable columns go, in their order, while the table does not fit
    or its rows wrap to more than MAX_LINES_PER_ROW lines on average; of the layouts that
    fit, the shortest wins when none is that compact."""
    if not console.is_terminal:
        _print_tab_separated(console, table)
        return
    keep = list(range(len(table.columns)))
    droppable = sorted((c.drop, i) for i, c in enumerate(table.columns) if c.drop is not None)
    layouts: list[tuple[int, list[int], list[int]]] = []  # (height, kept, widths)
    while True:
        widths = _widths(table, keep, console.width)
        if widths:
            height = _height(table, keep, widths)
            layouts.append((height, list(keep), widths))
            if height <= MAX_LINES_PER_ROW * max(len(table.rows), 1):
                break
        if not droppable:
            break
        keep.remove(droppable.pop(0)[1])
    if not layouts:
        _print_stacked(console, table)
        return
    compact = [layout for layout in layouts if layout[0] <= MAX_LINES_PER_ROW * len(table.rows)]
    _, keep, widths = compact[0] if compact else min(layouts, key=lambda layout: layout[0])
    console.print(_rich_table(table, keep, widths))
    dropped = [c.header for i, c in enumerate(table.columns) if i not in keep]
    if dropped:
        console.print(
            Text(f"(left out for the terminal's width: {', '.join(dropped)})", style="dim")
        )
