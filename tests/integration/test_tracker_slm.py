"""The context-tracking SLM itself (fine-tuned, converted, int8): a request's prediction is
the same whatever it is batched with. Within one turn the agent batches its main request
with look-ahead requests, and the server batches concurrent conversations' requests."""

import pytest

from app.config import Settings
from app.dialogue import load_tracker
from dialog.tracker import FORWARD_BATCH, TrackRequest
from dialog.turn_reading import GLOBAL_LABELS

pytestmark = pytest.mark.slow

CARD = "Have you received your debit card ending in 9031?"
TEXTS = "Would you like text alerts for account activity?"
REQUESTS = [
    TrackRequest(CARD, "Got the card, thanks", ("yes", "no", *GLOBAL_LABELS)),
    TrackRequest(TEXTS, "I'd rather not get texts", ("yes", "no", "none")),
    TrackRequest(TEXTS, "no", ("yes", "no", "none")),
    TrackRequest("May I speak with Grace Kim?", "Sorry, she moved out last year and I don't "
                 "know where she lives now, you should update your records",
                 ("yes", "who", "not_them", *GLOBAL_LABELS)),
]


@pytest.fixture(scope="module")
def slm():
    return load_tracker(Settings(), "slm-only")


def test_a_prediction_does_not_depend_on_its_batch(slm):
    alone = [slm.predict([request])[0] for request in REQUESTS]
    batches = [REQUESTS, REQUESTS[::-1], REQUESTS * (FORWARD_BATCH // 2 + 1)]
    for batch in batches:
        together = slm.predict(batch)
        assert len(together) == len(batch)
        for request, prediction in zip(batch, together, strict=True):
            single = alone[REQUESTS.index(request)]
            assert prediction.label == single.label, (request.utterance, prediction, single)
            # int8 arithmetic on a padded row is not bit-exact: on an AVX-512 host the
            # shortest prompt ("no") scores 0.61 batched and 0.55 alone. The bug this guards
            # against read positions inside the prompt and changed labels outright.
            assert prediction.confidence == pytest.approx(single.confidence, abs=0.1)
