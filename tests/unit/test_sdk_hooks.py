"""The tap overrides private singer-sdk methods (sdk_hooks.py). If an SDK upgrade renames or re-signs one, the
override would silently stop being called: this test fails first."""

from __future__ import annotations

import inspect

import pytest

from tap_openproject.sdk_hooks import PRIVATE_CALLS, PRIVATE_OVERRIDES, StreamHooks, TapHooks


@pytest.mark.parametrize(
    ("base", "name", "signature"), PRIVATE_OVERRIDES + PRIVATE_CALLS, ids=lambda v: getattr(v, "__name__", v)
)
def test_the_sdk_still_has_each_overridden_private_method_with_the_same_signature(base, name, signature):
    assert hasattr(base, name), f"singer-sdk no longer has {base.__name__}.{name}: review tap_openproject/sdk_hooks.py"
    assert str(inspect.signature(getattr(base, name))) == signature, (
        f"singer-sdk changed the signature of {base.__name__}.{name}: review tap_openproject/sdk_hooks.py"
    )


def test_every_private_override_is_listed():
    overridden = {
        (base, name)
        for hooks, base in ((StreamHooks, StreamHooks.__mro__[1]), (TapHooks, TapHooks.__mro__[1]))
        for name in vars(hooks)
        if name.startswith("_") and not name.startswith("__") and callable(getattr(hooks, name))
    }
    assert overridden == {(base, name) for base, name, _ in PRIVATE_OVERRIDES}
