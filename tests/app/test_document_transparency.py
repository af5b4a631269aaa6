"""The editor's fill of a picture with transparency: the document's request carries the
picture's alpha, so the colour stored under fully transparent pixels does not bleed into
the visible fill."""

from __future__ import annotations

import numpy as np

from app.document import Document, Layer
from engines.classical.patchmatch.engine import PatchMatchEngine
from tests.engines.test_transparent_sources import DARK, _picture


def test_the_documents_request_carries_the_alpha_and_the_fill_takes_no_black():
    image, alpha, mask = _picture()
    document = Document(image, alpha)
    document.replace_layer(Layer.MASK, mask, "Import mask")
    request = document.build_request(seed=1)
    assert np.array_equal(request.alpha, alpha) and not request.alpha.flags.writeable
    result = list(PatchMatchEngine().run(request))[-1].image
    visible = (mask == 255) & (alpha == 255)
    assert int((result[visible].max(axis=1) < DARK).sum()) == 0
    assert np.array_equal(result[mask == 0], image[mask == 0])
    assert Document(image).build_request().alpha is None
