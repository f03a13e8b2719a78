def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite the [out] sections of tests/golden/*.test with the current output")


def pytest_configure(config):
    # The compile cache goes to a folder of this run, not the user's cache (set
    # ITERC_CACHE_DIR yourself to keep one); subprocesses of the tests inherit it.
    import os
    import tempfile
    if "ITERC_CACHE_DIR" not in os.environ:
        config._iterc_cache_dir = tempfile.mkdtemp(prefix="iterc-test-cache-")
        os.environ["ITERC_CACHE_DIR"] = config._iterc_cache_dir


def pytest_unconfigure(config):
    import os
    import shutil
    folder = getattr(config, "_iterc_cache_dir", None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
        if os.environ.get("ITERC_CACHE_DIR") == folder:
            del os.environ["ITERC_CACHE_DIR"]
