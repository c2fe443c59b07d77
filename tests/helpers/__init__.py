"""What several test modules share: builders of scenes, bundles and input files, real servers and
a local Ray cluster on loopback, a fault-injecting STAC proxy, and readers of what a scan wrote.

Import from the module that holds a name (``from tests.helpers.scenes import write_scene``); the
fixtures built on these live in the ``conftest.py`` of the directory whose tests use them.
"""
