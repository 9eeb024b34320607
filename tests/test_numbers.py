"""The chapters' number formats."""

import math

from diffgen_lib.studies import numbers


def test_sig3_keeps_three_significant_digits_and_marks_roundoff_only_when_asked():
    assert numbers.sig3(123456.0) == "1.23e+05"
    assert numbers.sig3(0.012345) == "0.0123"
    assert numbers.sig3(0.0) == "0"
    assert numbers.sig3(0.0, roundoff=True) == "<1e-6"
    assert numbers.sig3(-3e-7, roundoff=True) == "<1e-6"
    assert numbers.sig3(2e-6, roundoff=True) == "2e-06"
    assert numbers.sig3(math.nan, roundoff=True) == "nan"


def test_the_book_prints_numbers_with_the_same_function():
    from diffgen_lib import book

    assert book.sig3 is numbers.sig3


def test_mean_and_range_and_lists():
    assert numbers.mean_and_range([1.0, 2.0, 6.0]) == "3 (1 .. 6)"
    assert numbers.sig3_list([1.0, 0.12345, 1500.0]) == "1 0.123 1.5e+03"
