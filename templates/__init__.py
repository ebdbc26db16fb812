"""The how-to templates (parametrized notebooks), shipped as package data.

``scs-nb templates`` lists them; ``scs-nb run NAME`` runs one headless.
"""

from pathlib import Path

TEMPLATE_DIR = Path(__file__).resolve().parent
