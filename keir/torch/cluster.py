"""pykeops.torch.cluster's names, so code importing them (GeomLoss) loads; they build
block-sparse ranges, which keir does not run yet, so each raises keir.NotSupportedError.

Absolute imports only: this module is also imported as pykeops.torch.cluster when
sys.modules["pykeops.torch"] is keir.torch.
"""

from keir.errors import NotSupportedError

NAMES = ("grid_cluster", "cluster_ranges", "cluster_centroids", "cluster_ranges_centroids",
         "sort_clusters", "from_matrix", "swap_axes")  # fmt: skip


def _refuse(name: str):
    def refused(*args, **kwargs):
        raise NotSupportedError(
            f"keir.torch.cluster.{name}: block-sparse reductions (ranges) are not supported yet"
        )

    refused.__name__ = name
    return refused


globals().update({name: _refuse(name) for name in NAMES})
__all__ = list(NAMES)
