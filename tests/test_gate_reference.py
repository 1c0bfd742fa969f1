"""--reference takes any native implementation an installed adapter declares."""

from conformance.gate.execute import reference_variants


def test_a_native_implementation_not_in_the_table_is_found_by_asking_its_adapter():
    # torch documents that a weighted mean of binary_cross_entropy_with_logits divides by the
    # number of elements, not by the sum of the weights: the variant its adapter declares.
    assert reference_variants("torch.nn.functional.binary_cross_entropy_with_logits") == ("mean_over_count",)


def test_the_ideal_and_the_table_need_no_adapter():
    assert reference_variants("ideal") == ()
    assert reference_variants("keras.losses.binary_crossentropy") == ("keras_clip",)


def test_an_oracle_variant_name_is_a_reference_too():
    assert reference_variants("torch_log_floor") == ("torch_log_floor",)
