"""A tagged PDF from ReportLab: structure tree, marked content, artifacts, outline.

Open-source ReportLab writes no structure tree, so the reports tag themselves while they are
laid out, before anything is signed (tagging after signing would be a change the signatures
detect):

* every :class:`TaggedParagraph` wraps its text in a marked-content sequence
  (``/P <</MCID n>> BDC … EMC``) and becomes a structure element: the report title ``H1``,
  section headings ``H2``, sub-headings ``H3``, everything else ``P``; headings also get an
  outline entry (bookmark);
* tables (through ReportLab's table ``renderCB`` hook) become ``Table`` → ``TR`` →
  ``TH``/``TD``; a header row repeated on a continuation page, cell backgrounds and grid
  lines are artifacts; a table split over pages stays one ``Table`` element;
* graphics (:class:`TaggedFigure`) become ``Figure`` elements with an ``/Alt`` text;
* page furniture (footer, signature-box frames) is marked ``/Artifact``.

At :meth:`Tagger.finish` the catalog gets ``/StructTreeRoot`` (a ``Document`` element holding
everything in reading order = story order), ``/MarkInfo <</Marked true>>`` and each page
``/StructParents`` and ``/Tabs /S``. The language (``/Lang sv-SE``), title and
``DisplayDocTitle`` are set by the document template.

Header cells carry ``/Scope`` (``Column`` for a header row, ``Row`` for the label column of a
label/value table).

Not done: the signature widgets pyHanko adds when signing are not in the structure tree
(no ``Form``/``OBJR`` elements), and no XMP metadata stream (with a PDF/UA identifier) is
written; the document has not been checked with a PDF/UA validator (veraPDF/PAC are not
installed here), only with poppler's structure dump.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from reportlab.pdfbase.pdfdoc import (
    PDFArray,
    PDFDictionary,
    PDFName,
    PDFObjectReference,
    PDFPage,
    PDFString,
)
from reportlab.platypus import Flowable, Paragraph, Table

__all__ = ["TaggedFigure", "TaggedParagraph", "Tagger", "table_render_callback"]

#: Paragraph style name -> structure type (see riskreg.reports._layout.STYLES).
STYLE_ROLES = {"title": "H1", "h1": "H2", "h2": "H3"}
#: Headings that get an outline entry, with their outline level.
OUTLINE_LEVELS = {"h1": 0, "h2": 1}

# A reportlab Table that carries our marks between the renderCB calls (_tag_group,
# _tag_continued, _tag_artifact_row, _tag_cell_content): attributes no stub can know.
TagTable = Any


@dataclass(eq=False)
class Element:
    """A structure element: a type, its kids in order (elements or (page, MCID) pairs)."""

    role: str
    parent: Element | None = None
    kids: list[Element | tuple[int, int]] = field(default_factory=list)
    alt: str = ""
    #: A header cell's /Scope (Column for a header row, Row for a label column).
    scope: str = ""


class Tagger:
    """Collects the structure of one document while ReportLab draws it."""

    def __init__(self) -> None:
        self.root = Element("Document")
        self._stack: list[Element] = [self.root]
        self._mcids: dict[int, list[Element]] = {}
        self._artifact_depth = 0
        self._tables: dict[int, Element] = {}
        #: (page index, title, outline level, top of the heading), in story order.
        self.headings: list[tuple[int, str, int, float]] = []

    # ------------------------------------------------------------ drawing

    @property
    def current(self) -> Element:
        return self._stack[-1]

    def open(self, role: str, *, alt: str = "") -> Element:
        element = Element(role, self.current, alt=alt)
        self.current.kids.append(element)
        self._stack.append(element)
        return element

    def push(self, element: Element) -> None:
        self._stack.append(element)

    def close(self) -> None:
        self._stack.pop()

    def begin_content(self, canvas: Any, role: str, *, alt: str = "") -> bool:
        """Open an element with one marked-content sequence; False inside an artifact."""
        if self._artifact_depth:
            return False
        element = self.open(role, alt=alt)
        page = canvas.getPageNumber() - 1
        owners = self._mcids.setdefault(page, [])
        mcid = len(owners)
        owners.append(element)
        element.kids.append((page, mcid))
        canvas._code.append(f"/{role} <</MCID {mcid}>> BDC")
        return True

    def end_content(self, canvas: Any) -> None:
        canvas._code.append("EMC")
        self.close()

    def begin_artifact(self, canvas: Any) -> None:
        self._artifact_depth += 1
        canvas._code.append("/Artifact BMC")

    def end_artifact(self, canvas: Any) -> None:
        canvas._code.append("EMC")
        self._artifact_depth -= 1

    def heading(self, canvas: Any, title: str, level: int, top: float) -> None:
        self.headings.append((canvas.getPageNumber() - 1, title, level, top))

    def bookmark_page(self, canvas: Any, page: int) -> None:
        """Destinations of the headings on ``page``; call while that page is the current one
        of the PDF document (the numbered canvas emits its pages only at save time)."""
        for number, (on_page, _title, _level, top) in enumerate(self.headings):
            if on_page == page:
                canvas.bookmarkPage(f"riskreg-h{number}", fit="XYZ", left=0, top=top)

    def outline(self, canvas: Any) -> None:
        """The outline (bookmarks panel) of the headings, after every page is bookmarked."""
        for number, (_page, title, level, _top) in enumerate(self.headings):
            canvas.addOutlineEntry(title, f"riskreg-h{number}", level=level, closed=False)
        if self.headings:
            canvas.showOutline()

    # ------------------------------------------------------------ tables

    def table_element(self, table: TagTable) -> tuple[Element, bool]:
        """The Table element of ``table``, shared by the parts of a table split over pages."""
        group = getattr(table, "_tag_group", None)
        if group is None:
            group = table._tag_group = id(table)
        element = self._tables.get(group)
        if element is not None:
            return element, True
        element = Element("Table", self.current)
        self.current.kids.append(element)
        self._tables[group] = element
        return element, False

    # ------------------------------------------------------------ the PDF objects

    def finish(self, document: Any, page_count: int) -> None:
        """Write the structure tree into ``document`` (ReportLab's PDFDocument)."""
        self._prune(self.root)
        names: dict[int, str] = {}
        elements: list[Element] = []

        def collect(element: Element) -> None:
            names[id(element)] = f"riskregStruct{len(elements) + 1}"
            elements.append(element)
            for kid in element.kids:
                if isinstance(kid, Element):
                    collect(kid)

        collect(self.root)

        def page_ref(page: int) -> PDFObjectReference:
            return PDFObjectReference(f"Page{page + 1}")

        tree_root = PDFDictionary({"Type": PDFName("StructTreeRoot")})
        document.Reference(tree_root, "riskregStructTreeRoot")
        for element in elements:
            kids: list[Any] = []
            for kid in element.kids:
                if isinstance(kid, Element):
                    kids.append(PDFObjectReference(names[id(kid)]))
                else:
                    page, mcid = kid
                    kids.append(
                        PDFDictionary({"Type": PDFName("MCR"), "Pg": page_ref(page), "MCID": mcid})
                    )
            parent = (
                PDFObjectReference(names[id(element.parent)])
                if element.parent is not None
                else PDFObjectReference("riskregStructTreeRoot")
            )
            entries: dict[str, Any] = {
                "Type": PDFName("StructElem"),
                "S": PDFName(element.role),
                "P": parent,
                "K": PDFArray(kids),
            }
            if element.alt:
                entries["Alt"] = PDFString(element.alt)
            if element.scope:
                entries["A"] = PDFDictionary(
                    {"O": PDFName("Table"), "Scope": PDFName(element.scope)}
                )
            document.Reference(PDFDictionary(entries), names[id(element)])
        numbers: list[Any] = []
        for page in range(page_count):
            owners = self._mcids.get(page, [])
            numbers += [page, PDFArray([PDFObjectReference(names[id(e)]) for e in owners])]
        tree_root.dict["K"] = PDFArray([PDFObjectReference(names[id(self.root)])])
        tree_root.dict["ParentTree"] = PDFDictionary({"Nums": PDFArray(numbers)})
        tree_root.dict["ParentTreeNextKey"] = page_count
        catalog = document.Catalog
        catalog.StructTreeRoot = PDFObjectReference("riskregStructTreeRoot")
        catalog.MarkInfo = PDFDictionary({"Marked": "true"})
        for number, page in enumerate(document.Pages.pages):
            _mark_page(page, number)

    def _prune(self, element: Element) -> None:
        """Drop elements that ended up with no content (e.g. an empty table cell)."""
        kept: list[Element | tuple[int, int]] = []
        for kid in element.kids:
            if isinstance(kid, Element):
                self._prune(kid)
                if not kid.kids:
                    continue
            kept.append(kid)
        element.kids = kept


def _mark_page(page: Any, number: int) -> None:
    # a reportlab PDFPage; the attributes set here are written into the page dictionary
    page.__NoDefault__ = [*PDFPage.__NoDefault__, "StructParents", "Tabs"]
    page.StructParents = number
    page.Tabs = PDFName("S")


def _tagger(canvas: Any) -> Tagger | None:
    return getattr(canvas, "tagger", None)


class TaggedParagraph(Paragraph):
    """A Paragraph that tags itself (P / H1–H3) and adds headings to the outline."""

    def drawOn(self, canvas: Any, x: float, y: float, _sW: float = 0) -> None:
        tagger = _tagger(canvas)
        if tagger is None:
            super().drawOn(canvas, x, y, _sW)  # type: ignore[call-arg]  # stub lacks _sW
            return
        style = self.style.name
        if style in OUTLINE_LEVELS and not tagger._artifact_depth:
            top = y + self.height
            tagger.heading(canvas, self.getPlainText(), OUTLINE_LEVELS[style], top)
        tagged = tagger.begin_content(canvas, STYLE_ROLES.get(style, "P"))
        super().drawOn(canvas, x, y, _sW)  # type: ignore[call-arg]  # as above
        if tagged:
            tagger.end_content(canvas)


class TaggedFigure(Flowable):
    """A graphic as a Figure element with a text alternative."""

    def __init__(self, inner: Flowable, alt: str) -> None:
        super().__init__()
        self.inner = inner
        self.alt = alt

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self.width, self.height = self.inner.wrap(available_width, available_height)
        return self.width, self.height

    def drawOn(self, canvas: Any, x: float, y: float, _sW: float = 0) -> None:
        tagger = _tagger(canvas)
        tagged = tagger.begin_content(canvas, "Figure", alt=self.alt) if tagger else False
        self.inner.drawOn(canvas, x, y, _sW)  # type: ignore[call-arg]  # as above
        if tagged and tagger is not None:
            tagger.end_content(canvas)


def table_render_callback(table: TagTable, command: str, *args: Any) -> None:
    """ReportLab's ``renderCB`` hook: Table/TR/TH/TD elements, decoration as artifacts."""
    canvas = table.canv
    tagger = _tagger(canvas)
    if tagger is None:
        return
    header_rows = int(getattr(table, "repeatRows", 0) or 0)
    if command == "startTable":
        element, continued = tagger.table_element(table)
        table._tag_continued = continued
        tagger.push(element)
    elif command == "endTable":
        tagger.close()
    elif command in ("startBG", "startLines"):
        tagger.begin_artifact(canvas)
    elif command in ("endBG", "endLines"):
        tagger.end_artifact(canvas)
    elif command == "startRow":
        row = args[0]
        if getattr(table, "_tag_continued", False) and row < header_rows:
            tagger.begin_artifact(canvas)  # the header repeated on a continuation page
            table._tag_artifact_row = True
        else:
            table._tag_artifact_row = False
            tagger.open("TR")
    elif command == "endRow":
        if table._tag_artifact_row:
            tagger.end_artifact(canvas)
        else:
            tagger.close()
    elif command == "startCell":
        if table._tag_artifact_row:
            table._tag_cell_content = False
            return
        row, column, cell = args[0], args[1], args[2]
        header_columns = int(getattr(table, "tag_header_columns", 0))
        if row < header_rows:
            tagger.open("TH").scope = "Column"
        elif column < header_columns:
            tagger.open("TH").scope = "Row"
        else:
            tagger.open("TD")
        # Text drawn by the table itself (not a tagged Paragraph) is tagged as the cell's own.
        table._tag_cell_content = not _tags_itself(cell) and tagger.begin_content(canvas, "Span")
    elif command == "endCell":
        if table._tag_artifact_row:
            return
        if table._tag_cell_content:
            tagger.end_content(canvas)
        tagger.close()


def _tags_itself(cell: Any) -> bool:
    if isinstance(cell, TaggedParagraph | TaggedFigure):
        return True
    if isinstance(cell, Sequence) and not isinstance(cell, str):
        return bool(cell) and all(_tags_itself(part) for part in cell)
    return False


def mark_split_parts(table: TagTable, parts: list[Any]) -> list[Any]:
    """Give the parts of a split table the group of the table they came from."""
    group = getattr(table, "_tag_group", None) or id(table)
    table._tag_group = group
    for part in parts:
        if isinstance(part, Table):
            setattr(part, "_tag_group", group)  # noqa: B010  (a mark no stub knows: TagTable)
    return parts
