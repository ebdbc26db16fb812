"""Array-level building blocks of the ToolBox (``toolbox_scs.base``): the
knife-edge fit on plain numpy arrays."""

from .knife_edge import knife_edge, knife_edge_base, prepare_arrays, range_mask

__all__ = ["knife_edge", "knife_edge_base", "prepare_arrays", "range_mask"]
