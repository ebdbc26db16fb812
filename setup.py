"""Package layout: widgets/, kernels/ and templates/ live at the top level of the
repository (the design card's layout) and install as scs_nb.widgets,
scs_nb.kernels and scs_nb.templates. Metadata is in pyproject.toml."""

from setuptools import find_packages, setup

MAPPED = {
    "scs_nb.widgets": "widgets",
    "scs_nb.kernels": "kernels",
    "scs_nb.templates": "templates",
}

packages = find_packages(include=["scs_nb", "scs_nb.*"])
package_dir = {"scs_nb": "scs_nb"}
for name, folder in MAPPED.items():
    packages.append(name)
    package_dir[name] = folder
    packages += [f"{name}.{sub}" for sub in find_packages(folder)]

setup(packages=packages, package_dir=package_dir)
