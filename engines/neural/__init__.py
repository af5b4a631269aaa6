"""The neural engines: one module per engine family, each registering its engines and their
checkpoints without importing torch (the ``engines`` and ``models`` listings, and the
classical engines' runs, need none).

``HELPER_MODULES`` register nothing and import torch at module level: the networks, their
building blocks and the trainer. The plugin walk (:mod:`engines.plugins`) leaves them out;
the engines import them when they build a network.
"""

HELPER_MODULES = ("contextual_attention", "deepfill_v1_network", "deepfill_v2_network",
                  "edgeconnect_network", "lama_network", "migan_network", "semantic_network",
                  "semantic_training", "windows")
