"""Drawn elements of the follow-up report: the risk heat map and the traffic lights.

They are custom Flowables rather than images so they stay vector, print sharply, keep their
text extractable (pdftotext, screen readers) and use the embedded DejaVu font.
"""

from __future__ import annotations

from reportlab.lib import colors
from reportlab.platypus import Flowable

from ._layout import FONT, FONT_BOLD
from .data import HeatMap, TrafficLight

TRAFFIC_COLOURS: dict[TrafficLight, colors.Color] = {
    TrafficLight.GREEN: colors.HexColor("#2e7d32"),
    TrafficLight.YELLOW: colors.HexColor("#f9a825"),
    TrafficLight.RED: colors.HexColor("#c62828"),
}


class TrafficLightFlowable(Flowable):
    """A filled circle in the light's colour followed by its name.

    The word is printed too: colour alone would fail colour-blind readers and black-and-white
    printouts of the nämnd's papers.
    """

    def __init__(self, light: TrafficLight, radius: float = 4.5) -> None:
        super().__init__()
        self.light = light
        self.radius = radius

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        self.width = min(avail_width, 60.0)
        self.height = 2 * self.radius + 2
        return self.width, self.height

    def draw(self) -> None:
        canvas = self.canv
        r = self.radius
        canvas.setFillColor(TRAFFIC_COLOURS[self.light])
        canvas.setStrokeColor(colors.HexColor("#333333"))
        canvas.setLineWidth(0.4)
        canvas.circle(r + 1, r + 1, r, stroke=1, fill=1)
        canvas.setFillColor(colors.black)
        canvas.setFont(FONT, 8)
        canvas.drawString(2 * r + 5, r - 1.5, self.light.value.capitalize())


class HeatMapFlowable(Flowable):
    """The risk matrix as a coloured grid with the number of risks in each cell.

    Sannolikhet runs up the vertical axis (level 1 at the bottom), konsekvens along the
    horizontal axis, which is how the regions' risk analyses draw it.
    """

    LABEL_WIDTH = 105.0
    CELL_WIDTH = 78.0
    CELL_HEIGHT = 38.0
    AXIS_BAND = 34.0

    def __init__(self, heat_map: HeatMap) -> None:
        super().__init__()
        self.heat_map = heat_map
        n = heat_map.size
        self.width = 14 + self.LABEL_WIDTH + n * self.CELL_WIDTH
        self.height = n * self.CELL_HEIGHT + self.AXIS_BAND

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        return self.width, self.height

    def _grid_origin(self) -> tuple[float, float]:
        return 14 + self.LABEL_WIDTH, self.AXIS_BAND

    def draw(self) -> None:
        self._draw_cells()
        self._draw_probability_axis()
        self._draw_consequence_axis()

    def _draw_cells(self) -> None:
        canvas = self.canv
        x0, y0 = self._grid_origin()
        for p, row in enumerate(self.heat_map.cells):
            for c, cell in enumerate(row):
                x = x0 + c * self.CELL_WIDTH
                y = y0 + p * self.CELL_HEIGHT
                canvas.setFillColor(colors.HexColor(cell.colour))
                canvas.setStrokeColor(colors.white)
                canvas.setLineWidth(1.5)
                canvas.rect(x, y, self.CELL_WIDTH, self.CELL_HEIGHT, stroke=1, fill=1)
                canvas.setFillColor(colors.black if cell.count else colors.HexColor("#555555"))
                canvas.setFont(FONT_BOLD if cell.count else FONT, 13 if cell.count else 10)
                canvas.drawCentredString(
                    x + self.CELL_WIDTH / 2, y + self.CELL_HEIGHT / 2 - 4, str(cell.count)
                )

    def _draw_probability_axis(self) -> None:
        canvas = self.canv
        x0, y0 = self._grid_origin()
        canvas.setFillColor(colors.black)
        canvas.setFont(FONT, 7.5)
        for p, label in enumerate(self.heat_map.probability_labels):
            y = y0 + p * self.CELL_HEIGHT + self.CELL_HEIGHT / 2 - 3
            canvas.drawRightString(x0 - 4, y, f"{p + 1} {label}")
        canvas.saveState()
        canvas.setFont(FONT_BOLD, 8.5)
        canvas.translate(8, y0 + self.heat_map.size * self.CELL_HEIGHT / 2)
        canvas.rotate(90)
        canvas.drawCentredString(0, 0, "Sannolikhet")
        canvas.restoreState()

    def _draw_consequence_axis(self) -> None:
        canvas = self.canv
        x0, y0 = self._grid_origin()
        canvas.setFillColor(colors.black)
        canvas.setFont(FONT, 7.5)
        for c, label in enumerate(self.heat_map.consequence_labels):
            x = x0 + c * self.CELL_WIDTH + self.CELL_WIDTH / 2
            canvas.drawCentredString(x, y0 - 11, f"{c + 1} {label}")
        canvas.setFont(FONT_BOLD, 8.5)
        canvas.drawCentredString(
            x0 + self.heat_map.size * self.CELL_WIDTH / 2, y0 - 27, "Konsekvens"
        )
