"""The training-gap chapter's sentences that quote its measurements."""

import numpy as np

from diffgen_lib.measure.evaluation import GapCurves
from diffgen_lib.studies import gap_prose
from diffgen_lib.studies.training_gap import Spacing


def test_validation_trend_finds_the_turn_or_says_it_still_falls():
    steps = np.array([10, 20, 30])
    assert gap_prose.validation_trend(np.array([3.0, 1.0, 2.0]), steps) == \
        "turns upward after step 20 (its minimum, 1; 2 at the last step)"
    assert gap_prose.validation_trend(np.array([3.0, 2.0, 1.0]), steps) == "is still falling at the last step (1)"


def test_memorizer_text_says_infinite_where_the_memorizer_has_no_training_error():
    c = GapCurves(sigmas=np.array([1.0, 0.1]), steps=np.array([5]), train_error=np.array([[1.0, 0.5]]),
                  val_error=np.array([[2.0, 1.0]]), n_eval=3)
    opt = GapCurves(sigmas=c.sigmas, steps=np.array([0]), train_error=np.array([[0.5, 0.0]]),
                    val_error=np.array([[4.0, 2.0]]), n_eval=3)
    assert "the memorizer's 7." in gap_prose.memorizer_text(c, opt, 0)
    text = gap_prose.memorizer_text(c, opt, 1)
    assert "infinite (its training error is 0)" in text and "against the memorizer's <1e-6" in text
    assert "denoises validation images 2 times better" in text


def test_spacing_and_summary_texts_quote_ratios_to_the_resolve_level():
    sp = Spacing(dim=4, n_train=10, train_nn=2.0, val_nn=4.0, sigma_data=0.5)
    assert f"a factor {1.0 / sp.resolve_sigma:.3g} from" in gap_prose.spacing_text(sp, 1.0)
    assert "2 per pixel (4 $\\sigma_\\mathrm{data}$)" in gap_prose.spacing_text(sp, 1.0)
    assert "12.8 epochs of the 500 training images" in gap_prose.summary_text(0.3, 1.0, 0.5, 100, 64, 500, sp)


def test_widths_and_scales_texts():
    assert gap_prose.widths_text({32: 4000, 8: 1000}).startswith(
        "The widths 8, 32 span a factor of 4 in parameter count (1,000 to 4,000)")
    text = gap_prose.scales_text(("8x8", "14x14"), (1.5, 0.5), (0.25, 0.125), 1000, 3)
    assert text.startswith("At 14x14 the gap peaks at 0.5 $\\sigma_\\mathrm{data}$ (8x8: 1.5)")
    assert "below 0.125 $\\sigma_\\mathrm{data}$ (8x8: 0.25)" in text and "over its 3 training seeds" in text
