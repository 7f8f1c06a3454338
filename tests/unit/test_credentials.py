import pytest
from csms.domain.credentials import (
    WeakPassword,
    generate_password,
    hash_password,
    verify_password,
)


def test_the_right_password_verifies():
    stored = hash_password("correct horse battery")
    assert verify_password("correct horse battery", stored)


def test_a_wrong_password_does_not_verify():
    assert not verify_password("wrong horse battery!", hash_password("correct horse battery"))


def test_the_same_password_hashes_differently_each_time():
    assert hash_password("correct horse battery") != hash_password("correct horse battery")


def test_the_hash_does_not_contain_the_password():
    assert "correct horse battery" not in hash_password("correct horse battery")


def test_no_stored_hash_never_verifies():
    assert not verify_password("anything at all 123", None)


def test_a_corrupt_hash_never_verifies():
    assert not verify_password("correct horse battery", "scrypt$garbage")


@pytest.mark.parametrize("password", ["short", "x" * 41])
def test_passwords_outside_ocpp_lengths_are_refused(password):
    with pytest.raises(WeakPassword):
        hash_password(password)


def test_generated_passwords_fit_the_ocpp_limits():
    assert 16 <= len(generate_password()) <= 40
