"""One visual language for every figure: colours, font sizes, line widths, shared layout.

Class colours follow Okabe & Ito (2008), which stays distinguishable under the common forms of
colour blindness; two colours from Paul Tol's muted scheme extend it to ten classes.
Weight sign uses the Okabe–Ito blue/vermillion pair. Grey is reserved for dropped units.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import plotly.graph_objects as go

# Class order puts the strongest blue/orange pair first: most datasets here have two classes.
CLASS_COLORS: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow
    "#000000",  # black
    "#882255",  # wine (Tol)
    "#44AA99",  # teal (Tol)
)
MAX_CLASSES = len(CLASS_COLORS)

POSITIVE_WEIGHT_COLOR = "#0072B2"  # blue
NEGATIVE_WEIGHT_COLOR = "#D55E00"  # vermillion (orange-red)

DROPPED_FILL = "#C8C8C8"  # light grey fill of a dropped unit
DROPPED_MARK = "#4D4D4D"  # dark grey "x" drawn over it
KEPT_FILL = "#FFFFFF"
NODE_OUTLINE = "#333333"
POINT_OUTLINE = "#1A1A1A"
BOUNDARY_LINE = "#1A1A1A"
MARKER_LINE = "#555555"  # the selected-epoch marker

# Regression (1-D x → y): one colour per role in every curve chart. The thinned network is
# green as the "thinned nets" curve of the training charts; the test-time (full) network
# vermillion and dashed as in the convergence chart; an average of sub-networks blue. Points are
# one dark grey (no classes): training filled, test hollow, as on the maps.
THINNED_CURVE_COLOR = CLASS_COLORS[2]  # bluish green
TEST_TIME_CURVE_COLOR = CLASS_COLORS[5]  # vermillion
MEAN_CURVE_COLOR = CLASS_COLORS[0]  # blue
REGRESSION_POINT_COLOR = "#4D4D4D"
MSE_LABEL = "MSE (y standardised)"

FONT_FAMILY = "Source Sans Pro, Helvetica, Arial, sans-serif"
BASE_FONT_SIZE = 15
PROJECTOR_FONT_SIZE = 22

# Constant so that a chart keeps the user's zoom when only its data changes.
UIREVISION = "dropout_viz"

PLOTLY_CONFIG: dict[str, Any] = {
    "displaylogo": False,
    "toImageButtonOptions": {"format": "png", "scale": 2, "filename": "dropout_viz"},
    "modeBarButtonsToRemove": ["lasso2d", "select2d"],
}


def class_color(k: int) -> str:
    """Colour of class k (wraps after ten classes rather than failing)."""
    return CLASS_COLORS[int(k) % MAX_CLASSES]


def font_size(projector: bool = False) -> int:
    return PROJECTOR_FONT_SIZE if projector else BASE_FONT_SIZE


def line_scale(projector: bool = False) -> float:
    """Multiplier for line widths and marker sizes: thicker lines read better when projected."""
    return 1.6 if projector else 1.0


def hex_to_rgb(color: str) -> tuple[int, int, int]:
    color = color.lstrip("#")
    return int(color[0:2], 16), int(color[2:4], 16), int(color[4:6], 16)


def tint(color: str, strength: float) -> str:
    """Mix `color` with white: strength 0 gives white, 1 the colour itself."""
    r, g, b = (round(255 + (c - 255) * strength) for c in hex_to_rgb(color))
    return f"rgb({r},{g},{b})"


def rgba(color: str, alpha: float) -> str:
    r, g, b = hex_to_rgb(color)
    return f"rgba({r},{g},{b},{alpha:g})"


# Tick labels in a grey that passes WCAG AA on white (7.5:1); Streamlit's chart theme would
# otherwise draw them in #808495 (3.7:1).
AXIS_TEXT_COLOR = "#555555"
# Tick labels 12 px and axis titles 14 px, the sizes Streamlit's chart theme gives them (the
# live charts, ui/live_chart.py, are drawn without that theme).
_AXIS = {"gridcolor": "#EBF0F8", "linecolor": "#EBF0F8", "zerolinecolor": "#EBF0F8",
         "zerolinewidth": 2, "automargin": True, "ticks": "",
         "tickfont": {"color": AXIS_TEXT_COLOR, "size": 12},
         "title": {"font": {"color": AXIS_TEXT_COLOR, "size": 14}}}
# The look of Plotly's "plotly_white", reduced to what these figures use. Naming the full
# template costs ~10-18 ms per figure (it is copied and validated every time); this one ~0.5 ms,
# which matters when the epoch slider rebuilds three figures per step.
TEMPLATE = go.layout.Template(layout={"paper_bgcolor": "white", "plot_bgcolor": "white",
                                      "xaxis": _AXIS, "yaxis": _AXIS})


def legible_axes(fig: go.Figure) -> go.Figure:
    """Tick labels and axis titles of every axis in AXIS_TEXT_COLOR, set in the layout itself:
    Streamlit's chart theme replaces the template's axis fonts with its lighter grey."""
    font = {"color": AXIS_TEXT_COLOR}
    fig.update_xaxes(tickfont=font, title_font=font)
    fig.update_yaxes(tickfont=font, title_font=font)
    return fig


def base_layout(title: str = "", projector: bool = False) -> dict[str, Any]:
    """Layout settings every figure starts from; pass to `fig.update_layout(**base_layout(...))`."""
    size = font_size(projector)
    return {
        "template": TEMPLATE,
        # Bold as Streamlit's chart theme draws titles (the live charts go without the theme).
        "title": {"text": title, "font": {"size": round(size * 1.2), "weight": "bold"}, "x": 0.01,
                  "xanchor": "left"},
        "font": {"family": FONT_FAMILY, "size": size, "color": "#1A1A1A"},
        "hoverlabel": {"font": {"size": size}},
        "legend": {"font": {"size": size}},
        "margin": {"l": 10, "r": 10, "t": 60 if title else 30, "b": 10},
        "uirevision": UIREVISION,
    }


def typed_array(values: np.ndarray) -> dict[str, Any]:
    """An array in Plotly.js's typed-array form (base64 of its bytes, as Plotly itself encodes
    NumPy arrays), for parts of a figure that are built as plain dicts (animation frames)."""
    array = np.ascontiguousarray(values)
    spec = {"dtype": array.dtype.str[1:], "bdata": base64.b64encode(array.tobytes()).decode()}
    if array.ndim > 1:
        spec["shape"] = ", ".join(str(n) for n in array.shape)
    return spec
