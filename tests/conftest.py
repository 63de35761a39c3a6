import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from corpus import corpus_dir  # noqa: E402,F401  (session fixture shared by all tests)
