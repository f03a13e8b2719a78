def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite the [out] sections of tests/golden/*.test with the current output")
