"""Package layout that pyproject.toml cannot express: ``configs/`` and ``datasets/`` stay at
the repository root (where users look for them) and are shipped inside the wheel as
``eegkit/configs`` and ``eegkit/datasets``; all other metadata is in pyproject.toml.
"""

from setuptools import find_namespace_packages, find_packages, setup

# Every folder of configs is listed as a package of its own, so that setuptools copies it
# (it skips data in folders that are not packages) without installing it as code.
BUNDLED = {"eegkit.configs": "configs", "eegkit.datasets": "datasets"}
packages = find_packages(include=["eegkit", "eegkit.*"])
for name, folder in BUNDLED.items():
    packages += [name, *(f"{name}.{sub}" for sub in find_namespace_packages(folder))]

setup(
    packages=packages,
    package_dir={name: folder for name, folder in BUNDLED.items()},
    package_data={name: ["**/*.yaml", "**/*.md"] for name in BUNDLED},
)
