"""Only what pyproject.toml cannot say: ship grammar/ and stdlib/ inside the wheel.

In the repository they are top-level folders (one source of truth, easy to browse);
in an installed package they live at iterc/_data/grammar and iterc/_data/stdlib, where
`iterc.syntax.parser.grammar_path()` and `iterc.api.stdlib_dir()` look first. They are
copied into the build folder, never into the source tree. An editable install skips the
copy: the code then finds the folders at the repository root.
"""
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

DATA_DIRS = ("grammar", "stdlib")
HERE = os.path.dirname(os.path.abspath(__file__))


def _ignore(folder, names):
    return [n for n in names if n.startswith(".") or n == "__pycache__" or n.endswith((".pyc", ".tmp"))]


class BuildPyWithData(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for name in DATA_DIRS:
            source = os.path.join(HERE, name)
            target = os.path.join(self.build_lib, "iterc", "_data", name)
            if not os.path.isdir(source):
                raise FileNotFoundError(f"{source} is missing: the wheel needs it")
            if os.path.isdir(target):
                shutil.rmtree(target)
            shutil.copytree(source, target, ignore=_ignore)

    def get_outputs(self, include_bytecode=True):
        outputs = list(super().get_outputs(include_bytecode))
        if getattr(self, "editable_mode", False):
            return outputs
        for name in DATA_DIRS:
            for folder, dirs, files in os.walk(os.path.join(HERE, name)):
                dirs[:] = [d for d in dirs if d not in _ignore(folder, dirs)]
                rel = os.path.relpath(folder, HERE)
                for f in files:
                    if f not in _ignore(folder, files):
                        outputs.append(os.path.join(self.build_lib, "iterc", "_data", rel, f))
        return outputs


setup(cmdclass={"build_py": BuildPyWithData})
