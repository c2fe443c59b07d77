"""oceanscan's tests; what they share is in :mod:`tests.helpers`."""

import pytest

# The shared modules' own asserts report their operands like the tests' do.
pytest.register_assert_rewrite("tests.helpers")
