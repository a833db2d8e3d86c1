"""Packaging: everything is in pyproject.toml but the one package that lives outside ankigen/.

assets/ (card templates and CSS) stays at the top of the checkout and installs as
ankigen/assets; setuptools' package finder cannot map a folder from elsewhere, so it is added
here to the packages the finder discovers.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["ankigen", "ankigen.*"]), "ankigen.assets"],
    package_dir={"ankigen.assets": "assets"},
)
