"""dropout_viz: dropout made visible as an ensemble of thinned sub-networks that share weights."""

__version__ = "0.1.0"
