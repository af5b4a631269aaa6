"""The label-map parsers: one module per parser family, each registering its parsers and
their checkpoints without importing torch.

``HELPER_MODULES`` register nothing and import torch at module level (the networks): the
plugin walk (:mod:`engines.plugins`) leaves them out; the parsers import them when they
build a network.
"""

HELPER_MODULES = ("deeplab_network",)
